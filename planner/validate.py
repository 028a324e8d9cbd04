"""Check an EditPlan against the analysis it was made from (and the brief and style it follows).

Checks, each reported as one readable line (the LLM planner feeds them back to the model):
- every cut names a clip in the analysis; its source range lies inside the clip and inside one
  shot (unless the style, or the caller, allows ranges across hard cuts);
- source and record lengths agree under the mixed-rate rule (``rescale_frames``);
- no two cuts overlap on one track; every set-aside shot the plan lists exists;
- dissolves have source handles inside the clip (and shot) and are no longer than either side;
- with a brief: the length is within tolerance of the target — for a music montage within
  ``max(style tolerance, one beat)`` either way; for talking head and highlights, which can run
  short of material, not longer than target + tolerance;
- with a style that cuts on the beat and music: every cut point is within one frame of a beat (or a
  half beat, or a bar line inside a beatless intro), counted from the music's in point.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

from analysis.models import AnalysisResult, ClipAnalysis
from kernel.errors import MontageError
from kernel.timebase import rescale_frames, seconds_to_frames
from planner.brief import Brief
from planner.models import Cut, EditPlan
from planner.style import Style
from planner.timeline_setup import cut_points


class PlanError(MontageError):
    """An EditPlan that does not fit its footage; the message lists every problem found."""


def _shot_of(clip: ClipAnalysis, lo: int, hi: int) -> bool:
    return any(s.start <= lo and hi <= s.end for s in clip.shots)


def plan_problems(
    plan: EditPlan,
    analysis: AnalysisResult,
    *,
    allow_across_cuts: bool = False,
    style: Style | None = None,
    brief: Brief | None = None,
) -> list[str]:
    """Every way ``plan`` is inconsistent with ``analysis`` (and ``brief``/``style``); [] when sound."""
    problems: list[str] = []
    across = allow_across_cuts or (style is not None and style.rules.allow_across_shots)
    clips = {c.id: c for c in analysis.clips}
    by_track: dict[tuple[str, int], list[Cut]] = defaultdict(list)
    for n, cut in enumerate(plan.cuts, 1):
        by_track[(cut.kind, cut.track)].append(cut)
        clip = clips.get(cut.clip_id)
        if clip is None:
            problems.append(f"cut {n}: unknown clip id {cut.clip_id!r}")
            continue
        if cut.source_out > clip.media.frames:
            problems.append(
                f"cut {n} ({cut.clip_id}): source out {cut.source_out} is past the clip's {clip.media.frames} frames"
            )
        if not across and not _shot_of(clip, cut.source_in, cut.source_out):
            problems.append(
                f"cut {n} ({cut.clip_id}): range [{cut.source_in}, {cut.source_out}) crosses a shot boundary"
            )
        expected = rescale_frames(cut.record_duration, plan.rate, clip.media.rate)
        if cut.source_out - cut.source_in != expected:
            problems.append(
                f"cut {n} ({cut.clip_id}): source length {cut.source_out - cut.source_in} != "
                f"record length {cut.record_duration} rescaled to the clip rate ({expected})"
            )
    for aside in plan.set_aside:
        clip = clips.get(aside.clip_id)
        if clip is None or not 0 <= aside.shot < len(clip.shots):
            problems.append(f"set-aside shot {aside.shot + 1} of {aside.clip_id!r} is not in the analysis")
    for (kind, track), cuts in by_track.items():
        cuts.sort(key=lambda c: c.record_in)
        for a, b in zip(cuts, cuts[1:]):
            if b.record_in < a.record_out:
                problems.append(f"{kind} track {track}: {a.clip_id} and {b.clip_id} overlap at frame {b.record_in}")
        problems.extend(_transition_problems(plan, cuts, clips, across))
    if brief is not None and brief.target_duration_seconds is not None:
        problems.extend(_duration_problems(plan, analysis, brief, style))
    if style is not None and style.pacing.cut_on != "any" and analysis.music is not None and plan.music is not None:
        problems.extend(_beat_problems(plan, analysis))
    return problems


def _transition_problems(plan: EditPlan, cuts: list[Cut], clips: dict[str, ClipAnalysis], across: bool) -> list[str]:
    """Dissolves need an adjacent outgoing cut and handles on both sides inside the media."""
    problems = []
    for prev, cut in zip([None, *cuts], cuts):
        tr = cut.transition_in
        if tr is None or tr.kind == "cut":
            continue
        where = f"dissolve into {cut.clip_id} at frame {cut.record_in}"
        if prev is None or prev.record_out != cut.record_in:
            problems.append(f"{where}: nothing directly before it to dissolve from")
            continue
        if tr.frames > min(prev.record_duration, cut.record_duration):
            problems.append(f"{where}: {tr.frames} frames is longer than a neighbouring cut")
        a, b = clips.get(prev.clip_id), clips.get(cut.clip_id)
        if a is None or b is None:
            continue
        head = tr.frames // 2
        before = cut.source_in - rescale_frames(head, plan.rate, b.media.rate)
        after = prev.source_out + rescale_frames(tr.frames - head, plan.rate, a.media.rate)
        if before < 0 or (not across and not _shot_of(b, before, cut.source_out)):
            problems.append(f"{where}: {cut.clip_id} has no {head}-frame handle before its in point")
        if after > a.media.frames or (not across and not _shot_of(a, prev.source_in, after)):
            problems.append(f"{where}: {prev.clip_id} has no {tr.frames - head}-frame handle after its out point")
    return problems


def _beat_period_frames(plan: EditPlan, analysis: AnalysisResult) -> float:
    if analysis.music is None:
        return 0.0
    return float(plan.rate) * 60.0 / analysis.music.beat_grid.tempo_bpm


def _duration_problems(plan: EditPlan, analysis: AnalysisResult, brief: Brief, style: Style | None) -> list[str]:
    assert brief.target_duration_seconds is not None
    target_s = brief.target_duration_seconds
    if plan.mode == "music_montage" and analysis.music is not None:
        target_s = min(target_s, analysis.music.duration_seconds)
    target = seconds_to_frames(target_s, plan.rate)
    tolerance = seconds_to_frames(style.rules.duration_tolerance_seconds if style else 1.0, plan.rate)
    if plan.mode == "music_montage" and analysis.music is not None:
        tolerance = max(tolerance, int(_beat_period_frames(plan, analysis)) + 1)
    got = plan.duration_frames
    if got > target + tolerance:
        return [f"the edit is {got} frames long, more than the {target}-frame target plus {tolerance} frames"]
    if plan.mode == "music_montage" and got < target - tolerance:
        return [f"the edit is {got} frames long, less than the {target}-frame target minus {tolerance} frames"]
    return []


def _beat_problems(plan: EditPlan, analysis: AnalysisResult) -> list[str]:
    """Every video cut point (and the end) within one frame of a place the music allows a cut:
    a beat, a half beat or an intro bar line (``planner.timeline_setup.cut_points``), in record
    frames for the music as placed (its music-in point at the bed's record in)."""
    music = analysis.music
    assert music is not None
    bed = plan.music
    source_in = bed.source_in_seconds if bed is not None else 0.0
    shift = bed.record_in if bed is not None else 0
    beats = sorted(f + shift for f in cut_points(music, plan.rate, source_in))
    if not beats:
        return ["the style cuts on the beat but the music has no beats"]
    points = sorted({c.record_in for c in plan.cuts if c.kind == "video" and c.record_in > 0})
    points.append(plan.duration_frames)
    problems = []
    for point in points:
        k = bisect.bisect_left(beats, point)
        nearest = min(beats[max(0, k - 1) : k + 1], key=lambda b: abs(b - point))
        if abs(nearest - point) > 1:
            problems.append(f"cut at frame {point} is {abs(nearest - point)} frames off the nearest beat ({nearest})")
    return problems


def validate_plan(plan: EditPlan, analysis: AnalysisResult, **kwargs) -> EditPlan:
    """Return ``plan`` unchanged if sound, else raise :class:`PlanError` listing the problems."""
    problems = plan_problems(plan, analysis, **kwargs)
    if problems:
        raise PlanError("edit plan is inconsistent with the footage: " + "; ".join(problems))
    return plan
