"""Edit planning: a Brief and analysis in, a validated EditPlan out."""

from __future__ import annotations

import importlib
from typing import Any

# The curated public API: each name, and the module that defines it. Imported on first use (PEP 562),
# so ``import planner`` stays cheap and a CLI start pays only for what it uses.
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
