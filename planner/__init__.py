"""Edit planning: a Brief and analysis in, a validated EditPlan out."""

from __future__ import annotations

from kernel.lazy_api import lazy_exports

# The curated public API: each name, and the module that defines it (loaded on first use).
_EXPORTS: dict[str, str] = {
    "Brief": "planner.brief",
    "load_brief": "planner.brief",
    "Style": "planner.style",
    "load_style": "planner.style",
    "EditPlan": "planner.models",
    "Cut": "planner.models",
    "plan_heuristic": "planner.heuristic",
    "plan_with_llm": "planner.llm_planner",
    "validate_plan": "planner.validate",
    "plan_problems": "planner.validate",
    "load_plan": "planner.plan_io",
    "write_plan": "planner.plan_io",
    "ProductionPlan": "planner.production",
    "ShotNeed": "planner.production",
    "ShotSource": "planner.production",
    "source_shots": "planner.sourcing",
    "search_shots": "planner.shot_search",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
