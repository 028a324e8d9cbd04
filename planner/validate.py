"""Check an EditPlan against the analysis it was made from."""

from __future__ import annotations

from collections import defaultdict

from analysis.errors import MontageError
from analysis.models import AnalysisResult
from analysis.timebase import rescale_frames
from planner.models import EditPlan


class PlanError(MontageError):
    """An EditPlan that does not fit its footage; the message lists every problem found."""


def plan_problems(plan: EditPlan, analysis: AnalysisResult, *, allow_across_cuts: bool = False) -> list[str]:
    """Every way ``plan`` is inconsistent with ``analysis``; empty when it is sound."""
    problems: list[str] = []
    clips = {c.id: c for c in analysis.clips}
    by_track: dict[tuple[str, int], list] = defaultdict(list)
    for n, cut in enumerate(plan.cuts, 1):
        clip = clips.get(cut.clip_id)
        if clip is None:
            problems.append(f"cut {n}: unknown clip id {cut.clip_id!r}")
            continue
        if cut.source_out > clip.media.frames:
            problems.append(
                f"cut {n} ({cut.clip_id}): source out {cut.source_out} is past the clip's {clip.media.frames} frames"
            )
        if not allow_across_cuts and not any(s.start <= cut.source_in and cut.source_out <= s.end for s in clip.shots):
            problems.append(
                f"cut {n} ({cut.clip_id}): range [{cut.source_in}, {cut.source_out}) crosses a shot boundary"
            )
        expected = rescale_frames(cut.record_duration, plan.rate, clip.media.rate)
        if cut.source_out - cut.source_in != expected:
            problems.append(
                f"cut {n} ({cut.clip_id}): source length {cut.source_out - cut.source_in} != "
                f"record length {cut.record_duration} rescaled to the clip rate ({expected})"
            )
        by_track[(cut.kind, cut.track)].append(cut)
    for (kind, track), cuts in by_track.items():
        cuts.sort(key=lambda c: c.record_in)
        for a, b in zip(cuts, cuts[1:]):
            if b.record_in < a.record_out:
                problems.append(f"{kind} track {track}: {a.clip_id} and {b.clip_id} overlap at frame {b.record_in}")
    return problems


def validate_plan(plan: EditPlan, analysis: AnalysisResult, **kwargs: bool) -> EditPlan:
    """Return ``plan`` unchanged if sound, else raise :class:`PlanError` listing the problems."""
    problems = plan_problems(plan, analysis, **kwargs)
    if problems:
        raise PlanError("edit plan is inconsistent with the footage: " + "; ".join(problems))
    return plan
