"""Refuse timelines whose numbers no NLE accepts, right after reading them.

Where the user meets it: ``montage-bridge convert`` and every other reader entry point
(:func:`nle_adapters.convert.read_timelines`). A reader that parses a file faithfully can still
hand back nonsense: a rate of 0, a time of 1e308 s, a duration of 2**64 frames. Written out, these
became 300-digit EDL hours and xmeml durations with exit 0. Every rate, time and speed in the
timeline is checked here, and the first bad one is named with the clip and track it belongs to.
"""

from __future__ import annotations

import math

import opentimelineio as otio

from kernel.timebase import MAX_RATE
from nle_adapters.errors import TimelineParseError

MAX_SECONDS = 48 * 3600
"""Largest time (seconds) accepted anywhere in a timeline: timecode wraps at 24 h, and media that
starts late in the day and runs past midnight stays well inside two days."""
MAX_SPEED = 1000.0
"""Largest speed factor (absolute) of a retimed clip."""


def _label(item: otio.core.SerializableObject) -> str:
    kind = type(item).__name__.lower()
    name = getattr(item, "name", "") or "(unnamed)"
    parent = item.parent() if hasattr(item, "parent") else None
    where = f" on track '{parent.name or '(unnamed)'}'" if isinstance(parent, otio.schema.Track) else ""
    return f"{kind} '{name}'{where}"


def _check_time(value: otio.opentime.RationalTime | None, what: str, source: str) -> None:
    if value is None:
        return
    rate, frames = value.rate, value.value
    if not (math.isfinite(rate) and 0 < rate <= MAX_RATE):
        raise TimelineParseError(source, f"{what}: rate {rate!r} is not usable (expected 0-{MAX_RATE} per second)")
    if not math.isfinite(frames) or abs(frames / rate) > MAX_SECONDS:
        raise TimelineParseError(
            source, f"{what}: time {frames!r} frames at {rate:g} fps is beyond {MAX_SECONDS // 3600} hours"
        )


def _check_range(span: otio.opentime.TimeRange | None, what: str, source: str) -> None:
    if span is None:
        return
    _check_time(span.start_time, f"{what} start", source)
    _check_time(span.duration, f"{what} duration", source)
    if span.duration.value < 0:
        raise TimelineParseError(source, f"{what} has a negative duration ({span.duration.value:g} frames)")


def check_timeline_sanity(timeline: otio.schema.Timeline, source: str) -> None:
    """Raise :class:`TimelineParseError` (naming ``source`` and the item) if any rate, time or
    speed in ``timeline`` is outside what an NLE accepts; return ``None`` when all are usable."""
    _check_time(timeline.global_start_time, f"timeline '{timeline.name}' start", source)
    for item in timeline.find_children():
        label = _label(item)
        if isinstance(item, otio.schema.Transition):
            _check_time(item.in_offset, f"{label} in offset", source)
            _check_time(item.out_offset, f"{label} out offset", source)
            continue
        _check_range(item.source_range, label, source)
        ref = getattr(item, "media_reference", None)
        if (
            isinstance(item, otio.schema.Clip)
            and item.source_range is None
            and (ref is None or ref.available_range is None)
        ):
            # Its length is unknown: every writer and NLE needs one (found by tests/fuzz).
            raise TimelineParseError(
                source,
                f"{label} has neither a source range nor media with a known length",
                hint="give it a source range",
            )
        if ref is not None:
            _check_range(ref.available_range, f"{label} media", source)
        for marker in getattr(item, "markers", []):
            _check_range(marker.marked_range, f"marker '{marker.name}' on {label}", source)
        for effect in getattr(item, "effects", []):
            scalar = getattr(effect, "time_scalar", None)
            if scalar is not None and not (math.isfinite(scalar) and abs(scalar) <= MAX_SPEED):
                raise TimelineParseError(source, f"{label}: speed {scalar!r} is not usable")
    for track in timeline.tracks:
        for marker in track.markers:
            _check_range(marker.marked_range, f"marker '{marker.name}' on track '{track.name}'", source)
