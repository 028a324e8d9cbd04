"""OTIO adapter ``mb_resolve_otio``: OTIO JSON shaped for DaVinci Resolve's ImportTimelineFromFile."""

from __future__ import annotations

from nle_adapters.resolve_otio import read_resolve_otio, write_resolve_otio


def read_from_string(input_str: str):
    """OTIO JSON (Resolve's or ours) → Timeline with timeline-rate clip durations."""
    return read_resolve_otio(input_str)


def write_to_string(input_otio) -> str:
    """Timeline → Resolve-shaped OTIO JSON (bare paths, timecode-absolute media-rate source ranges)."""
    return write_resolve_otio(input_otio)
