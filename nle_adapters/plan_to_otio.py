"""Build the one in-memory timeline model (an OTIO Timeline) from an EditPlan.

Time rules (DESIGN.md "Time"):
- ``global_start_time`` is the plan's start timecode (01:00:00:00 by default) at the timeline rate;
- a clip's ``available_range`` is the media's own time: it starts at the embedded start timecode;
- a clip's ``source_range.start_time`` is in media time at the *media* rate (start TC + frame
  index); its ``duration`` is in timeline frames at the *timeline* rate, so record positions stay
  on the timeline grid even for mixed-rate clips. The source out point in media frames is
  ``in + rescale_frames(duration, timeline_rate, media_rate)``, half-up (the plan's rule).
- exact rational rates ride along in ``metadata["montage_bridge"]`` because OTIO stores floats.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from analysis.models import AnalysisResult
from analysis.timebase import format_rate, seconds_to_frames
from planner.models import EditPlan

META = "montage_bridge"

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


def _rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def media_reference(path: Path | str, start_frame: int, frames: int, rate: Fraction) -> otio.schema.ExternalReference:
    """An ExternalReference whose available range is the media's own time (start TC first)."""
    return otio.schema.ExternalReference(
        target_url=Path(path).resolve().as_uri(),
        available_range=otio.opentime.TimeRange(_rt(start_frame, rate), _rt(frames, rate)),
        metadata={META: {"rate": format_rate(rate)}},
    )


def build_timeline(plan: EditPlan, analysis: AnalysisResult) -> otio.schema.Timeline:
    """Turn ``plan`` into an OTIO timeline: V1..Vn with the cuts, A1 with the music bed.

    Beat markers sit on the music clip (clip-relative = music time, since the bed starts at 0),
    because track-level markers are dropped by several interchange formats.
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
    }
    clips = {c.id: c for c in analysis.clips}
    video_tracks = sorted({c.track for c in plan.cuts if c.kind == "video"}) or [1]
    for index in video_tracks:
        track = otio.schema.Track(name=f"V{index}", kind=otio.schema.TrackKind.Video)
        position = 0
        for cut in sorted((c for c in plan.cuts if c.kind == "video" and c.track == index), key=lambda c: c.record_in):
            if cut.record_in > position:
                track.append(
                    otio.schema.Gap(
                        source_range=otio.opentime.TimeRange(_rt(0, rate), _rt(cut.record_in - position, rate))
                    )
                )
            clip = clips[cut.clip_id]
            media = clip.media
            track.append(
                otio.schema.Clip(
                    name=media.name,
                    media_reference=media_reference(media.path, media.start_frame, media.frames, media.rate),
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
            )
            position = cut.record_out
        timeline.tracks.append(track)
    if plan.music is not None:
        bed = plan.music
        audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
        if bed.record_in > 0:
            audio.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(_rt(0, rate), _rt(bed.record_in, rate))))
        music_seconds = analysis.music.duration_seconds if analysis.music else (bed.record_out - bed.record_in) / rate
        source_in = seconds_to_frames(bed.source_in_seconds, rate)
        music_clip = otio.schema.Clip(
            name=Path(bed.path).name,
            media_reference=media_reference(bed.path, 0, seconds_to_frames(music_seconds, rate), rate),
            source_range=otio.opentime.TimeRange(_rt(source_in, rate), _rt(bed.record_out - bed.record_in, rate)),
        )
        for marker in plan.markers:
            local = marker.frame - bed.record_in + source_in
            if bed.record_in <= marker.frame < bed.record_out:
                music_clip.markers.append(
                    otio.schema.Marker(
                        name=marker.name,
                        marked_range=otio.opentime.TimeRange(_rt(local, rate), _rt(marker.duration, rate)),
                        color=_MARKER_COLORS.get(marker.color.upper(), otio.schema.MarkerColor.BLUE),
                        metadata={META: {"kind": marker.kind}},
                    )
                )
        audio.append(music_clip)
        timeline.tracks.append(audio)
    return timeline
