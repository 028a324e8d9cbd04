"""Exact facts about an OTIO timeline that every writer needs: rates, start, DF, per-clip media time.

OTIO stores rates as floats; we recover exact rational rates from ``metadata["montage_bridge"]``
(written by our readers and by ``plan_to_otio``) or from the float via ``rate_from_float``.
All counts returned here are integer frames; ranges are half-open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import opentimelineio as otio

from kernel.media_url import url_to_path
from kernel.timebase import format_rate, parse_rate, rate_from_float, round_half_up, supports_drop_frame

META = "montage_bridge"


def rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    """A RationalTime of ``frames`` at the exact ``rate`` (stored as float, as OTIO does)."""
    return otio.opentime.RationalTime(frames, float(rate))


def time_range(
    start: int, duration: int, rate: Fraction, duration_rate: Fraction | None = None
) -> otio.opentime.TimeRange:
    """A TimeRange from integer frames; ``duration_rate`` lets the duration use the timeline rate."""
    return otio.opentime.TimeRange(rt(start, rate), rt(duration, duration_rate or rate))


@lru_cache(maxsize=256)
def exact_rate(value: float) -> Fraction:
    """Exact rate for an OTIO float rate (cached: timelines repeat a handful of rates)."""
    return rate_from_float(value)


@lru_cache(maxsize=256)
def parse_rate_cached(text: str) -> Fraction:
    """:func:`kernel.timebase.parse_rate` for metadata strings, cached."""
    return parse_rate(text)


def frames_at(time: otio.opentime.RationalTime, rate: Fraction) -> int:
    """``time`` as an integer frame count at ``rate`` (nearest frame, half up)."""
    value = time.value
    as_float = rate.numerator / rate.denominator
    if time.rate == as_float or abs(time.rate - as_float) < 1e-9:
        whole = int(value)
        if whole == value:
            return whole  # the common case: already a whole frame at this rate
        return round_half_up(Fraction(value).limit_denominator(1000))
    if time.rate <= 0:
        return 0
    return round_half_up(Fraction(value).limit_denominator(1000) / exact_rate(time.rate) * rate)


def meta_view(obj: otio.core.SerializableObject) -> Mapping[str, Any]:
    """``obj.metadata["montage_bridge"]`` to read ({} when absent or not a mapping): the live value, so
    do not change it (:func:`our_meta` gives a copy). Uses ``in`` rather than ``.get``: OTIO's
    AnyDictionary ``.get`` raises and catches KeyError internally, which is slow."""
    try:
        metadata = obj.metadata
    except AttributeError:
        return {}
    # len() first: a membership miss on an AnyDictionary costs a C++ exception (~40 µs).
    if not len(metadata) or META not in metadata:
        return {}
    value = metadata[META]
    return value if hasattr(value, "keys") else {}


@dataclass(frozen=True)
class TimelineTime:
    """A timeline's exact rate, start frame and timecode flavour."""

    rate: Fraction
    start_frame: int
    drop_frame: bool


def timeline_rate(timeline: otio.schema.Timeline) -> Fraction:
    """The timeline's exact rate: our metadata, else the start time's rate, else the first item's."""
    meta = meta_view(timeline)
    if "rate" in meta and meta["rate"]:
        return parse_rate_cached(str(meta["rate"]))
    if timeline.global_start_time is not None and timeline.global_start_time.rate > 0:
        return exact_rate(timeline.global_start_time.rate)
    for item in timeline.find_children():
        if isinstance(item, (otio.schema.Clip, otio.schema.Gap)) and item.source_range is not None:
            if item.source_range.duration.rate > 0:
                return exact_rate(item.source_range.duration.rate)
    return Fraction(24)


def drop_frame_rule(rate: Fraction, stated: bool | None) -> bool:
    """THE drop-frame decision (DESIGN.md Time rule 3), used by every writer for every timecode it writes.

    ``stated`` is what the source said (``None``: it said nothing). Drop-frame counting exists only at
    29.97/59.94/119.88, so other rates are always NDF; at those rates the source's choice wins, and a
    source that says nothing gets DF (the broadcast habit, and what Avid, Premiere and Resolve default
    to for these rates). FCPXML ``tcFormat``, xmeml ``displayformat``, the EDL ``FCM`` line and ``;``
    separators, and OTIO metadata therefore all agree for the same input.
    """
    if not supports_drop_frame(rate):
        return False
    return True if stated is None else bool(stated)


def stated_drop_frame(obj: otio.core.SerializableObject) -> bool | None:
    """What ``obj``'s metadata says about drop-frame counting: True, False, or None when it says nothing.

    Our readers and ``plan_to_otio`` store ``drop_frame``; a ``start_timecode`` with a ``;`` also says DF.
    """
    meta = meta_view(obj)
    if "drop_frame" in meta and meta["drop_frame"] is not None:
        return bool(meta["drop_frame"])
    if "start_timecode" in meta and ";" in str(meta["start_timecode"] or ""):
        return True
    return None


def timeline_time(timeline: otio.schema.Timeline) -> TimelineTime:
    """Rate, start frame (from ``global_start_time``) and DF flag (:func:`drop_frame_rule`) for ``timeline``."""
    rate = timeline_rate(timeline)
    start = 0
    if timeline.global_start_time is not None:
        start = frames_at(timeline.global_start_time, rate)
    return TimelineTime(rate, start, drop_frame_rule(rate, stated_drop_frame(timeline)))


def media_rate(clip: otio.schema.Clip, fallback: Fraction) -> Fraction:
    """The exact rate of ``clip``'s media: metadata first, then the source start's float rate."""
    meta = meta_view(clip)
    if "source_rate" in meta and meta["source_rate"]:
        return parse_rate_cached(str(meta["source_rate"]))
    ref = clip.media_reference
    ref_meta = meta_view(ref) if ref is not None else {}
    if "rate" in ref_meta and ref_meta["rate"]:
        return parse_rate_cached(str(ref_meta["rate"]))
    if clip.source_range is not None and clip.source_range.start_time.rate > 0:
        return exact_rate(clip.source_range.start_time.rate)
    if ref is not None and ref.available_range is not None and ref.available_range.start_time.rate > 0:
        return exact_rate(ref.available_range.start_time.rate)
    return fallback


@dataclass(frozen=True)
class ClipTime:
    """A clip's source in point (media frames incl. start TC), record duration (timeline frames),
    its media rate, and the media's available range when known (media frames)."""

    source_in: int
    duration: int
    rate: Fraction
    media_start: int | None
    media_frames: int | None


def clip_time(clip: otio.schema.Clip, timeline_rate_: Fraction) -> ClipTime:
    """Exact source in (media frames) and duration (timeline frames) for ``clip``."""
    rate = media_rate(clip, timeline_rate_)
    ref = clip.media_reference
    available = ref.available_range if ref is not None else None
    source_range = clip.source_range
    media_start = (
        frames_at(available.start_time, rate) if available is not None and available.start_time.rate > 0 else None
    )
    media_frames = (
        frames_at(available.duration, rate) if available is not None and available.duration.rate > 0 else None
    )
    if source_range is not None:
        source_in = frames_at(source_range.start_time, rate)
        duration = frames_at(source_range.duration, timeline_rate_)
    elif available is not None:
        source_in = media_start or 0
        duration = frames_at(available.duration, timeline_rate_)
    else:
        source_in, duration = 0, 0
    return ClipTime(source_in, duration, rate, media_start, media_frames)


def media_drop_frame(
    clip: otio.schema.Clip, rate: Fraction, timeline: TimelineTime, timeline_stated: bool | None
) -> bool:
    """Whether ``clip``'s media (at its exact ``rate``) counts its own timecode drop-frame.

    :func:`drop_frame_rule` with what the media reference (or the clip) says; media that say nothing
    at the timeline's own rate follow what the timeline says (readers record only the exceptions).
    """
    ref = clip.media_reference
    stated = stated_drop_frame(ref) if ref is not None else None
    if stated is None:
        stated = stated_drop_frame(clip)
    if stated is None and rate == timeline.rate:
        stated = timeline_stated
    return drop_frame_rule(rate, stated)


def stamp_drop_frame(timeline: otio.schema.Timeline) -> None:
    """Write the rule's choice into ``timeline.metadata["montage_bridge"]["drop_frame"]`` (for OTIO output,
    whose writer copies metadata as is). Call it on a copy: it changes ``timeline``."""
    time = timeline_time(timeline)
    if META not in timeline.metadata or not hasattr(timeline.metadata[META], "keys"):
        timeline.metadata[META] = {}
    timeline.metadata[META]["drop_frame"] = time.drop_frame


def media_url(clip: otio.schema.Clip) -> str | None:
    """``clip``'s media URL, or None for missing/generator references."""
    ref = clip.media_reference
    if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
        return ref.target_url
    return None


__all__ = [
    "META",
    "ClipTime",
    "TimelineTime",
    "clip_time",
    "drop_frame_rule",
    "format_rate",
    "frames_at",
    "media_drop_frame",
    "media_rate",
    "media_url",
    "meta_view",
    "our_meta",
    "rt",
    "stamp_drop_frame",
    "stated_drop_frame",
    "time_range",
    "timeline_rate",
    "timeline_time",
    "url_to_path",
]


def our_meta(obj: otio.core.SerializableObject) -> dict[str, Any]:
    """``obj.metadata["montage_bridge"]`` as a plain dict copy ({} when absent), safe to keep and change."""
    return dict(meta_view(obj))
