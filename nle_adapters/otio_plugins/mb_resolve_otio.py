"""OTIO adapter ``mb_resolve_otio``: OTIO JSON shaped for DaVinci Resolve's ImportTimelineFromFile."""

from __future__ import annotations

from nle_adapters.resolve_otio import read_resolve_otio, write_resolve_otio


def read_from_string(input_str: str):
    """OTIO JSON (Resolve's or ours) → Timeline with timeline-rate clip durations."""
    return read_resolve_otio(input_str)


def write_to_string(input_otio) -> str:
    """Timeline → Resolve-shaped OTIO JSON: Clip.2 with a media_references map, an available_range on
    each reference, bare-path target_url, source ranges starting at the media's timecode origin (its rate),
    lengths in timeline frames. ``resolve_import_problems`` checks a file against these rules."""
    return write_resolve_otio(input_otio)
