"""The highlights planner: the top-scored shots, in story order, up to the target duration.

- shots are ranked by quality (``ShotQuality.score``; a length-based stand-in without analysis),
  a best shot of each must-include clip goes in first; set-aside shots (planner.scoring: weaker
  near-duplicates, damaged pictures) only when the others cannot fill the duration;
- each shot contributes its middle part, at most the style's ``max_shot_seconds`` and at least
  ``min_shot_seconds`` (shorter shots are left out), one frame clear of its boundaries;
- the chosen shots play in story order (clip order, then time in the clip);
- with music and a style that cuts on the beat, every cut lands on a beat: each boundary goes to
  the beat nearest where it would fall that the shot still has frames for.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from analysis.models import AnalysisResult, ClipAnalysis, Shot
from kernel.timebase import rescale_frames, seconds_to_frames
from planner.brief import Brief
from planner.errors import PlanningError
from planner.models import Cut, EditPlan, MusicBed
from planner.remote_ops import remote_ops_for
from planner.scoring import set_aside_shots, shot_motion, shot_quality
from planner.style import Style
from planner.timeline_setup import beat_frames, music_markers, timeline_setup

PLANNER_NAME = "heuristic.highlights/1"
DEFAULT_SECONDS = 60.0


@dataclass
class _Pick:
    clip: ClipAnalysis
    order: int
    index: int
    shot: Shot
    lo: int  # usable clip frames [lo, hi)
    hi: int
    score: float
    want: int = 0  # timeline frames wanted

    def room(self, rate: Fraction) -> int:
        """Most timeline frames this shot can give."""
        n = rescale_frames(self.hi - self.lo, self.clip.media.rate, rate)
        while n > 0 and rescale_frames(n, rate, self.clip.media.rate) > self.hi - self.lo:
            n -= 1
        return n


def _candidates(clips: list[ClipAnalysis], rate: Fraction, min_frames: int) -> list[_Pick]:
    out = []
    for order, clip in enumerate(clips):
        for index, shot in enumerate(clip.shots):
            guard = 1 if shot.length > 4 else 0
            pick = _Pick(clip, order, index, shot, shot.start + guard, min(shot.end, clip.media.frames) - guard, 0.0)
            pick.score = shot_quality(shot, clip.media.rate) + 0.2 * shot_motion(shot)
            if pick.room(rate) >= min_frames:
                out.append(pick)
    return out


def plan_highlights(analysis: AnalysisResult, brief: Brief, style: Style) -> EditPlan:
    """Cut the best shots down to the brief's duration (see module doc)."""
    clips = [c for c in analysis.clips if c.media.has_video and c.shots]
    if not clips:
        raise PlanningError("no usable video clips to cut")
    setup = timeline_setup(clips, brief.rate, brief.aspect or style.aspect or "16:9")
    rate = setup.rate
    music = analysis.music
    target_s = brief.target_duration_seconds or min(
        DEFAULT_SECONDS, music.duration_seconds if music else DEFAULT_SECONDS
    )
    if music is not None:
        target_s = min(target_s, music.duration_seconds)
    target = seconds_to_frames(target_s, rate)
    min_frames = max(1, seconds_to_frames(style.pacing.min_shot_seconds, rate))
    max_frames = max(min_frames, seconds_to_frames(style.pacing.max_shot_seconds, rate))
    candidates = _candidates(clips, rate, min_frames)
    if not candidates:
        raise PlanningError(f"no shot is at least {style.pacing.min_shot_seconds:g} s long (style {style.name})")
    # Set-aside shots (weaker near-duplicates, damaged pictures) come last: used only when the
    # rest cannot fill the duration.
    aside = set_aside_shots(analysis)
    ranked = sorted(candidates, key=lambda p: ((p.clip.id, p.index) in aside, -p.score, p.order, p.index))
    firsts = []
    for clip_id in brief.must_include:
        best = next((p for p in ranked if p.clip.id == clip_id), None)
        if best is not None and best not in firsts:
            firsts.append(best)
    chosen: list[_Pick] = []
    total = 0
    for pick in firsts + [p for p in ranked if p not in firsts]:
        if total >= target:
            break
        pick.want = min(pick.room(rate), max_frames, target - total)
        if pick.want < min_frames:
            continue
        chosen.append(pick)
        total += pick.want
    chosen.sort(key=lambda p: (p.order, p.shot.start))
    warnings: list[str] = []
    beat_sync = music is not None and style.pacing.cut_on != "any"
    bounds = _beat_bounds(chosen, rate, beat_frames(music, rate)) if beat_sync and music else None
    cuts: list[Cut] = []
    record = 0
    for n, pick in enumerate(chosen):
        length = pick.want if bounds is None else bounds[n]
        if length <= 0:
            continue
        src_len = rescale_frames(length, rate, pick.clip.media.rate)
        # Centre the used part in the shot: the action is rarely in the first frames of a take.
        start = pick.lo + (pick.hi - pick.lo - src_len) // 2
        cuts.append(
            Cut(
                clip_id=pick.clip.id,
                source_in=start,
                source_out=start + src_len,
                record_in=record,
                record_out=record + length,
                reason=f"top shot: {pick.clip.id} shot {pick.index + 1} scores {pick.score:.2f}",
            )
        )
        record += length
    if not cuts:
        raise PlanningError("no shot fits the highlights edit")
    got = record / float(rate)
    if got < target_s - style.rules.duration_tolerance_seconds:
        warnings.append(f"only {got:.1f} s of usable shots (target {target_s:g} s)")
    for clip_id in brief.must_include:
        if clip_id not in {c.clip_id for c in cuts}:
            warnings.append(f"must-include clip {clip_id!r} has no usable shot")
    return EditPlan(
        name=brief.name,
        **setup.plan_fields(),
        cuts=cuts,
        music=MusicBed(path=str(music.path), record_in=0, record_out=record) if music else None,
        markers=music_markers(music, rate, record) if music else [],
        planner=PLANNER_NAME,
        warnings=warnings,
        aspect=brief.aspect or style.aspect or "16:9",
        mode="highlights",
        style=style.name,
        remote_ops=remote_ops_for(clips, cuts, setup.width, setup.height, style.rules.stabilize_shake),
    )


def _beat_bounds(chosen: list[_Pick], rate: Fraction, beats: list[int]) -> list[int]:
    """Record lengths so that every boundary lies on a beat and no shot is asked for more frames
    than it has; a shot that cannot reach the next beat gets length 0 (left out)."""
    lengths: list[int] = []
    pos = 0
    for pick in chosen:
        room = pick.room(rate)
        reachable = [b for b in beats if pos < b <= pos + room]
        if not reachable:
            lengths.append(0)
            continue
        end = min(reachable, key=lambda b: (abs(b - (pos + pick.want)), b))
        lengths.append(end - pos)
        pos = end
    return lengths
