"""Build the one in-memory timeline model (an OTIO Timeline) from an EditPlan.

Time rules (DESIGN.md "Time"):
- ``global_start_time`` is the plan's start timecode (01:00:00:00 by default) at the timeline rate;
- a clip's ``available_range`` is the media's own time: it starts at the embedded start timecode;
- a clip's ``source_range.start_time`` is in media time at the *media* rate (start TC + frame
  index); its ``duration`` is in timeline frames at the *timeline* rate, so record positions stay
  on the timeline grid even for mixed-rate clips. The source out point in media frames is
  ``in + rescale_frames(duration, timeline_rate, media_rate)``, half-up (the plan's rule).
- exact rational rates ride along in ``metadata["montage_bridge"]`` because OTIO stores floats.

Layout (docs/timeline.md):
- ``V1..Vn``: the plan's video cuts, one OTIO track per plan video track;
- ``A1``: the music bed, when the plan has music: the song from the plan's music-in point, with
  its fades as transitions at the ends of the track (a fade-in opens it, ``in_offset`` 0; a
  fade-out closes it, ``out_offset`` 0), and the planner's reason in the clip's metadata;
- then one track per plan audio track (``kind="audio"`` cuts: a clip's own sound at its own record
  range, e.g. the speech of a J/L cut): plan audio track *k* is ``A(k+1)`` with music, ``Ak`` without;
- a planned dissolve (``Cut.transition_in``) is an OTIO ``SMPTE_Dissolve`` Transition between the
  two cuts, centred as the planner reserved its handles: ``in_offset = frames // 2`` (the incoming
  clip plays that many frames before its in point), ``out_offset = frames - frames // 2`` (the
  outgoing clip plays that many past its out point); both in timeline frames. The handles are
  checked against the media before anything is built;
- markers: music markers (``beat``, ``downbeat``, ``section``) sit on the music clip when the bed
  plays under them (music time); every other marker, and music markers of a plan without music,
  sit on the V1 clip under the marker frame, clip-relative in that clip's media time (start TC
  included, at the media rate). Clip markers are what every interchange format keeps; a marker
  with no clip under it (in a gap, or past the end) becomes a timeline marker.
- media references carry ``metadata["montage_bridge"]``: ``rate``, ``has_video``, ``has_audio``,
  ``width``/``height`` (upright display size), ``audio_channels``, ``audio_sample_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from analysis.models import AnalysisResult, ClipAnalysis
from kernel.errors import MontageError
from kernel.media import MediaItem
from kernel.media_url import path_to_url
from kernel.timebase import format_rate, rescale_frames, seconds_to_frames
from nle_adapters.mix import apply_mix, ducking_for_style
from planner.models import Cut, EditPlan, PlanMarker

META = "montage_bridge"

# Markers that describe the music: they stay on the music clip when there is one.
MUSIC_MARKER_KINDS = frozenset({"beat", "downbeat", "section"})

_MARKER_COLORS = {
    "RED": otio.schema.MarkerColor.RED,
    "BLUE": otio.schema.MarkerColor.BLUE,
    "GREEN": otio.schema.MarkerColor.GREEN,
    "YELLOW": otio.schema.MarkerColor.YELLOW,
    "PURPLE": otio.schema.MarkerColor.PURPLE,
    "CYAN": otio.schema.MarkerColor.CYAN,
    "ORANGE": otio.schema.MarkerColor.ORANGE,
    "PINK": otio.schema.MarkerColor.PINK,
    "WHITE": otio.schema.MarkerColor.WHITE,
    "BLACK": otio.schema.MarkerColor.BLACK,
    "MAGENTA": otio.schema.MarkerColor.MAGENTA,
}


class TimelineBuildError(MontageError):
    """A plan the timeline cannot be built from (unknown clip, overlapping cuts, dissolve without handles)."""


@dataclass
class _Placed:
    """A clip as built on a track: its record range (timeline frames) and its media."""

    clip: otio.schema.Clip
    cut: Cut
    media: MediaItem


def _rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def _range(start: int, duration: int, rate: Fraction) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_rt(start, rate), _rt(duration, rate))


def media_reference(
    path: Path | str, start_frame: int, frames: int, rate: Fraction, **facts: object
) -> otio.schema.ExternalReference:
    """An ExternalReference whose available range is the media's own time (start TC first).

    ``facts`` (``has_video``, ``has_audio``, ``width``…) are stored in ``metadata["montage_bridge"]``
    next to the exact ``rate``; writers (FCPXML assets) use them when present.
    """
    meta: dict[str, object] = {"rate": format_rate(rate)}
    meta.update({k: v for k, v in facts.items() if v is not None})
    return otio.schema.ExternalReference(
        target_url=path_to_url(Path(path).resolve()),
        available_range=_range(start_frame, frames, rate),
        metadata={META: meta},
    )


def _media_facts(media: MediaItem) -> dict[str, object]:
    """What the file holds, for the reference metadata (sizes only where known)."""
    width, height = media.display_size  # upright, as an NLE shows a rotated phone clip
    facts: dict[str, object] = {"has_video": media.has_video, "has_audio": media.audio_channels > 0}
    if media.drop_frame or media.start_frame:
        # The media's own timecode counting (a 29.97 DF camera TC), so writers label its frames as it
        # does; media with no embedded TC say nothing and get the one drop-frame rule's default.
        facts["drop_frame"] = media.drop_frame
    if media.has_video and width > 0 and height > 0:
        facts.update(width=width, height=height)
    if media.audio_channels > 0:
        facts["audio_channels"] = media.audio_channels
        if media.audio_sample_rate > 0:
            facts["audio_sample_rate"] = media.audio_sample_rate
    return facts


def _marker(marker: PlanMarker, start: int, length: int, rate: Fraction) -> otio.schema.Marker:
    return otio.schema.Marker(
        name=marker.name,
        marked_range=_range(start, length, rate),
        color=_MARKER_COLORS.get(marker.color.upper(), otio.schema.MarkerColor.BLUE),
        metadata={META: {"kind": marker.kind, "frame": marker.frame}},
    )


def _dissolve(prev: _Placed | None, cut: Cut, clip: ClipAnalysis, plan: EditPlan, track: str) -> otio.schema.Transition:
    """The Transition for ``cut``'s planned dissolve, after checking both handles lie in the media."""
    assert cut.transition_in is not None
    frames = cut.transition_in.frames
    where = f"{track}: dissolve into {cut.clip_id} at timeline frame {cut.record_in}"
    if prev is None or prev.cut.record_out != cut.record_in:
        raise TimelineBuildError(f"{where}: no cut ends there to dissolve from — make it a hard cut in the plan")
    head, tail = frames // 2, frames - frames // 2
    if frames > min(prev.cut.record_duration, cut.record_duration):
        raise TimelineBuildError(f"{where}: {frames} frames is longer than a neighbouring cut — shorten the dissolve")
    if cut.source_in - rescale_frames(head, plan.rate, clip.media.rate) < 0:
        raise TimelineBuildError(f"{where}: {cut.clip_id} has no {head}-frame handle before its in point")
    prev_out = prev.cut.source_in + rescale_frames(prev.cut.record_duration, plan.rate, prev.media.rate)
    if prev_out + rescale_frames(tail, plan.rate, prev.media.rate) > prev.media.frames:
        raise TimelineBuildError(f"{where}: {prev.cut.clip_id} has no {tail}-frame handle after its out point")
    return otio.schema.Transition(
        name="Cross Dissolve",
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=_rt(head, plan.rate),
        out_offset=_rt(tail, plan.rate),
        metadata={META: {"frames": frames}},
    )


def _cut_track(
    name: str, kind: str, cuts: list[Cut], clips: dict[str, ClipAnalysis], plan: EditPlan
) -> tuple[otio.schema.Track, list[_Placed]]:
    """One track of ``cuts`` (sorted by record in), gaps between them, dissolves where planned."""
    rate = plan.rate
    track = otio.schema.Track(name=name, kind=kind)
    placed: list[_Placed] = []
    position = 0
    for cut in sorted(cuts, key=lambda c: c.record_in):
        clip = clips.get(cut.clip_id)
        if clip is None:
            raise TimelineBuildError(f"{name}: the plan uses clip {cut.clip_id!r}, which is not in the analysis")
        media = clip.media
        if cut.record_in < position:
            raise TimelineBuildError(
                f"{name}: cut of {cut.clip_id} at timeline frame {cut.record_in} overlaps the cut before it "
                f"(ends at {position}) — fix the plan's record ranges"
            )
        if cut.source_in + rescale_frames(cut.record_duration, rate, media.rate) > media.frames:
            raise TimelineBuildError(
                f"{name}: cut of {cut.clip_id} at timeline frame {cut.record_in} runs past the end of "
                f"{media.name} ({media.frames} frames)"
            )
        if cut.record_in > position:
            track.append(otio.schema.Gap(source_range=_range(0, cut.record_in - position, rate)))
        if cut.transition_in is not None and cut.transition_in.kind == "dissolve":
            track.append(_dissolve(placed[-1] if placed else None, cut, clip, plan, name))
        item = otio.schema.Clip(
            name=media.name,
            media_reference=media_reference(
                media.path, media.start_frame, media.frames, media.rate, **_media_facts(media)
            ),
            source_range=otio.opentime.TimeRange(
                _rt(media.start_frame + cut.source_in, media.rate), _rt(cut.record_duration, rate)
            ),
            metadata={
                META: {
                    "clip_id": cut.clip_id,
                    "source_in": cut.source_in,
                    "source_out": cut.source_out,
                    "source_rate": format_rate(media.rate),
                    "reason": cut.reason,
                }
            },
        )
        track.append(item)
        placed.append(_Placed(item, cut, media))
        position = cut.record_out
    return track, placed


def _music_track(plan: EditPlan, analysis: AnalysisResult) -> tuple[otio.schema.Track, otio.schema.Clip]:
    """A1: the music bed from its record in, in music time at the timeline rate."""
    assert plan.music is not None
    rate, bed = plan.rate, plan.music
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    if bed.record_in > 0:
        audio.append(otio.schema.Gap(source_range=_range(0, bed.record_in, rate)))
    music = analysis.music
    music_seconds = music.duration_seconds if music else (bed.record_out - bed.record_in) / rate
    facts: dict[str, object] = {"has_video": False, "has_audio": True}
    if music is not None:
        facts.update(audio_channels=music.channels, audio_sample_rate=music.sample_rate)
    source_in = seconds_to_frames(bed.source_in_seconds, rate)
    clip = otio.schema.Clip(
        name=Path(bed.path).name,
        media_reference=media_reference(bed.path, 0, seconds_to_frames(music_seconds, rate), rate, **facts),
        source_range=_range(source_in, bed.record_out - bed.record_in, rate),
    )
    if bed.reason:
        clip.metadata[META] = {"reason": bed.reason}
    if bed.fade_in_frames:
        audio.append(_fade("Fade In", 0, bed.fade_in_frames, rate))
    audio.append(clip)
    if bed.fade_out_frames:
        audio.append(_fade("Fade Out", bed.fade_out_frames, 0, rate))
    return audio, clip


def _fade(name: str, before: int, after: int, rate: Fraction) -> otio.schema.Transition:
    """The music clip's own fade from or to silence: a dissolve with nothing on one side.

    A fade-in opens the track (``in_offset`` 0, ``out_offset`` the fade); a fade-out closes it
    (``in_offset`` the fade, ``out_offset`` 0), so the fade lies inside the clip's record range
    and the track keeps its length. This is how our xmeml reader reads a ``start-black`` /
    ``end-black`` transition, and how each writer writes a fade (docs/timeline.md)."""
    return otio.schema.Transition(
        name=name,
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=_rt(before, rate),
        out_offset=_rt(after, rate),
        metadata={META: {"frames": before + after, "fade": "in" if after else "out"}},
    )


def _place_on_picture(marker: PlanMarker, v1: list[_Placed], rate: Fraction) -> bool:
    """Put ``marker`` on the V1 clip under its frame (clip-relative, media time). False if none."""
    for placed in v1:
        cut = placed.cut
        if cut.record_in <= marker.frame < cut.record_out:
            media = placed.media
            span = rescale_frames(cut.record_duration, rate, media.rate)
            # Mixed rates: the nearest media frame, never past the clip's last frame.
            offset = min(rescale_frames(marker.frame - cut.record_in, rate, media.rate), span - 1)
            start = media.start_frame + cut.source_in + offset
            length = rescale_frames(marker.duration, rate, media.rate)
            placed.clip.markers.append(_marker(marker, start, length, media.rate))
            return True
    return False


def build_timeline(plan: EditPlan, analysis: AnalysisResult) -> otio.schema.Timeline:
    """Turn ``plan`` into an OTIO timeline laid out as the module doc says.

    Raises TimelineBuildError for a plan that cannot be placed (unknown clip, overlapping cuts on a
    track, a range past the end of its media, a dissolve without neighbour or handles).
    """
    rate = plan.rate
    timeline = otio.schema.Timeline(name=plan.name)
    timeline.global_start_time = _rt(plan.start_frame, rate)
    timeline.metadata[META] = {
        "rate": format_rate(rate),
        "start_timecode": plan.start_timecode,
        "drop_frame": plan.drop_frame,
        "width": plan.width,
        "height": plan.height,
        "planner": plan.planner,
        "aspect": plan.aspect,
        "mode": plan.mode,
        "style": plan.style,
    }
    if plan.remote_ops:
        timeline.metadata[META]["remote_ops"] = [op.model_dump() for op in plan.remote_ops]
    clips = {c.id: c for c in analysis.clips}
    v1: list[_Placed] = []
    video_tracks = sorted({c.track for c in plan.cuts if c.kind == "video"}) or [1]
    for index in video_tracks:
        cuts = [c for c in plan.cuts if c.kind == "video" and c.track == index]
        track, placed = _cut_track(f"V{index}", otio.schema.TrackKind.Video, cuts, clips, plan)
        if index == video_tracks[0]:
            v1 = placed
        timeline.tracks.append(track)
    music_clip = None
    if plan.music is not None:
        music_track, music_clip = _music_track(plan, analysis)
        timeline.tracks.append(music_track)
    first_dialogue = 2 if plan.music is not None else 1
    audio_tracks = sorted({c.track for c in plan.cuts if c.kind == "audio"})
    for number, index in enumerate(audio_tracks, start=first_dialogue):
        cuts = [c for c in plan.cuts if c.kind == "audio" and c.track == index]
        track, _ = _cut_track(f"A{number}", otio.schema.TrackKind.Audio, cuts, clips, plan)
        timeline.tracks.append(track)
    for marker in sorted(plan.markers, key=lambda m: m.frame):
        bed = plan.music
        if music_clip is not None and bed is not None and marker.kind in MUSIC_MARKER_KINDS:
            if bed.record_in <= marker.frame < bed.record_out:
                local = marker.frame - bed.record_in + seconds_to_frames(bed.source_in_seconds, rate)
                music_clip.markers.append(_marker(marker, local, marker.duration, rate))
                continue
        if not _place_on_picture(marker, v1, rate):
            timeline.tracks.markers.append(_marker(marker, marker.frame, marker.duration, rate))
    # The mix every writer writes (nle_adapters.mix): the music ducked under the dialogue tracks by
    # the style's amount, micro-fades at every audio cut.
    apply_mix(timeline, ducking_for_style(plan.style))
    return timeline
