"""What a target format cannot hold: the loss report printed by ``montage-bridge convert``.

Each check looks at the timeline (never at the writer's output) and names the feature, how many
items it affects and what happens to them, so an editor knows before opening the file.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cached_property

import opentimelineio as otio
from pydantic import BaseModel, Field

from kernel.timebase import format_rate
from nle_adapters.edl.writer import edl_video_tracks, source_counting
from nle_adapters.fcpxml.losses import fcpxml_losses
from nle_adapters.mix import clip_mix, timeline_captions
from nle_adapters.timeline_facts import clip_time, frames_at, stated_drop_frame, timeline_time


class LossItem(BaseModel):
    """One feature the target cannot hold (or holds only approximately)."""

    feature: str
    count: int = Field(ge=0)
    detail: str


class LossReport(BaseModel):
    """Everything lost or approximated when writing one timeline to one format."""

    source: str
    target: str
    format: str
    outputs: list[str] = Field(default_factory=list)
    losses: list[LossItem] = Field(default_factory=list)

    @property
    def lossless(self) -> bool:
        return not self.losses


def _tracks(timeline: otio.schema.Timeline, kind: str) -> list[otio.schema.Track]:
    return [t for t in timeline.tracks if isinstance(t, otio.schema.Track) and t.kind == kind]


def _count(items: list, feature: str, detail: str) -> list[LossItem]:
    return [LossItem(feature=feature, count=len(items), detail=detail)] if items else []


def edl_source_time_losses(timeline: otio.schema.Timeline) -> list[LossItem]:
    """What an EDL's source timecodes cannot say exactly about ``timeline``'s clips.

    The EDL writer labels source TCs in each media's own counting (rate and DF), which is right for a
    conform by timecode, but CMX 3600 has one rate and one FCM per list: a clip at another rate has a
    source duration that differs from its record duration (a reader that assumes one rate sees a speed
    change where there is none), and a DF label in an NDF list (or the reverse) differs from the FCM.
    ``auto`` shows these as warnings; ``convert`` in its loss report."""
    time = timeline_time(timeline)
    stated = stated_drop_frame(timeline)
    other_rate: dict[str, int] = {}
    other_count = 0
    for clip in timeline.find_clips():
        ct = clip_time(clip, time.rate)
        rate, drop = source_counting(clip, ct, time, stated)
        if rate != time.rate:
            other_rate[format_rate(rate)] = other_rate.get(format_rate(rate), 0) + 1
        elif drop != time.drop_frame:
            other_count += 1
    losses: list[LossItem] = []
    if other_rate:
        rates = ", ".join(f"{n} at {r} fps" for r, n in sorted(other_rate.items()))
        losses.append(
            LossItem(
                feature="mixed rates",
                count=sum(other_rate.values()),
                detail=(
                    f"an EDL has one rate ({format_rate(time.rate)} fps): clips at other rates ({rates}) keep "
                    "their media's own source timecodes, so their source and record durations differ; "
                    "a reader that assumes one rate may take that for a speed change (no M2 is written)"
                ),
            )
        )
    if other_count:
        flavour = "NDF" if time.drop_frame else "DF"
        losses.append(
            LossItem(
                feature="timecode counting",
                count=other_count,
                detail=(
                    f"source timecodes of {flavour} media are written {flavour} although the FCM line says "
                    f"{'DROP' if time.drop_frame else 'NON-DROP'} FRAME (a SOURCE FPS comment names the counting)"
                ),
            )
        )
    return losses


def xmeml_moved_fades(transitions: list[otio.schema.Transition], rate: Fraction) -> list[otio.schema.Transition]:
    """The dissolves whose cut point FCP7 XML cannot keep: fades from or to a gap or a track's edge.

    xmeml aligns such a transition ``start-black`` (nothing before it) or ``end-black`` (nothing after
    it), and FCP7/Premiere place it from (to) the clip's edge: the incoming clip starts at the fade's
    start, the outgoing clip ends at its end. A fade with frames on the gap's side therefore moves
    that clip's edge by those frames (its source in moves with it: the same frames play at the same
    record times). Mirrors the alignment rule of :mod:`nle_adapters.xmeml.writer`."""
    moved = []
    for transition in transitions:
        track = transition.parent()
        if track is None:
            continue
        items = list(track)
        index = next(i for i, item in enumerate(items) if item is transition)
        before = items[index - 1] if index > 0 else None
        after = items[index + 1] if index + 1 < len(items) else None
        if not isinstance(before, otio.schema.Clip):
            if frames_at(transition.in_offset, rate):
                moved.append(transition)
        elif not isinstance(after, otio.schema.Clip) and frames_at(transition.out_offset, rate):
            moved.append(transition)
    return moved


class _Contents:
    """What a timeline holds that some format cannot: each list gathered once, on first use."""

    def __init__(self, timeline: otio.schema.Timeline) -> None:
        self.timeline = timeline
        self.time = timeline_time(timeline)
        self.rate = self.time.rate
        self.videos = _tracks(timeline, otio.schema.TrackKind.Video)
        self.audios = _tracks(timeline, otio.schema.TrackKind.Audio)
        self.clips: list[otio.schema.Clip] = list(timeline.find_clips())

    @cached_property
    def transitions(self) -> list[otio.schema.Transition]:
        return list(self.timeline.find_children(descended_from_type=otio.schema.Transition))

    @cached_property
    def nested(self) -> list[otio.core.Composition]:
        """Stacks and Tracks nested in a track: the EDL leaves both out (xmeml and FCPXML nest them)."""
        kinds = (otio.schema.Stack, otio.schema.Track)
        return [item for track in self.timeline.tracks for item in track if isinstance(item, kinds)]

    @cached_property
    def mixed_rate_clips(self) -> list[otio.schema.Clip]:
        return [c for c in self.clips if clip_time(c, self.rate).rate != self.rate]

    @cached_property
    def disabled_clips(self) -> list[otio.schema.Clip]:
        return [c for c in self.clips if not c.enabled]

    @cached_property
    def effects(self) -> list[otio.schema.Clip]:
        """A clip for each effect that is not a speed change (a clip with two counts twice)."""
        return [c for c in self.clips for e in c.effects if not isinstance(e, _SPEED_EFFECTS)]

    @cached_property
    def speed_changes(self) -> list[otio.schema.Clip]:
        return [c for c in self.clips for e in c.effects if isinstance(e, _SPEED_EFFECTS)]

    @cached_property
    def clip_markers(self) -> list[otio.schema.Marker]:
        return [m for c in self.clips for m in c.markers]

    @cached_property
    def timeline_markers(self) -> list[otio.schema.Marker]:
        return list(self.timeline.tracks.markers)

    @cached_property
    def _mixes(self) -> list[tuple[otio.schema.Clip, dict]]:
        return [(c, clip_mix(c)) for c in self.clips]

    @cached_property
    def volume_keyframed(self) -> list[otio.schema.Clip]:
        return [c for c, mix in self._mixes if mix.get("volume")]

    @cached_property
    def micro_faded(self) -> list[otio.schema.Clip]:
        return [c for c, mix in self._mixes if mix.get("fade_in") or mix.get("fade_out")]

    @cached_property
    def captions(self) -> list[dict]:
        return timeline_captions(self.timeline)


_SPEED_EFFECTS = (otio.schema.LinearTimeWarp, otio.schema.FreezeFrame)
_NO_CAPTIONS = {
    "edl": "CMX 3600 has no captions",
    "xml": "FCP7 XML has no captions",
    "resolve-otio": "Resolve's OTIO import ignores them",
}


def analyze_losses(timeline: otio.schema.Timeline, fmt: str, edl_track: int | None = None) -> list[LossItem]:
    """The losses of writing ``timeline`` as ``fmt`` (``edl``, ``xml``, ``fcpxml``, ``otio``, ``resolve-otio``)."""
    held = _Contents(timeline)
    losses = _caption_losses(held, fmt) + _mix_losses(held, fmt)
    if fmt == "edl":
        losses += _edl_losses(held, edl_track)
    elif fmt == "xml":
        losses += _xmeml_losses(held)
    elif fmt == "fcpxml":
        losses += _fcpxml_losses(timeline)
    elif fmt == "resolve-otio":
        custom = [c for c in held.clips if any(k not in ("montage_bridge",) for k in c.metadata.keys())]
        losses += _count(custom, "clip metadata", "Resolve drops custom clip metadata on import")
    return losses


def _caption_losses(held: _Contents, fmt: str) -> list[LossItem]:
    if fmt not in _NO_CAPTIONS:
        return []
    return _count(held.captions, "captions", f"{_NO_CAPTIONS[fmt]}: use the .srt/.vtt sidecar (or the FCPXML)")


def _mix_losses(held: _Contents, fmt: str) -> list[LossItem]:
    """Volume keyframes (the music ducking) and micro-fades at audio cuts the format cannot hold."""
    if fmt == "edl":
        return _count(
            held.volume_keyframed, "volume", "an EDL has no audio levels: the music ducking keyframes are not written"
        ) + _count(
            held.micro_faded, "micro-fades", "an EDL has no audio fades: micro-fades at audio cuts are not written"
        )
    if fmt == "xml":
        return _count(
            held.micro_faded,
            "micro-fades",
            "FCP7 XML keyframes fall on whole frames: 5 ms micro-fades at audio cuts are not written",
        )
    if fmt == "resolve-otio":
        return _count(
            held.volume_keyframed + held.micro_faded,
            "volume",
            "Resolve's OTIO import ignores the mix: ducking keyframes and micro-fades are not applied "
            "(the API build sets fades with SetFades on 21.1+)",
        )
    return []


def _edl_losses(held: _Contents, edl_track: int | None) -> list[LossItem]:
    """CMX 3600: one video track a list, dissolves only, no nesting, no levels, no media facts."""
    rate, clips = held.rate, held.clips
    losses = _edl_track_losses(held, edl_track) + _edl_transition_losses(held)
    losses += edl_source_time_losses(held.timeline)
    losses += _edl_empty_tracks(held, edl_track)
    losses += _count(held.disabled_clips, "disabled clips", "an EDL cannot disable an event: written as enabled")
    losses += _count(held.nested, "nested sequences", "an EDL cannot nest: nested stacks are left out")
    losses += _count(
        [m for m in held.clip_markers if frames_at(m.marked_range.duration, rate) > 0],
        "marker durations",
        "LOC markers have no duration",
    )
    losses += _count(held.timeline_markers, "timeline markers", "only clip markers are written (as * LOC)")
    losses += _count(held.effects, "effects", "only speed (M2) is written")
    with_range = [c for c in clips if c.media_reference is not None and c.media_reference.available_range]
    losses += _count(with_range, "media ranges", "an EDL does not store media length or start TC")
    return losses


def _edl_track_losses(held: _Contents, edl_track: int | None) -> list[LossItem]:
    videos, audios = held.videos, held.audios
    losses: list[LossItem] = []
    if len(videos) > 1:
        if edl_track is None:
            detail = "an EDL holds one video track: V2 and up are written to separate EDL files"
        else:
            detail = f"only V{edl_track} is written (--edl-track); the other video tracks are left out"
        losses.append(LossItem(feature="video tracks", count=len(videos) - 1, detail=detail))
    if edl_track not in (None, 1) and audios:
        losses.append(
            LossItem(feature="audio tracks", count=len(audios), detail="audio is written only with video track 1")
        )
    if len(audios) > 2:
        losses.append(
            LossItem(
                feature="audio tracks beyond A2",
                count=len(audios) - 2,
                detail="written with A3, A4… channel codes, which not every CMX 3600 reader accepts",
            )
        )
    return losses


def _edl_transition_losses(held: _Contents) -> list[LossItem]:
    # A fade from or to a gap (black, silence) is a dissolve from or to the BL reel: kept. One with
    # no clip on either side has nothing to dissolve.
    to_black = [t for track in held.videos + held.audios for t in _transitions_between_no_clips(track)]
    losses = _count(to_black, "fades", "a dissolve with no clip on either side is left out")
    dissolve = otio.schema.TransitionTypes.SMPTE_Dissolve
    non_dissolve = [t for t in held.transitions if t.transition_type != dissolve]
    losses += _count(
        non_dissolve, "transitions", "only dissolves exist in CMX 3600; other transitions become dissolves"
    )
    moved = [t for t in held.transitions if frames_at(t.in_offset, held.rate) > 0]
    losses += _count(
        moved,
        "transition alignment",
        "a CMX dissolve starts at the cut: the cut moves to the dissolve's start (same frames on screen)",
    )
    return losses


def _transitions_between_no_clips(track: otio.schema.Track) -> list[otio.schema.Transition]:
    items = list(track)
    found = []
    for i, item in enumerate(items):
        if isinstance(item, otio.schema.Transition):
            before = items[i - 1] if i > 0 else None
            after = items[i + 1] if i + 1 < len(items) else None
            if not isinstance(before, otio.schema.Clip) and not isinstance(after, otio.schema.Clip):
                found.append(item)
    return found


def _edl_empty_tracks(held: _Contents, edl_track: int | None) -> list[LossItem]:
    written = edl_video_tracks(held.timeline)
    empty = [n for n in range(1, len(held.videos) + 1) if n not in written and edl_track in (None, n)]
    if not empty:
        return []
    names = ", ".join(f"V{n}" for n in empty)
    detail = f"{names} hold no clip an EDL can describe (only gaps or nested sequences): no EDL for them"
    return [LossItem(feature="empty tracks", count=len(empty), detail=detail)]


def _xmeml_losses(held: _Contents) -> list[LossItem]:
    """FCP7 XML: sequence-rate in/out points, centred dissolves, colourless markers, no effects or speed."""
    rate, transitions = held.rate, held.transitions
    losses = _count(
        held.mixed_rate_clips, "mixed rates", "clipitem in/out are at the sequence rate: source in points are rounded"
    )
    fades = xmeml_moved_fades(transitions, rate)
    uneven = [
        t
        for t in transitions
        if frames_at(t.in_offset, rate)
        and frames_at(t.out_offset, rate)
        and t.in_offset != t.out_offset
        and not any(t is f for f in fades)
    ]
    losses += _count(uneven, "transition alignment", "uneven dissolves are re-centred (same frames on screen)")
    losses += _count(
        fades,
        "fades",
        "a dissolve from or to a gap (black) or a track's edge is written start-black/end-black, which "
        "starts or ends at the clip's edge: the clip's edge moves over the part of the dissolve on the "
        "gap's side (same frames on screen)",
    )
    losses += _count(
        [m for m in held.clip_markers + held.timeline_markers if m.color != otio.schema.MarkerColor.RED],
        "marker colours",
        "xmeml markers have no colour",
    )
    losses += _count(held.effects, "effects", "effects are not written")
    losses += _count(
        held.speed_changes,
        "speed changes",
        "not written: each clip plays at 100 % from its in point for its timeline length",
    )
    return losses


def _fcpxml_losses(timeline: otio.schema.Timeline) -> list[LossItem]:
    """The FCPXML writer's own account (nle_adapters.fcpxml.losses), as "N × what" sentences."""
    losses = []
    for sentence in fcpxml_losses(timeline):
        count, _, what = sentence.partition(" × ")
        losses.append(LossItem(feature=what.split(" (")[0], count=int(count), detail=what))
    return losses


__all__ = ["LossItem", "LossReport", "analyze_losses", "edl_source_time_losses", "xmeml_moved_fades"]
