"""Deterministic edge-case timelines for the interchange matrix (issue #11 "Done when").

:func:`build` makes one OTIO timeline from an :class:`EdgeCase`, laid out the way
``nle_adapters.plan_to_otio`` lays out a plan (DESIGN.md time rules):

- ``global_start_time`` is the start timecode in frames at the timeline rate, and timeline metadata
  ``montage_bridge`` holds the exact ``rate``, ``start_timecode`` and the explicit ``drop_frame``;
- every clip has an ``ExternalReference`` (``file://`` URL) whose ``available_range`` is the media's
  own time: it starts at the media's embedded start timecode, at the media rate;
- a clip's ``source_range.start_time`` is media time at the media rate, its ``duration`` timeline
  frames at the timeline rate (the mixed-rate rule);
- markers sit on clips in media time; dissolves are centred SMPTE dissolves with media handles;
- speed is a ``LinearTimeWarp`` on the clip.

Unlike the hypothesis strategies in :mod:`tests.interchange.timelines`, these are fixed: the same
case id always builds the same timeline, so the matrix is a table of named cases (and the docs
table can be regenerated from it). Every frame count here is an integer; ``Fraction`` rates only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import PurePosixPath

import opentimelineio as otio

from kernel.timebase import format_rate, frames_to_timecode, rescale_frames, timecode_to_frames

META = "montage_bridge"

NTSC24, NTSC30, NTSC60 = Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)


@dataclass(frozen=True)
class RateSpec:
    """A timeline rate and its timecode flavour; ``label`` names it in test ids and the docs table."""

    label: str
    rate: Fraction
    drop_frame: bool


# The rate list: 23.976/24/25/29.97 DF+NDF/30/50/59.94 DF+NDF/60.
RATES: tuple[RateSpec, ...] = (
    RateSpec("23.976", NTSC24, False),
    RateSpec("24", Fraction(24), False),
    RateSpec("25", Fraction(25), False),
    RateSpec("29.97DF", NTSC30, True),
    RateSpec("29.97NDF", NTSC30, False),
    RateSpec("30", Fraction(30), False),
    RateSpec("50", Fraction(50), False),
    RateSpec("59.94DF", NTSC60, True),
    RateSpec("59.94NDF", NTSC60, False),
    RateSpec("60", Fraction(60), False),
)
RATE_BY_LABEL = {r.label: r for r in RATES}

# Start timecodes (NDF spelling; DF timelines use ';' before the frames).
STARTS: tuple[str, ...] = ("00:00:00:00", "01:00:00:00", "23:59:50:00")


@dataclass(frozen=True)
class Media:
    """One source file: its exact rate, embedded start TC (frames at its rate) and length (frames)."""

    path: str
    rate: Fraction
    start_frame: int
    frames: int
    has_video: bool = True

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def url(self) -> str:
        return PurePosixPath(self.path).as_uri()


@dataclass(frozen=True)
class EdgeCase:
    """What one generated timeline holds. Durations are in seconds of timeline time (whole frames
    are derived per rate), so the same case shape works at every rate."""

    id: str
    rate: RateSpec
    start_tc: str = "01:00:00:00"
    video_tracks: int = 1
    audio_tracks: int = 1
    clips_per_track: int = 3
    clip_seconds: int = 4
    mixed_rates: bool = False  # V1 cuts between media at other rates (25p city, 29.97 DF interview)
    dissolves: bool = False  # centred dissolves between V1 clips
    markers: bool = False  # markers on V1 clips (with and without duration, several colours)
    speed: bool = False  # the middle V1 clip plays at 2x
    audio_only: bool = False  # audio tracks only
    leading_gap_frames: int = 0  # a gap at the head of V1
    features: frozenset[str] = field(default_factory=frozenset)  # properties it exercises (docs table)

    @property
    def start_frame(self) -> int:
        """The timeline's start TC in frames at its rate."""
        return _tc_frames(self.start_tc, self.rate.rate, self.rate.drop_frame)


def _rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def _range(start: int, duration: int, rate: Fraction, duration_rate: Fraction | None = None) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_rt(start, rate), _rt(duration, duration_rate or rate))


def _frames(seconds: int, rate: Fraction) -> int:
    return int(seconds * rate)  # whole seconds × rate; NTSC rates round down to a whole frame


def _tc_frames(tc: str, rate: Fraction, drop_frame: bool) -> int:
    """Frames at ``rate`` for the label ``tc`` (given with colons) counted DF or NDF."""
    return timecode_to_frames(tc[:8] + (";" if drop_frame else ":") + tc[9:], rate, drop_frame)


def media_pool(case: EdgeCase) -> list[Media]:
    """The case's source files. Camera media carries time-of-day start TCs, as real cameras do."""
    rate, drop = case.rate.rate, case.rate.drop_frame
    length = _frames(max(60, case.clip_seconds * (case.clips_per_track + 2)), rate)
    # Media at the timeline rate counts its TC the way the timeline does (a DF camera, a DF edit).
    pool = [
        Media("/media/card A/A001_C001.mov", rate, _tc_frames("10:00:00:00", rate, drop), length),
        Media("/media/card A/A001_C002 & take 2.mov", rate, _tc_frames("11:30:00:00", rate, drop), length),
    ]
    if case.mixed_rates:
        city = Fraction(25)
        interview = NTSC30
        pool = [
            pool[0],
            Media("/media/city/CITY_25.mov", city, timecode_to_frames("10:00:00:00", city), _frames(600, city)),
            Media(
                "/media/interview/INT_2997DF.mov",
                interview,
                timecode_to_frames("14:23:10;12", interview, True),
                _frames(600, interview),
            ),
        ]
    return pool


def _music(case: EdgeCase) -> Media:
    rate = case.rate.rate
    seconds = case.clip_seconds * case.clips_per_track + 10  # the bed outlasts the edit
    return Media("/media/music/bed.wav", rate, 0, _frames(seconds, rate), has_video=False)


def _clip(media: Media, case: EdgeCase, local_in: int, duration: int) -> otio.schema.Clip:
    """``media`` from ``local_in`` (media frames after its start TC) for ``duration`` timeline frames."""
    rate = case.rate.rate
    return otio.schema.Clip(
        name=media.name,
        media_reference=otio.schema.ExternalReference(
            target_url=media.url,
            available_range=_range(media.start_frame, media.frames, media.rate),
            metadata={META: {"rate": format_rate(media.rate), "has_video": media.has_video, "has_audio": True}},
        ),
        source_range=_range(media.start_frame + local_in, duration, media.rate, rate),
        metadata={META: {"source_rate": format_rate(media.rate)}},
    )


_MARKER_COLORS = (otio.schema.MarkerColor.RED, otio.schema.MarkerColor.BLUE, otio.schema.MarkerColor.GREEN)


def _video_track(case: EdgeCase, index: int, pool: list[Media]) -> otio.schema.Track:
    rate = case.rate.rate
    track = otio.schema.Track(name=f"V{index}", kind=otio.schema.TrackKind.Video)
    if index == 1 and case.leading_gap_frames:
        track.append(otio.schema.Gap(source_range=_range(0, case.leading_gap_frames, rate)))
    duration = _frames(case.clip_seconds, rate)
    handle = _frames(1, rate)  # one second of media before every in point, for dissolves
    for n in range(case.clips_per_track):
        media = pool[(n + index - 1) % len(pool)]
        # Different in points per clip and track: no two clips share a source range by accident.
        local_in = rescale_frames(handle + n * duration + (index - 1) * 7 + n, rate, media.rate)
        if n and case.dissolves and index == 1:
            frames = 12 + (n % 2)  # even and odd lengths: both centre the same way everywhere
            track.append(
                otio.schema.Transition(
                    name="Cross Dissolve",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=_rt(frames // 2, rate),
                    out_offset=_rt(frames - frames // 2, rate),
                )
            )
        clip = _clip(media, case, local_in, duration)
        if case.speed and index == 1 and n == 1:
            clip.effects.append(otio.schema.LinearTimeWarp(name="speed", time_scalar=2.0))
        if case.markers and index == 1:
            span = rescale_frames(duration, rate, media.rate)
            for k, (at, length) in enumerate(((span // 4, 0), (span // 2, rescale_frames(1, rate, media.rate)))):
                clip.markers.append(
                    otio.schema.Marker(
                        name=f"note {n + 1}.{k + 1}",
                        marked_range=_range(media.start_frame + local_in + at, length, media.rate),
                        color=_MARKER_COLORS[(n + k) % len(_MARKER_COLORS)],
                    )
                )
        track.append(clip)
    return track


def _audio_track(case: EdgeCase, index: int, pool: list[Media]) -> otio.schema.Track:
    rate = case.rate.rate
    track = otio.schema.Track(name=f"A{index}", kind=otio.schema.TrackKind.Audio)
    total = _frames(case.clip_seconds, rate) * case.clips_per_track
    if index == 1:
        # A1: the music bed under the whole edit, as plan_to_otio builds it (music time, timeline rate).
        music = _music(case)
        track.append(_clip(music, case, _frames(2, rate), total))
        return track
    # A2…: a clip's own sound, offset by a few frames per track (a J/L cut shape).
    media = pool[(index - 2) % len(pool)]
    lead = 5 * index
    track.append(otio.schema.Gap(source_range=_range(0, lead, rate)))
    local_in = rescale_frames(_frames(1, rate) + 3 * index, rate, media.rate)
    track.append(_clip(media, case, local_in, total - lead - 5))
    return track


def build(case: EdgeCase) -> otio.schema.Timeline:
    """The OTIO timeline for ``case`` (see the module doc for the layout)."""
    rate = case.rate.rate
    pool = media_pool(case)
    timeline = otio.schema.Timeline(name=f"Edge {case.id}")
    timeline.global_start_time = _rt(case.start_frame, rate)
    timeline.metadata[META] = {
        "rate": format_rate(rate),
        "start_timecode": frames_to_timecode(case.start_frame, rate, case.rate.drop_frame),
        "drop_frame": case.rate.drop_frame,
        "width": 1920,
        "height": 1080,
    }
    if not case.audio_only:
        for index in range(1, case.video_tracks + 1):
            timeline.tracks.append(_video_track(case, index, pool))
    for index in range(1, case.audio_tracks + 1):
        timeline.tracks.append(_audio_track(case, index, pool))
    return timeline


def _case(id_: str, rate: str = "25", *features: str, **fields: object) -> EdgeCase:
    return EdgeCase(id=id_, rate=RATE_BY_LABEL[rate], features=frozenset(features), **fields)  # type: ignore[arg-type]


def grid_cases() -> list[EdgeCase]:
    """Every rate × every start TC: one video track, one music track, three cuts."""
    cases = []
    for spec in RATES:
        for start in STARTS:
            name = f"{spec.label}@{start.replace(':', '')}"
            features = {"rates exact", "start TC"} | ({"DF"} if spec.rate in (NTSC30, NTSC60) else set())
            cases.append(_case(name, spec.label, *features, start_tc=start))
    return cases


def feature_cases() -> list[EdgeCase]:
    """One case per feature the issue lists, each at a rate where it is hardest (NTSC/DF)."""
    return [
        _case("mixed-rates", "23.976", "rates exact", "mixed rates", mixed_rates=True),
        _case("mixed-rates-df", "29.97DF", "rates exact", "mixed rates", "DF", mixed_rates=True),
        _case("3v4a", "29.97DF", "multi-track", "audio", "DF", video_tracks=3, audio_tracks=4),
        _case("dissolves", "23.976", "transitions", dissolves=True, clips_per_track=4),
        _case("dissolves-59.94DF", "59.94DF", "transitions", "DF", dissolves=True),
        _case("markers", "29.97NDF", "markers", markers=True),
        _case("markers-25", "25", "markers", markers=True, start_tc="00:00:00:00"),
        _case("speed", "24", "speed", speed=True),
        _case("audio-only", "25", "audio", audio_only=True, audio_tracks=2),
        _case("leading-gap", "25", "start TC", leading_gap_frames=37),
        # Ten hours in 36 ten-minute cuts, ending 11:00:00:00 and crossing no midnight.
        _case("10-hours", "29.97DF", "long timeline", "DF", clips_per_track=36, clip_seconds=1000),
        _case("10-hours-23.976", "23.976", "long timeline", clips_per_track=36, clip_seconds=1000),
    ]


def representative_cases() -> list[EdgeCase]:
    """The subset every format pair runs on: each feature once, NTSC and integer rates, DF and NDF."""
    grid = {c.id: c for c in grid_cases()}
    features = {c.id: c for c in feature_cases()}
    return [
        grid["23.976@01000000"],
        grid["29.97DF@23595000"],
        grid["59.94NDF@00000000"],
        grid["50@01000000"],
        features["mixed-rates-df"],
        features["3v4a"],
        features["dissolves"],
        features["markers"],
        features["speed"],
        features["audio-only"],
        features["10-hours"],
    ]


def with_rate(case: EdgeCase, label: str) -> EdgeCase:
    """``case`` at another rate (same shape)."""
    return replace(case, id=f"{case.id}-{label}", rate=RATE_BY_LABEL[label])


__all__ = [
    "RATES",
    "STARTS",
    "EdgeCase",
    "Media",
    "RateSpec",
    "build",
    "feature_cases",
    "grid_cases",
    "media_pool",
    "representative_cases",
    "with_rate",
]
