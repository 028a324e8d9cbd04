"""`plan --estimate`: the production plan for the brief's shots, estimated before anything is spent.

The shots come from the brief's shot list, sourced over the analysis (:func:`planner.sourcing.source_shots`:
footage, generation on the GPU worker, title cards), or from a production plan file (``--production``);
:func:`planner.estimate.fit_plan` prices them from the tool catalogue against the worker's queue (with
``--worker``) and makes them fit the brief's budget and deadline.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from analysis.models import AnalysisResult
from kernel.atomic_io import write_text_atomic
from kernel.errors import MontageError
from planner.brief import Brief
from planner.estimate import FitResult, QueueState, fit_plan
from planner.production import ProductionPlan, ProductionPlanError, read_production_plan
from planner.tool_catalogue import open_catalogue


class EstimateInputError(MontageError):
    """``plan --estimate`` has nothing to estimate, or a production plan file it cannot read."""


def load_production(path: Path) -> ProductionPlan:
    """A production plan JSON file, validated; the error names the file and the field."""
    try:
        return read_production_plan(path, "--production")
    except ProductionPlanError as exc:
        raise EstimateInputError(str(exc)) from exc


def production_estimate(
    analysis: AnalysisResult,
    brief: Brief,
    *,
    production: Path | None = None,
    worker: str | None = None,
    token: str | None = None,
    catalogue: Path | None = None,
) -> FitResult:
    """Source (or load) the production plan, read the worker's queue, estimate and fit the brief's caps."""
    queue: QueueState | None = None
    if worker:
        from gpu_remote.client import GpuClient
        from montage_bridge.commands.bench_tools import read_queue

        queue = read_queue(GpuClient(worker, token))
    with open_catalogue(catalogue) as cat:
        if production is not None:
            plan = load_production(production)
        else:
            from planner.sourcing import needs_from_brief, source_shots  # the search stack: only when sourcing

            needs = needs_from_brief(brief)
            if not needs:
                raise EstimateInputError(
                    'plan --estimate: the brief has no shot list: add shots = ["a dog on the beach", …] to the '
                    "brief, or pass --production FILE"
                )
            plan = source_shots(needs, analysis, brief, cat)
        plan = plan.model_copy(
            update={
                "budget": brief.budget if brief.budget is not None else plan.budget,
                "deadline_seconds": brief.deadline_seconds
                if brief.deadline_seconds is not None
                else plan.deadline_seconds,
            }
        )
        return fit_plan(plan, cat, queue)


def write_production(plan: ProductionPlan, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, plan.model_dump_json(indent=1) + "\n")


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def estimate_table(plan: ProductionPlan) -> Table:
    """Per shot and in total: source, tool, GPU seconds, money, queue wait and when it is done."""
    cur = plan.currency
    table = Table(title=f"Production estimate — {plan.name}: {len(plan.shots)} shot(s)")
    columns = ("#", "shot", "s", "source", "tool / clip", "GPU s", cur, "queue s", "done in s", "figures")
    for column in columns:
        table.add_column(column, justify="left" if column in ("shot", "source", "tool / clip", "figures") else "right")
    for shot in plan.shots:
        src, est = shot.source, shot.estimate
        what = (
            src.tool if src.kind == "generate" else src.clip_id if src.kind == "footage" else _short(src.text or "", 24)
        )
        if src.kind == "generate":
            figures = "measured" if est.measured else "default"
        else:
            figures = ""
        table.add_row(
            str(shot.need.index),
            _short(shot.need.description),
            f"{shot.need.seconds:.1f}",
            src.kind + (f" ({src.mode})" if src.mode else ""),
            what or "",
            f"{est.gpu_seconds:.0f}",
            f"{est.cost:.2f}",
            f"{est.queue_wait_seconds:.0f}",
            f"{est.wall_seconds:.0f}",
            figures,
        )
    total = plan.total
    table.add_section()
    table.add_row("", "total", f"{sum(s.need.seconds for s in plan.shots):.1f}", "", "",
                  f"{total.gpu_seconds:.0f}", f"{total.cost:.2f}", f"{total.queue_wait_seconds:.0f}",
                  f"{total.wall_seconds:.0f}", "measured" if total.measured else "some default")  # fmt: skip
    return table


def cap_lines(plan: ProductionPlan) -> list[str]:
    """The budget and deadline against the totals, one line each (none without caps)."""
    lines = []
    if plan.budget is not None:
        money = plan.total.cost + plan.llm.cost
        verdict = "within" if plan.within_budget else "OVER"
        lines.append(
            f"budget {plan.budget:.2f} {plan.currency}: GPU {plan.total.cost:.2f} + LLM {plan.llm.cost:.2f} "
            f"= {money:.2f} ({verdict})"
        )
    if plan.deadline_seconds is not None:
        verdict = "within" if plan.within_deadline else "OVER"
        lines.append(f"deadline {plan.deadline_seconds:.0f} s: done in {plan.total.wall_seconds:.0f} s ({verdict})")
    return lines
