"""What every planner decides the same way: rate, timecode, frame size, music markers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from analysis.models import ClipAnalysis, MusicAnalysis
from kernel.timebase import default_drop_frame, seconds_to_frames
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
    elif aspect == "4:5":
        width, height = short, short * 5 // 4
    else:
        width, height = short * 16 // 9, short
    width -= width % 2
    height -= height % 2
    return TimelineSetup(rate, drop, "01:00:00;00" if drop else "01:00:00:00", width, height)


def music_in_frames(source_in_seconds: float, rate: Fraction) -> int:
    """The music-in point in timeline frames of music time (what the music clip's source range starts at)."""
    return seconds_to_frames(source_in_seconds, rate)


def _music_frames(times: list[float], music: MusicAnalysis, rate: Fraction, source_in_seconds: float) -> list[int]:
    """Music times (s) as record frames for music that plays from ``source_in_seconds`` at frame 0."""
    offset = music_in_frames(source_in_seconds, rate)
    frames = (seconds_to_frames(t, rate) - offset for t in times if 0 <= t < music.duration_seconds)
    return sorted({f for f in frames if f >= 0})


def beat_frames(music: MusicAnalysis, rate: Fraction, source_in_seconds: float = 0.0) -> list[int]:
    """Beat times as record frames, unique, ascending, inside the music, for music that starts
    ``source_in_seconds`` into the file at record frame 0 (a beat at music time ``t`` plays at
    ``round(t * rate) - round(source_in_seconds * rate)``, the music clip's own frame grid)."""
    return _music_frames(music.beat_grid.beats, music, rate, source_in_seconds)


def downbeat_frames(music: MusicAnalysis, rate: Fraction, source_in_seconds: float = 0.0) -> set[int]:
    """Downbeats as record frames (see :func:`beat_frames`); every ``beats_per_bar``-th beat when
    the grid has none."""
    if music.beat_grid.downbeats:
        return set(_music_frames(music.beat_grid.downbeats, music, rate, source_in_seconds))
    beats = beat_frames(music, rate, source_in_seconds)
    return set(beats[:: max(1, music.beat_grid.beats_per_bar)])


def beat_period_seconds(music: MusicAnalysis) -> float:
    """The median time between beats (s): the tempo's period, robust to a ramp or a silent gap."""
    beats = music.beat_grid.beats
    if len(beats) >= 2:
        gaps = sorted(b - a for a, b in zip(beats, beats[1:]))
        return gaps[len(gaps) // 2]
    return 60.0 / music.beat_grid.tempo_bpm


def intro_bar_times(music: MusicAnalysis) -> list[float]:
    """Bar lines counted back from the first downbeat into a beatless intro (s, ascending, >= 0).

    Where the music has no beat yet, an editor counts bars back from the drop: these are the
    only cut points a montage has inside the intro."""
    grid = music.beat_grid
    beats = grid.beats
    if not beats:
        return []
    first = beats[0] if grid.pulse == "none" or not grid.downbeats else min(grid.downbeats)
    bar = beat_period_seconds(music) * max(1, grid.beats_per_bar)
    if bar <= 0 or first < bar / 2:
        return []
    return sorted(first - k * bar for k in range(1, int(first / bar) + 1))


def half_beat_times(music: MusicAnalysis) -> list[float]:
    """Half-way between consecutive beats (s): where a shot shorter than one beat may be cut.

    Not across a gap longer than 1.5 beat periods (a silent hole, a tracking gap), where
    "half-way" is not a place in the music."""
    beats = music.beat_grid.beats
    period = beat_period_seconds(music)
    return [(a + b) / 2 for a, b in zip(beats, beats[1:]) if b - a <= 1.5 * period]


def cut_points(music: MusicAnalysis, rate: Fraction, source_in_seconds: float = 0.0) -> set[int]:
    """Every record frame a music montage may cut on: beats, half beats and intro bar lines
    (record frames, see :func:`beat_frames`). The validator holds every plan to these."""
    times = [*music.beat_grid.beats, *half_beat_times(music), *intro_bar_times(music)]
    return set(_music_frames(times, music, rate, source_in_seconds))


def music_markers(
    music: MusicAnalysis, rate: Fraction, end_frame: int, source_in_seconds: float = 0.0
) -> list[PlanMarker]:
    """Beat, downbeat and section markers from record frame 0 to ``end_frame`` for music that
    plays from ``source_in_seconds`` (see :func:`beat_frames`)."""
    downs = downbeat_frames(music, rate, source_in_seconds)
    markers = [
        PlanMarker(frame=f, name="downbeat", kind="downbeat", color="RED")
        if f in downs
        else PlanMarker(frame=f, name="beat", kind="beat", color="BLUE")
        for f in beat_frames(music, rate, source_in_seconds)
        if f < end_frame
    ]
    offset = music_in_frames(source_in_seconds, rate)
    for section in music.sections:
        start = seconds_to_frames(section.start, rate) - offset
        end = min(end_frame, seconds_to_frames(section.end, rate) - offset)
        if end <= 0 or start >= end_frame:
            continue
        start = max(0, start)
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
