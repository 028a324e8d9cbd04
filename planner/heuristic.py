"""Pick and run the heuristic planner for a brief's mode, then validate what it made."""

from __future__ import annotations

from analysis.models import AnalysisResult
from planner.brief import Brief
from planner.edit_quality import edit_quality, used_shots
from planner.highlights import plan_highlights
from planner.models import EditPlan
from planner.music_montage import plan_music_montage, set_aside_list
from planner.scoring import set_aside_shots
from planner.style import DEFAULT_STYLE_FOR_MODE, Style, load_style
from planner.talking_head import plan_talking_head
from planner.validate import validate_plan

PLANNERS = {
    "music_montage": plan_music_montage,
    "talking_head": plan_talking_head,
    "highlights": plan_highlights,
}


def resolve_style(brief: Brief, style: Style | str | None = None) -> Style:
    """The style to plan in: the argument, else the brief's, else the mode's default."""
    if isinstance(style, Style):
        return style
    return load_style(style or brief.style or DEFAULT_STYLE_FOR_MODE[brief.mode])


def plan_heuristic(analysis: AnalysisResult, brief: Brief, style: Style) -> EditPlan:
    """Run the mode's heuristic planner; the result is validated against analysis, brief and style,
    and carries the set-aside shots and its edit-quality metrics."""
    plan = PLANNERS[brief.mode](analysis, brief, style)
    if brief.mode not in style.modes:
        plan.warnings.append(f"style {style.name} is not meant for {brief.mode.replace('_', ' ')}")
    validate_plan(plan, analysis, style=style, brief=brief)
    return with_edit_report(plan, analysis, style)


def with_edit_report(plan: EditPlan, analysis: AnalysisResult, style: Style | None) -> EditPlan:
    """``plan`` with its set-aside list (when the planner did not give one) and edit-quality metrics."""
    if not plan.set_aside:
        plan.set_aside = set_aside_list(set_aside_shots(analysis), used_shots(plan, analysis))
    plan.edit_quality = edit_quality(plan, analysis, style)
    return plan
