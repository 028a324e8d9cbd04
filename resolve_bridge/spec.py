"""A timeline build, spelled in Resolve's own terms: the contract between planning and placing.

The OTIO timeline is turned into a :class:`BuildSpec` (``timeline_builder.spec_from_otio``);
``apply`` places a spec in Resolve. The spec is plain JSON so the Scripts-menu entries can plan
in a subprocess of the user's environment and place clips in Resolve's own Python.

Standard library only (plus ``kernel.timebase``/``kernel.errors``, which are stdlib-only):
Resolve's bundled interpreter usually has neither pydantic nor OpenTimelineIO, so the models
here are dataclasses validated by hand in :meth:`BuildSpec.from_dict`.

Units: ``record_frame`` is an *absolute* timeline frame (timeline start + offset), as
``AppendToTimeline`` wants it; ``start_frame``/``end_frame`` are frame indexes into the media
file at the media's rate, half-open; ``duration`` is in timeline frames; marker ``frame`` is
relative to the timeline start (what ``Timeline.AddMarker`` expects).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from kernel.errors import MontageError
from kernel.timebase import format_rate, parse_rate, supports_drop_frame

# Resolve's marker palette (README "MARKER_*" list) and its 16 clip colours (measured, see
# research/resolve_api.md §2.7). Anything else makes AddMarker/SetClipColor return False.
MARKER_COLORS = (
    "Blue",
    "Cyan",
    "Green",
    "Yellow",
    "Red",
    "Pink",
    "Purple",
    "Fuchsia",
    "Rose",
    "Lavender",
    "Sky",
    "Mint",
    "Lemon",
    "Sand",
    "Cocoa",
    "Cream",
)
CLIP_COLORS = (
    "Orange",
    "Apricot",
    "Yellow",
    "Lime",
    "Olive",
    "Green",
    "Teal",
    "Navy",
    "Blue",
    "Purple",
    "Violet",
    "Pink",
    "Tan",
    "Beige",
    "Brown",
    "Chocolate",
)

# Rates Resolve offers as "Timeline frame rate", spelled the way SetSetting wants them.
_RESOLVE_RATE_NAMES = {
    Fraction(24000, 1001): "23.976",
    Fraction(30000, 1001): "29.97",
    Fraction(48000, 1001): "47.952",
    Fraction(60000, 1001): "59.94",
    Fraction(96000, 1001): "95.904",
    Fraction(120000, 1001): "119.88",
}
_RESOLVE_INTEGER_RATES = {16, 18, 24, 25, 30, 48, 50, 60, 72, 96, 100, 120}


class SpecError(MontageError):
    """A build spec file that is not what the bridge wrote."""


def resolve_rate_name(rate: Fraction, drop_frame: bool = False) -> str:
    """``Fraction(30000, 1001), True`` → ``"29.97 DF"``: the ``timelineFrameRate`` setting value."""
    if rate in _RESOLVE_RATE_NAMES:
        name = _RESOLVE_RATE_NAMES[rate]
    elif rate.denominator == 1 and rate.numerator in _RESOLVE_INTEGER_RATES:
        name = str(rate.numerator)
    else:
        raise MontageError(
            f"{format_rate(rate)} fps is not a timeline rate DaVinci Resolve offers — "
            "re-plan at 23.976, 24, 25, 29.97, 30, 50, 59.94 or 60"
        )
    return f"{name} DF" if drop_frame and supports_drop_frame(rate) else name


def parse_resolve_rate(text: str) -> tuple[Fraction, bool]:
    """``"29.97 DF"`` → ``(Fraction(30000, 1001), True)``; also accepts ``"25.000"`` and ``"24"``."""
    parts = str(text).split()
    if not parts:
        raise ValueError("empty frame rate")
    drop = len(parts) > 1 and parts[1].upper() == "DF"
    return parse_rate(parts[0]), drop


def source_length_for(duration: int, timeline_rate: Fraction, media_rate: Fraction) -> tuple[int, int]:
    """Source frames to ask for so a mixed-rate append lands exactly ``duration`` timeline frames.

    Resolve turns ``n`` source frames into ``n × timeline_rate / media_rate`` timeline frames and
    rounds that *down* (MCP-LIM, measured on 19.1); davinci-resolve-mcp PR #111 reports the same
    appends landing "one frame short", which is what flooring does to the naive ``n`` and, read
    literally, what ``ceil − 1`` would do. So ``n`` is the fewest source frames whose exact length
    lies strictly between ``duration`` and ``duration + 1``: both roundings then give
    ``duration``. When no ``n`` does (a slower source on a faster timeline, e.g. 23.976 on 29.97),
    the exact multiple is used (right under flooring, one short under ``ceil − 1``: the build's
    read-back checks every such item) and, failing that, the longest length that still fits.

    Returns ``(source_frames, timeline_frames_resolve_will_make)`` under flooring; the second
    differs from ``duration`` only when no source length gives it.
    """
    if timeline_rate == media_rate:
        return duration, duration
    ratio = Fraction(timeline_rate) / Fraction(media_rate)  # timeline frames per source frame
    n = int(Fraction(duration) / ratio) + 1  # fewest source frames longer than `duration`
    if n * ratio < duration + 1:
        return n, duration
    n -= 1
    return n, int(n * ratio)


def exact_on_both_roundings(source_frames: int, timeline_rate: Fraction, media_rate: Fraction) -> bool:
    """Whether ``source_frames`` lands the same length whether Resolve floors or falls one frame short."""
    if timeline_rate == media_rate:
        return True
    return (Fraction(source_frames) * timeline_rate / media_rate).denominator != 1


@dataclass
class ClipPlacement:
    """One clip to place: where on the timeline, which frames of which file, on which track."""

    key: str
    name: str
    path: str
    track_type: str
    track_index: int
    record_frame: int
    duration: int
    start_frame: int
    end_frame: int
    media_rate: str
    media_start_frame: int = 0
    clip_color: str = ""
    flags: list[str] = field(default_factory=list)
    fade_in: int = 0
    """Fade from silence/black at the start, timeline frames (SetFades on 21.1+)."""
    fade_out: int = 0
    speed: float = 100.0
    """Planned playback speed in percent. ``start_frame``/``end_frame``/``duration`` place the clip at
    100 % (what every build can do); a build with ``SetSpeed`` re-places slow clips with fewer source
    frames and slows them to ``speed_duration`` (``apply.place_speed_changes``)."""
    speed_duration: int = 0
    """Timeline frames the clip should run after ``SetSpeed`` (0: no speed change applied)."""
    transform: dict[str, float] = field(default_factory=dict)
    """Reframe as ``TimelineItem.SetProperty`` keys (Scaling, ZoomX/Y, Pan, Tilt; ``nle_adapters.reframe_meta``)."""
    proxy_path: str = ""
    """A proxy to link to the clip's pool item (``MediaPoolItem.LinkProxyMedia``), or empty."""

    @property
    def media_type(self) -> int:
        """``AppendToTimeline`` mediaType: 1 = video only, 2 = audio only."""
        return 1 if self.track_type == "video" else 2


@dataclass
class MarkerSpec:
    """A timeline marker; ``frame`` counted from the timeline start, ``duration`` ≥ 1 frame."""

    frame: int
    name: str
    color: str = "Blue"
    note: str = ""
    duration: int = 1
    custom_data: str = ""


@dataclass
class TransitionSpec:
    """A dissolve at a cut: ``before`` frames of it lie before the cut (the incoming clip plays that
    many frames before its in point), ``after`` frames after it (the outgoing clip plays past its
    out point). ``cut_frame`` is absolute, like ``record_frame``."""

    track_type: str
    track_index: int
    cut_frame: int
    before: int
    after: int

    @property
    def frames(self) -> int:
        return self.before + self.after

    @property
    def alignment(self) -> str | None:
        """AddTransition's alignment for this split, or None when it has none (an uneven split)."""
        if self.after == 0:
            return "left"
        if self.before == 0:
            return "right"
        return "center" if self.before == self.frames // 2 else None


@dataclass
class BuildSpec:
    """Everything needed to build one timeline in Resolve."""

    name: str
    rate: str
    drop_frame: bool
    start_timecode: str
    start_frame: int
    width: int
    height: int
    video_tracks: int
    audio_tracks: int
    clips: list[ClipPlacement]
    markers: list[MarkerSpec] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    transitions: list[TransitionSpec] = field(default_factory=list)

    @property
    def exact_rate(self) -> Fraction:
        return parse_rate(self.rate)

    @property
    def resolve_rate(self) -> str:
        """The ``timelineFrameRate`` setting this timeline needs (``"23.976"``, ``"29.97 DF"``…)."""
        return resolve_rate_name(self.exact_rate, self.drop_frame)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: Any, source: str = "build spec") -> BuildSpec:
        """Validate untrusted JSON (a file a subprocess wrote) into a spec; SpecError says what is off."""
        if not isinstance(data, dict):
            raise SpecError(f"{source}: expected a JSON object")
        try:
            clips = [ClipPlacement(**c) for c in data.get("clips", [])]
            markers = [MarkerSpec(**m) for m in data.get("markers", [])]
            transitions = [TransitionSpec(**t) for t in data.get("transitions", [])]
            spec = cls(**{**data, "clips": clips, "markers": markers, "transitions": transitions})
        except TypeError as exc:
            raise SpecError(f"{source}: unexpected or missing field ({exc})") from exc
        problems: list[str] = []
        try:
            _ = spec.exact_rate
        except ValueError as exc:
            problems.append(str(exc))
        for n, clip in enumerate(spec.clips, 1):
            if clip.track_type not in ("video", "audio"):
                problems.append(f"clip {n}: track_type {clip.track_type!r}")
            if clip.track_index < 1 or clip.duration < 1 or clip.end_frame <= clip.start_frame or clip.start_frame < 0:
                problems.append(f"clip {n} ({clip.name}): impossible frames or track")
            if clip.record_frame < spec.start_frame:
                problems.append(f"clip {n} ({clip.name}): record frame {clip.record_frame} before the timeline start")
            if clip.fade_in < 0 or clip.fade_out < 0 or not clip.speed > 0:
                problems.append(f"clip {n} ({clip.name}): fades {clip.fade_in}/{clip.fade_out}, speed {clip.speed}")
        for n, tr in enumerate(spec.transitions, 1):
            if tr.before < 0 or tr.after < 0 or tr.frames < 1 or tr.track_type not in ("video", "audio"):
                problems.append(f"transition {n}: {tr.before}+{tr.after} frames on {tr.track_type}")
        for n, marker in enumerate(spec.markers, 1):
            if marker.frame < 0 or marker.duration < 1:
                problems.append(f"marker {n}: frame {marker.frame}, duration {marker.duration}")
        if problems:
            raise SpecError(f"{source}: " + "; ".join(problems[:5]))
        return spec

    @classmethod
    def from_json(cls, text: str, source: str = "build spec") -> BuildSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{source}: not JSON (line {exc.lineno}: {exc.msg})") from exc
        return cls.from_dict(data, source)
