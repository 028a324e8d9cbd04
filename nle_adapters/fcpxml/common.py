"""Helpers shared by the FCPXML reader and writer: exact rates from OTIO objects, frame counts."""

from __future__ import annotations

import functools
from fractions import Fraction

import opentimelineio as otio

from kernel.timebase import rate_from_float, seconds_to_frames
from nle_adapters.timeline_facts import media_rate as facts_media_rate
from nle_adapters.timeline_facts import meta_view

META = "montage_bridge"
FCPXML_META = "fcpxml"

READ_VERSIONS: tuple[str, ...] = ("1.8", "1.9", "1.10", "1.11", "1.12", "1.13")
WRITE_VERSIONS: tuple[str, ...] = ("1.8", "1.9", "1.10", "1.11")
DEFAULT_WRITE_VERSION = "1.10"

CROSS_DISSOLVE_UID = "FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265"


@functools.lru_cache(maxsize=512)
def exact_rate(rate: float) -> Fraction:
    """OTIO's float rate → the exact rate (cached: a timeline has only a handful of rates)."""
    return rate_from_float(rate)


def exact_seconds(time: otio.opentime.RationalTime) -> Fraction:
    """A RationalTime as exact rational seconds (its float rate mapped to the exact NTSC rate)."""
    value = time.value
    exact = Fraction(int(value)) if value.is_integer() else Fraction(value).limit_denominator(1_000_000)
    return exact / exact_rate(time.rate)


def frames_of(time: otio.opentime.RationalTime, rate: Fraction) -> int:
    """A RationalTime as whole frames at ``rate`` (half up when it falls between frames)."""
    value = time.value
    if value.is_integer() and exact_rate(time.rate) == rate:
        return int(value)  # the common case: already whole frames at this rate
    return seconds_to_frames(exact_seconds(time), rate)


def timeline_rate(timeline: otio.schema.Timeline) -> Fraction | None:
    """Exact timeline rate: ``metadata.montage_bridge.rate``, else the ``global_start_time`` rate,
    else the first item's duration rate; None for a timeline with no timed content."""
    meta = meta_view(timeline)
    if meta.get("rate"):
        return Fraction(str(meta["rate"]))
    if timeline.global_start_time is not None:
        return rate_from_float(timeline.global_start_time.rate)
    for clip in timeline.find_children(descended_from_type=None, shallow_search=False):
        if isinstance(clip, otio.core.Item) and clip.source_range is not None:
            return rate_from_float(clip.source_range.duration.rate)
    return None


def media_rate(clip: otio.schema.Clip, fallback: Fraction) -> Fraction:
    """Exact rate of a clip's media: the one rule every writer uses (:func:`timeline_facts.media_rate`).

    The FCPXML writer once had its own order (the available range's rate before the source range's),
    so an AAF clip whose source range is at 29.97 and whose master mob says 23.976 came back from
    FCPXML at 23.976 while the EDL and xmeml writers labelled it 29.97."""
    return facts_media_rate(clip, fallback)
