"""What every planner decides the same way: rate, timecode, frame size, music markers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from analysis.models import ClipAnalysis, MusicAnalysis
from analysis.timebase import default_drop_frame, seconds_to_frames
from planner.models import PlanMarker

SECTION_COLORS = {"intro": "CYAN", "build": "YELLOW", "peak": "RED", "outro": "PURPLE", "break": "GREEN"}


@dataclass(frozen=True)
class TimelineSetup:
    rate: Fraction
    drop_frame: bool
    start_timecode: str
    width: int
    height: int

    def plan_fields(self) -> dict[str, object]:
        """The EditPlan fields this setup decides, for ``EditPlan(**setup.plan_fields(), ...)``."""
        return {
            "rate": self.rate,
            "start_timecode": self.start_timecode,
            "drop_frame": self.drop_frame,
            "width": self.width,
            "height": self.height,
        }


def choose_timeline_rate(clips: list[ClipAnalysis]) -> Fraction:
    """The rate most clips share; ties go to the clip that sorts first (deterministic)."""
    counts = Counter(c.media.rate for c in clips)
    best = max(counts.values())
    return next(c.media.rate for c in clips if counts[c.media.rate] == best)


def timeline_setup(clips: list[ClipAnalysis], rate: Fraction | None, aspect: str) -> TimelineSetup:
    """Rate (given or the clips' most common), DF where the rate allows, and a frame size for
    ``aspect`` whose short side is the largest short side among the clips (1080 when unknown)."""
    rate = rate or choose_timeline_rate(clips)
    drop = default_drop_frame(rate)
    short = max((min(c.media.width, c.media.height) for c in clips if c.media.width and c.media.height), default=1080)
    short -= short % 2  # encoders want even sizes
    if aspect == "9:16":
        width, height = short, short * 16 // 9
    elif aspect == "1:1":
        width, height = short, short
    else:
        width, height = short * 16 // 9, short
    width -= width % 2
    height -= height % 2
    return TimelineSetup(rate, drop, "01:00:00;00" if drop else "01:00:00:00", width, height)


def beat_frames(music: MusicAnalysis, rate: Fraction) -> list[int]:
    """Beat times rounded to timeline frames, unique, ascending, inside the music."""
    return sorted({seconds_to_frames(b, rate) for b in music.beat_grid.beats if 0 <= b < music.duration_seconds})


def downbeat_frames(music: MusicAnalysis, rate: Fraction) -> set[int]:
    """Downbeats as timeline frames; every ``beats_per_bar``-th beat when the grid has none."""
    if music.beat_grid.downbeats:
        return {seconds_to_frames(b, rate) for b in music.beat_grid.downbeats}
    beats = beat_frames(music, rate)
    return set(beats[:: max(1, music.beat_grid.beats_per_bar)])


def music_markers(music: MusicAnalysis, rate: Fraction, end_frame: int) -> list[PlanMarker]:
    """Beat, downbeat and section markers before ``end_frame`` (timeline frames)."""
    downs = downbeat_frames(music, rate)
    markers = [
        PlanMarker(frame=f, name="downbeat", kind="downbeat", color="RED")
        if f in downs
        else PlanMarker(frame=f, name="beat", kind="beat", color="BLUE")
        for f in beat_frames(music, rate)
        if f < end_frame
    ]
    for section in music.sections:
        start = seconds_to_frames(section.start, rate)
        if start < end_frame:
            end = min(end_frame, seconds_to_frames(section.end, rate))
            markers.append(
                PlanMarker(
                    frame=start,
                    duration=max(0, end - start),
                    name=f"{section.label} (energy {section.energy:.2f})",
                    kind="section",
                    color=SECTION_COLORS.get(section.label, "WHITE"),
                )
            )
    markers.sort(key=lambda m: (m.frame, m.kind))
    return markers
