"""Hypothesis strategies for OTIO timelines shaped like the ones our pipeline builds, and a
frame-exact comparison for write → read round trips. Shared by every interchange format's tests.

A generated timeline follows ``nle_adapters.plan_to_otio``'s conventions (docs/time.md):

- ``global_start_time`` is the start timecode in frames at the timeline rate; timeline metadata
  ``montage_bridge`` holds ``rate`` ("24000/1001"), ``start_timecode``, ``drop_frame``, width/height;
- every clip has an ``ExternalReference`` with a ``file://`` URL and an ``available_range`` in the
  media's own time (start = embedded start TC, at the media rate), metadata ``rate``;
- a clip's ``source_range.start_time`` is media time at the media rate, its ``duration`` is in
  timeline frames at the timeline rate (mixed-rate rule);
- markers live on clips, ``marked_range`` in media time at the media rate;
- transitions are SMPTE dissolves between two clips, offsets in timeline frames, with media
  handles on both sides.

Each feature can be switched off with :class:`Features` so a format that cannot hold it (EDL:
one rate per file, no markers colours, …) is only tested on what it can hold::

    from tests.interchange.timelines import Features, timelines, assert_same_timeline

    EDL = Features(max_video_tracks=1, mixed_rates=False)

    @given(timelines(EDL))
    def test_round_trip(tl):
        assert_same_timeline(tl, read(write(tl)), EDL)

The API (``Features`` fields, ``timelines``, ``assert_same_timeline``, ``describe_timeline``) is
kept stable: other branches merge this file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import opentimelineio as otio
from hypothesis import strategies as st

from kernel.timebase import (
    format_rate,
    frames_to_timecode,
    rate_from_float,
    rescale_frames,
    supports_drop_frame,
    timecode_to_frames,
)

META = "montage_bridge"

ALL_RATES: tuple[Fraction, ...] = (
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(48),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
)

# Start timecodes editors really use, plus an arbitrary one drawn per example.
COMMON_START_TCS: tuple[str, ...] = ("00:00:00:00", "01:00:00:00", "00:59:50:00", "10:00:00:00", "23:00:00:00")

PLAIN_NAMES: tuple[str, ...] = ("A001_C001", "A001_C002", "B002_C010", "interview", "broll_03", "music")
SPECIAL_NAMES: tuple[str, ...] = ("shot 1 & 2", "café <take>", 'O\'Brien "wide"', "夜景", "100% zoom")

FRAMES_PER_DAY_MAX = 24 * 3600 * 60


@dataclass(frozen=True)
class Features:
    """What a generated timeline may contain. Switch a field off for a format that cannot hold it.

    All frame counts are integers; durations are in timeline frames.
    """

    rates: tuple[Fraction, ...] = ALL_RATES
    drop_frame: bool = True  # 29.97/59.94 timelines may be DF (else always NDF)
    start_tc: bool = True  # timeline may start at a non-zero timecode
    media_start_tc: bool = True  # media may carry an embedded start TC
    mixed_rates: bool = True  # media rate may differ from the timeline rate
    max_video_tracks: int = 3
    max_audio_tracks: int = 3
    max_tracks: int = 6  # video + audio together (at least one video track always)
    max_clips_per_track: int = 6
    gaps: bool = True  # leading gaps and gaps between clips
    transitions: bool = True  # dissolves between clips on video tracks
    audio_transitions: bool = False  # dissolves on audio tracks too
    markers: bool = True  # markers on clips
    marker_colors: bool = True  # marker colour survives (else not compared)
    marker_names: bool = True  # marker name survives (else not compared)
    disabled_clips: bool = True  # clips with enabled=False
    special_names: bool = True  # spaces, &, <, quotes, non-ASCII in names and paths
    clip_names: bool = True  # clip names survive (else not compared)

    def without(self, *names: str, **changes: Any) -> Features:
        """A copy with the named boolean features off and other fields replaced:
        ``Features().without("transitions", "markers", max_video_tracks=1)``."""
        return dataclasses.replace(self, **{n: False for n in names}, **changes)


ALL_FEATURES = Features()


@dataclass(frozen=True)
class _Media:
    path: str
    name: str
    rate: Fraction
    start_frame: int  # embedded start TC, frames at the media rate
    frames: int  # media length, frames at the media rate
    has_video: bool


def _rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def _tr(start: int, duration: int, rate: Fraction) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_rt(start, rate), _rt(duration, rate))


@st.composite
def _start_frame(draw: st.DrawFn, rate: Fraction, drop_frame: bool, enabled: bool) -> int:
    if not enabled:
        return 0
    if draw(st.booleans()):
        tc = draw(st.sampled_from(COMMON_START_TCS))
        if drop_frame:
            tc = tc[:8] + ";" + tc[9:]
        return timecode_to_frames(tc, rate, drop_frame)
    # Any frame in the first 23 hours (a timeline must still fit before 24:00:00:00).
    day = int(23 * 3600 * rate)
    return draw(st.integers(min_value=0, max_value=day))


@st.composite
def _media_pool(draw: st.DrawFn, rate: Fraction, features: Features) -> list[_Media]:
    names = PLAIN_NAMES + (SPECIAL_NAMES if features.special_names else ())
    count = draw(st.integers(min_value=1, max_value=4))
    chosen = draw(st.lists(st.sampled_from(names), min_size=count, max_size=count, unique=True))
    pool: list[_Media] = []
    for index, name in enumerate(chosen):
        media_rate = draw(st.sampled_from(features.rates)) if features.mixed_rates else rate
        has_video = name != "music"
        start = draw(_start_frame(media_rate, False, features.media_start_tc))
        frames = draw(st.integers(min_value=400, max_value=6000))
        folder = "/media/shoot day 1" if features.special_names and index % 2 else "/media/card"
        suffix = ".mov" if has_video else ".wav"
        pool.append(_Media(f"{folder}/{name}{suffix}", f"{name}{suffix}", media_rate, start, frames, has_video))
    if not any(m.has_video for m in pool):
        pool.append(_Media("/media/card/fallback.mov", "fallback.mov", rate, 0, 2000, True))
    return pool


_COLORS = (
    otio.schema.MarkerColor.RED,
    otio.schema.MarkerColor.BLUE,
    otio.schema.MarkerColor.GREEN,
    otio.schema.MarkerColor.YELLOW,
    otio.schema.MarkerColor.PURPLE,
)


@st.composite
def _clip(
    draw: st.DrawFn,
    media: _Media,
    rate: Fraction,
    features: Features,
    head: int,
    tail: int,
    min_frames: int,
) -> otio.schema.Clip:
    """A clip of ``media`` lasting at least ``min_frames`` timeline frames, leaving ``head``/``tail``
    timeline frames of media handle before/after it (for transitions)."""
    head_m = rescale_frames(head, rate, media.rate) + 1
    tail_m = rescale_frames(tail, rate, media.rate) + 1
    # Longest duration (timeline frames) that fits in the media with its handles.
    usable_m = media.frames - head_m - tail_m
    max_tl = max(min_frames, min(300, rescale_frames(usable_m, media.rate, rate) - 1))
    duration = draw(st.integers(min_value=min_frames, max_value=max_tl))
    span_m = rescale_frames(duration, rate, media.rate)
    local_in = draw(st.integers(min_value=head_m, max_value=max(head_m, media.frames - tail_m - span_m)))
    clip = otio.schema.Clip(
        name=media.name,
        media_reference=otio.schema.ExternalReference(
            target_url=PurePosixPath(media.path).as_uri(),
            available_range=_tr(media.start_frame, media.frames, media.rate),
            metadata={META: {"rate": format_rate(media.rate)}},
        ),
        source_range=otio.opentime.TimeRange(_rt(media.start_frame + local_in, media.rate), _rt(duration, rate)),
        metadata={META: {"source_rate": format_rate(media.rate)}},
    )
    if features.disabled_clips and draw(st.integers(min_value=0, max_value=7)) == 0:
        clip.enabled = False
    if features.markers:
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            at = draw(st.integers(min_value=0, max_value=max(0, span_m - 1)))
            length = draw(st.sampled_from((0, 1)))
            clip.markers.append(
                otio.schema.Marker(
                    name=draw(st.sampled_from(("beat", "Marker 1", "check focus", "sync"))),
                    marked_range=_tr(media.start_frame + local_in + at, length, media.rate),
                    color=draw(st.sampled_from(_COLORS)) if features.marker_colors else otio.schema.MarkerColor.RED,
                )
            )
    return clip


@st.composite
def _track(
    draw: st.DrawFn, kind: str, index: int, rate: Fraction, pool: list[_Media], features: Features
) -> otio.schema.Track:
    is_video = kind == otio.schema.TrackKind.Video
    track = otio.schema.Track(name=f"{'V' if is_video else 'A'}{index}", kind=kind)
    candidates = [m for m in pool if m.has_video] if is_video else pool
    count = draw(st.integers(min_value=1, max_value=features.max_clips_per_track))
    allow_transitions = features.transitions and (is_video or features.audio_transitions)
    # Decide the joins first so each clip knows the handles its transitions need.
    joins: list[str] = []
    for _ in range(count - 1):
        options = ["cut"] + (["gap"] if features.gaps else []) + (["dissolve"] if allow_transitions else [])
        joins.append(draw(st.sampled_from(options)))
    offsets: list[tuple[int, int]] = [
        (draw(st.integers(0, 12)), draw(st.integers(0, 12))) if j == "dissolve" else (0, 0) for j in joins
    ]
    offsets = [(a, b) if a + b > 0 or joins[i] != "dissolve" else (a, 1) for i, (a, b) in enumerate(offsets)]
    if features.gaps and draw(st.booleans()):
        track.append(otio.schema.Gap(source_range=_tr(0, draw(st.integers(1, 200)), rate)))
    for i in range(count):
        # OTIO: a transition's in_offset overlaps the end of the outgoing clip and its out_offset the
        # start of the incoming one; during the dissolve the outgoing clip plays out_offset frames
        # past its out point and the incoming one in_offset frames before its in point (handles).
        incoming = offsets[i - 1] if i > 0 else (0, 0)
        outgoing = offsets[i] if i < count - 1 else (0, 0)
        media = draw(st.sampled_from(candidates))
        # Long enough to hold both transitions' halves (they may not overlap each other).
        min_frames = max(1, incoming[1] + outgoing[0])
        track.append(draw(_clip(media, rate, features, head=incoming[0], tail=outgoing[1], min_frames=min_frames)))
        if i < count - 1:
            if joins[i] == "gap":
                track.append(otio.schema.Gap(source_range=_tr(0, draw(st.integers(1, 200)), rate)))
            elif joins[i] == "dissolve":
                a, b = offsets[i]
                track.append(
                    otio.schema.Transition(
                        name="Cross Dissolve",
                        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                        in_offset=_rt(a, rate),
                        out_offset=_rt(b, rate),
                    )
                )
    return track


@st.composite
def timelines(draw: st.DrawFn, features: Features = ALL_FEATURES) -> otio.schema.Timeline:
    """An OTIO timeline built the way ``nle_adapters.plan_to_otio`` builds one (see module doc)."""
    rate = draw(st.sampled_from(features.rates))
    drop_frame = supports_drop_frame(rate) and features.drop_frame and draw(st.booleans())
    start = draw(_start_frame(rate, drop_frame, features.start_tc))
    pool = draw(_media_pool(rate, features))
    n_video = draw(st.integers(min_value=1, max_value=max(1, min(features.max_video_tracks, features.max_tracks))))
    audio_cap = min(features.max_audio_tracks, features.max_tracks - n_video)
    n_audio = draw(st.integers(min_value=0, max_value=max(0, audio_cap)))
    names = ("Montage", "Edit v2") + (("Cut & Paste <v3>", "Schnitt ä") if features.special_names else ())
    name = draw(st.sampled_from(names))
    timeline = otio.schema.Timeline(name=name)
    timeline.global_start_time = _rt(start, rate)
    timeline.metadata[META] = {
        "rate": format_rate(rate),
        "start_timecode": frames_to_timecode(start, rate, drop_frame),
        "drop_frame": drop_frame,
        "width": 1920,
        "height": 1080,
    }
    for i in range(1, n_video + 1):
        timeline.tracks.append(draw(_track(otio.schema.TrackKind.Video, i, rate, pool, features)))
    for i in range(1, n_audio + 1):
        timeline.tracks.append(draw(_track(otio.schema.TrackKind.Audio, i, rate, pool, features)))
    return timeline


# --------------------------------------------------------------------------------------------
# Comparison


def timeline_rate(timeline: otio.schema.Timeline) -> Fraction:
    """The exact timeline rate: metadata ``montage_bridge.rate`` when present, else from the float."""
    meta = timeline.metadata.get(META) or {}
    if "rate" in meta:
        return Fraction(str(meta["rate"]))
    if timeline.global_start_time is not None:
        return rate_from_float(timeline.global_start_time.rate)
    for track in timeline.tracks:
        for item in track:
            if isinstance(item, otio.core.Item) and item.source_range is not None:
                return rate_from_float(item.source_range.duration.rate)
    raise AssertionError(f"timeline {timeline.name!r} has no rate")


def frames_at(time: otio.opentime.RationalTime, rate: Fraction, what: str) -> int:
    """``time`` as a whole number of frames at ``rate``; fails when it is not on that frame grid."""
    exact = Fraction(time.value).limit_denominator(10**9) * rate / rate_from_float(time.rate)
    whole = round(exact)
    if abs(exact - whole) > Fraction(1, 1000):
        raise AssertionError(f"{what}: {time} is not a whole frame at {format_rate(rate)} fps ({float(exact)})")
    return int(whole)


def _path_of(url: str) -> str:
    parsed = urlparse(url)
    return unquote(parsed.path) if parsed.scheme == "file" else url


def _media_rate(clip: otio.schema.Clip) -> Fraction:
    ref = clip.media_reference
    meta = (ref.metadata.get(META) or {}) if ref is not None else {}
    if "rate" in meta:
        return Fraction(str(meta["rate"]))
    if isinstance(ref, otio.schema.ExternalReference) and ref.available_range is not None:
        return rate_from_float(ref.available_range.start_time.rate)
    return rate_from_float(clip.source_range.start_time.rate)


def describe_timeline(timeline: otio.schema.Timeline, features: Features = ALL_FEATURES) -> dict[str, Any]:
    """A plain, frame-exact description of everything ``features`` says a format must keep.

    Gaps are implied by the record positions of the items after them (trailing gaps are not kept:
    several formats have no way to write them); every time is an int of frames at its own rate.
    """
    rate = timeline_rate(timeline)
    meta = timeline.metadata.get(META) or {}
    start = frames_at(timeline.global_start_time, rate, "global_start_time") if timeline.global_start_time else 0
    out: dict[str, Any] = {"rate": format_rate(rate), "start": start}
    if features.drop_frame and supports_drop_frame(rate):
        out["drop_frame"] = bool(meta.get("drop_frame", False))
    for kind, tracks in (("video", timeline.video_tracks()), ("audio", timeline.audio_tracks())):
        described = []
        for t_index, track in enumerate(tracks):
            items: list[dict[str, Any]] = []
            position = 0
            for child in track:
                where = f"{kind} track {t_index + 1} item {len(items) + 1}"
                if isinstance(child, otio.schema.Transition):
                    items.append(
                        {
                            "transition": True,
                            "cut": position,
                            "in": frames_at(child.in_offset, rate, where + " in_offset"),
                            "out": frames_at(child.out_offset, rate, where + " out_offset"),
                        }
                    )
                    continue
                duration = frames_at(child.source_range.duration, rate, where + " duration")
                if isinstance(child, otio.schema.Clip):
                    media_rate = _media_rate(child)
                    ref = child.media_reference
                    entry: dict[str, Any] = {
                        "record_in": position,
                        "duration": duration,
                        "media_rate": format_rate(media_rate),
                        "source_in": frames_at(child.source_range.start_time, media_rate, where + " source in"),
                        "path": _path_of(ref.target_url) if isinstance(ref, otio.schema.ExternalReference) else None,
                    }
                    if isinstance(ref, otio.schema.ExternalReference) and ref.available_range is not None:
                        avail = ref.available_range
                        entry["media_start"] = frames_at(avail.start_time, media_rate, where + " media start")
                        entry["media_frames"] = frames_at(avail.duration, media_rate, where + " media duration")
                    if features.clip_names:
                        entry["name"] = child.name
                    if features.disabled_clips:
                        entry["enabled"] = bool(child.enabled)
                    if features.markers:
                        marks = []
                        for m in child.markers:
                            mark: dict[str, Any] = {
                                "at": frames_at(m.marked_range.start_time, media_rate, where + " marker"),
                                "length": frames_at(m.marked_range.duration, media_rate, where + " marker length"),
                            }
                            if features.marker_names:
                                mark["name"] = m.name
                            if features.marker_colors:
                                mark["color"] = m.color
                            marks.append(mark)
                        entry["markers"] = sorted(marks, key=lambda m: (m["at"], m["length"], str(m)))
                    items.append(entry)
                position += duration
            described.append(items)
        out[kind] = described
    return out


def assert_same_timeline(expected: otio.schema.Timeline, actual: otio.schema.Timeline, features: Features) -> None:
    """Assert ``actual`` (read back) equals ``expected`` (written) frame for frame, on every feature
    in ``features``. The first differing field is named in the failure message."""
    want = describe_timeline(expected, features)
    got = describe_timeline(actual, features)
    for key in ("rate", "start", "drop_frame"):
        assert got.get(key) == want.get(key), f"timeline {key}: expected {want.get(key)!r}, got {got.get(key)!r}"
    for kind in ("video", "audio"):
        assert len(got[kind]) == len(want[kind]), f"{kind} tracks: expected {len(want[kind])}, got {len(got[kind])}"
        for t_index, (w_items, g_items) in enumerate(zip(want[kind], got[kind])):
            label = f"{kind} track {t_index + 1}"
            assert len(g_items) == len(w_items), (
                f"{label}: expected {len(w_items)} items, got {len(g_items)}:\n{w_items}\n{g_items}"
            )
            for i_index, (w, g) in enumerate(zip(w_items, g_items)):
                assert g == w, f"{label} item {i_index + 1}:\n expected {w}\n      got {g}"
