"""The planner's front door: a brief (and optional LLM settings) in, a validated EditPlan out."""

from __future__ import annotations

from analysis.models import AnalysisResult
from planner.brief import Brief
from planner.heuristic import plan_heuristic, resolve_style, with_edit_report
from planner.llm_config import LLMConfig
from planner.models import EditPlan
from planner.style import Style


def make_plan(
    analysis: AnalysisResult,
    brief: Brief,
    style: Style | str | None = None,
    llm: LLMConfig | None = None,
) -> EditPlan:
    """Plan ``brief`` over ``analysis``: with the LLM when ``llm`` is given (falling back to the
    heuristic with a warning when it fails), else with the heuristic planner for the brief's mode.
    The result is always validated against the analysis, the brief and the style."""
    chosen = resolve_style(brief, style)
    if llm is not None:
        from planner.llm_planner import LLMPlanner  # imports the openai client only when asked for

        return with_edit_report(LLMPlanner(llm).plan(analysis, brief, chosen), analysis, chosen)
    return plan_heuristic(analysis, brief, chosen)
