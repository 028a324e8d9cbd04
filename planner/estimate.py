"""Estimates before spending: GPU seconds, money and wall time per shot and in total, and a plan made
to fit the brief's budget and deadline.

:func:`estimate_plan` prices every shot of a :class:`~planner.production.ProductionPlan` from the tool
catalogue (:mod:`planner.tool_catalogue`) and schedules its GPU jobs on the worker's slots behind the
work already there (:class:`QueueState`, read from the worker by the app: ``montage_bridge.commands
.bench_tools.read_queue``). Footage and title shots cost nothing here (they are cut or rendered
locally). The schedule is list scheduling in shot order: each job takes the slot that frees first,
occupies it for the tool's slot seconds and is back after the tool's wall seconds; a shot's
``queue_wait_seconds`` is how long its first job waited for a slot, its ``wall_seconds`` when its
last job is back (from now), and the plan's total wall time when the last job of all is back.

:func:`fit_plan` enforces ``budget`` (GPU money + the LLM's, in the catalogue's currency) and
``deadline_seconds``: while over, it makes the one change that gives up the least quality per unit
of excess removed — a cheaper tool of the same mode for a generated shot, or one of the shot's
``alternatives`` (footage first, as sourcing ranks them) — and records each change in the plan's
notes. When nothing left helps, the plan says so, with what it would take.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from pydantic import Field

from kernel.errors import MontageError
from kernel.media import Model
from planner.production import Estimate, ProductionPlan, ProductionShot, ShotSource
from planner.tool_catalogue import CatalogueError, Tool, ToolCatalogue

_EPS = 1e-9


class EstimateError(MontageError):
    """A production plan that cannot be estimated (a tool missing from the catalogue, a mode it lacks)."""


class QueueState(Model):
    """The worker's queue when the estimate is made. Seconds are wall-clock seconds from now."""

    worker: str | None = Field(None, description="the worker's URL; None when no worker was asked")
    slots: int = Field(1, ge=1, le=10_000, description="jobs the live workers run at once")
    running_remaining_s: list[float] = Field(default_factory=list, description="seconds left of each running job")
    queued_done_s: list[float] = Field(
        default_factory=list, description="seconds until each queued job is done, the worker's own estimate"
    )
    queued: int = Field(0, ge=0, description="jobs waiting ahead of ours whose run time the worker cannot tell")
    queued_job_s: float | None = Field(
        None, ge=0, description="seconds each queued job is assumed to take; None: as long as this plan's jobs"
    )
    notes: list[str] = Field(default_factory=list, description="how the figures were read, and what was assumed")


@dataclass
class ShotCost:
    """One shot's GPU work: its jobs' slot and wall seconds, money, and whether figures were measured."""

    jobs: list[tuple[float, float]] = field(default_factory=list)  # (slot seconds, wall seconds) per job
    gpu_seconds: float = 0.0
    cost: float = 0.0
    measured: bool = True
    tool: Tool | None = None


def source_tool(catalogue: ToolCatalogue, source: ShotSource, where: str) -> Tool:
    """The catalogue tool a generate source names, checked to make its mode."""
    assert source.tool is not None and source.mode is not None
    try:
        tool = catalogue.get(source.tool)
    except CatalogueError as exc:
        raise EstimateError(f"{where}: {exc}") from exc
    if tool.op != "generate":
        raise EstimateError(f"{where}: tool {tool.id} runs op {tool.op}, not generate")
    if source.mode not in tool.modes:
        modes = ", ".join(tool.modes) or "nothing"
        raise EstimateError(f"{where}: tool {tool.id} makes {modes}, not {source.mode}")
    return tool


def shot_cost(catalogue: ToolCatalogue, shot: ProductionShot, source: ShotSource | None = None) -> ShotCost:
    """GPU work of ``shot`` with ``source`` (default: its own source)."""
    source = source or shot.source
    if source.kind != "generate":
        return ShotCost()
    tool = source_tool(catalogue, source, f"shot {shot.need.index}")
    count = tool.jobs_for(shot.need.seconds)
    each = shot.need.seconds / count
    slot = tool.gpu_seconds(each) / tool.gpus
    wall = max(slot, tool.run_seconds(each))
    gpu = tool.gpu_seconds(each) * count
    return ShotCost(
        jobs=[(slot, wall)] * count,
        gpu_seconds=gpu,
        cost=gpu / 3600.0 * catalogue.price_of(tool),
        measured=tool.measured,
        tool=tool,
    )


def estimate_plan(plan: ProductionPlan, catalogue: ToolCatalogue, queue: QueueState | None = None) -> ProductionPlan:
    """A copy of ``plan`` with every shot's estimate, the total, the currency and notes on what was assumed."""
    costs = [shot_cost(catalogue, shot) for shot in plan.shots]
    return _with_estimates(plan, catalogue, costs, queue, notes=True)


@dataclass
class _Schedule:
    """When each shot's first job starts and its last is back (seconds from now), and the plan's end."""

    waits: list[float]
    dones: list[float]
    end: float
    external_wait: float
    queued_each: float


def _schedule(costs: list[ShotCost], queue: QueueState) -> _Schedule:
    own_jobs = [slot for c in costs for slot, _ in c.jobs]
    queued_each = queue.queued_job_s
    if queued_each is None:
        queued_each = sum(own_jobs) / len(own_jobs) if own_jobs else 0.0
    # Slots free at these times (seconds from now), after the jobs already running and queued: the
    # last job each slot runs ends last, so the slots free up at the latest known end times.
    ends = sorted(max(0.0, t) for t in [*queue.running_remaining_s, *queue.queued_done_s])
    free = sorted(ends[-queue.slots :] + [0.0] * max(0, queue.slots - len(ends)))
    for _ in range(queue.queued):
        heapq.heapreplace(free, free[0] + queued_each)
    external_wait = free[0] if own_jobs else 0.0
    waits: list[float] = []
    dones: list[float] = []
    for cost in costs:
        first_start: float | None = None
        done = 0.0
        for slot, wall in cost.jobs:
            start = free[0]
            heapq.heapreplace(free, start + slot)
            first_start = start if first_start is None else first_start
            done = max(done, start + wall)
        waits.append(first_start or 0.0)
        dones.append(done)
    return _Schedule(waits, dones, max(dones, default=0.0), external_wait, queued_each)


_NO_WORKER = QueueState(notes=["no worker asked: no queue wait counted, one slot assumed"])


def _with_estimates(
    plan: ProductionPlan,
    catalogue: ToolCatalogue,
    costs: list[ShotCost],
    queue: QueueState | None,
    *,
    notes: bool,
) -> ProductionPlan:
    settings = catalogue.settings()
    queue = queue or _NO_WORKER
    plan_s = _schedule(costs, queue)
    shots = [
        shot.model_copy(
            update={
                "estimate": Estimate(
                    gpu_seconds=cost.gpu_seconds,
                    cost=cost.cost,
                    wall_seconds=done,
                    queue_wait_seconds=wait,
                    measured=cost.measured,
                )
            }
        )
        for shot, cost, wait, done in zip(plan.shots, costs, plan_s.waits, plan_s.dones)
    ]
    total = Estimate(
        gpu_seconds=sum(c.gpu_seconds for c in costs),
        cost=sum(c.cost for c in costs),
        wall_seconds=plan_s.end,
        queue_wait_seconds=plan_s.external_wait,
        measured=all(c.measured for c in costs),
    )
    out = plan.model_copy(update={"shots": shots, "total": total, "currency": settings.currency})
    if notes:
        own_jobs = any(c.jobs for c in costs)
        added = list(queue.notes)
        if queue.queued and queue.queued_job_s is None and own_jobs:
            added.append(
                f"{queue.queued} job(s) queued on the worker, each assumed to take as long as this plan's "
                f"average job ({plan_s.queued_each:.0f} s): the worker has not measured their ops yet"
            )
        if own_jobs and not settings.price_set:
            added.append(
                f"price per GPU-hour not set: {settings.price_per_gpu_hour:.2f} {settings.currency} assumed "
                "(`montage-bridge tools price AMOUNT`)"
            )
        unmeasured = sorted({c.tool.id for c in costs if c.tool is not None and not c.tool.measured})
        if unmeasured:
            added.append(
                f"default figures (published reports, not measured here) for: {', '.join(unmeasured)}; "
                "run `montage-bridge bench-tools` on the worker to measure them"
            )
        out.notes = [*plan.notes, *(n for n in added if n not in plan.notes)]
    return out


# -- fitting the brief's caps ------------------------------------------------------------------------


@dataclass
class FitResult:
    plan: ProductionPlan
    fits: bool
    changes: list[str]


def _quality(catalogue: ToolCatalogue, source: ShotSource) -> float:
    if source.kind == "generate" and source.tool:
        try:
            return catalogue.get(source.tool).quality
        except CatalogueError:
            return 0.0
    if source.kind == "footage":
        return source.match_score if source.match_score is not None else 0.5
    return 0.2  # a title card where a picture was wanted


def _label(source: ShotSource) -> str:
    if source.kind == "generate":
        return f"generate with {source.tool} ({source.mode})"
    if source.kind == "footage":
        return f"footage {source.clip_id} {source.source_in_seconds:.2f}-{source.source_out_seconds:.2f} s"
    return f"title {source.text!r}"


def _load(
    costs: list[ShotCost],
    sched: _Schedule,
    llm_cost: float,
    budget: float | None,
    deadline: float | None,
    slots: int,
) -> tuple[float, float]:
    """(excess over the caps, the summed load of the dimensions that are over) — both 0 when it fits."""
    excess = secondary = 0.0
    if budget is not None:
        money = sum(c.cost for c in costs) + llm_cost
        load = money / budget if budget > 0 else (0.0 if money <= _EPS else 1.0 + money)
        if load > 1 + _EPS:
            excess += load - 1
            secondary += load
    if deadline is not None:
        load = sched.end / deadline
        if load > 1 + _EPS:
            excess += load - 1
            # Wall time is set by the busiest slot: count the work of every shot, or two long shots on
            # two slots would each look useless to shorten.
            secondary += sum(d - w for d, w in zip(sched.dones, sched.waits)) / (deadline * slots)
    return excess, secondary


def _candidates(catalogue: ToolCatalogue, shot: ProductionShot) -> list[tuple[ShotSource, list[ShotSource]]]:
    """Other sources for ``shot``: (new source, the alternatives it then keeps)."""
    found: list[tuple[ShotSource, list[ShotSource]]] = []
    source = shot.source
    if source.kind == "generate" and source.mode is not None:
        for tool in catalogue.generators(source.mode):
            if tool.id != source.tool:
                found.append((source.model_copy(update={"tool": tool.id}), list(shot.alternatives)))
    for number, alt in enumerate(shot.alternatives):
        if alt.kind == "generate":
            try:
                source_tool(catalogue, alt, f"shot {shot.need.index} alternative {number}")
            except EstimateError:
                continue
        rest = [source, *shot.alternatives[:number], *shot.alternatives[number + 1 :]]
        found.append((alt, rest))
    return found


def fit_plan(
    plan: ProductionPlan,
    catalogue: ToolCatalogue,
    queue: QueueState | None = None,
    *,
    budget: float | None = None,
    deadline_seconds: float | None = None,
) -> FitResult:
    """Estimate ``plan`` and change sources until it is within ``budget`` and ``deadline_seconds``
    (default: the plan's own). Each change goes into the plan's notes; so does a failure to fit."""
    budget = plan.budget if budget is None else budget
    deadline = plan.deadline_seconds if deadline_seconds is None else deadline_seconds
    plan = plan.model_copy(update={"budget": budget, "deadline_seconds": deadline})
    slots = queue.slots if queue else 1
    the_queue = queue or _NO_WORKER
    shots = list(plan.shots)
    costs = [shot_cost(catalogue, shot) for shot in shots]
    currency = catalogue.settings().currency
    options: dict[int, list[tuple[ShotSource, list[ShotSource], ShotCost, float]]] = {}
    changes: list[str] = []
    for _ in range(20 * max(1, len(shots))):
        sched = _schedule(costs, the_queue)
        excess, secondary = _load(costs, sched, plan.llm.cost, budget, deadline, slots)
        if excess <= _EPS:
            break
        best: tuple[float, int, ShotSource, list[ShotSource], ShotCost, _Schedule] | None = None
        for index, shot in enumerate(shots):
            if index not in options:  # another source for this shot: (source, alternatives kept, cost, quality)
                options[index] = [
                    (source, rest, shot_cost(catalogue, shot, source), _quality(catalogue, source))
                    for source, rest in _candidates(catalogue, shot)
                ]
            old_quality = _quality(catalogue, shot.source)
            for source, rest, cost, quality in options[index]:
                trial = [*costs[:index], cost, *costs[index + 1 :]]
                trial_sched = _schedule(trial, the_queue)
                new_excess, new_secondary = _load(trial, trial_sched, plan.llm.cost, budget, deadline, slots)
                better = new_excess < excess - _EPS or (
                    new_excess <= excess + _EPS and new_secondary < secondary - _EPS
                )
                saving = (excess - new_excess) + 1e-3 * (secondary - new_secondary)
                if not better or saving <= _EPS:
                    continue
                score = (max(0.0, old_quality - quality) + 0.01) / saving
                if best is None or score < best[0] - _EPS:
                    best = (score, index, source, rest, cost, trial_sched)
        if best is None:
            break
        _, index, source, rest, cost, trial_sched = best
        old = shots[index]
        changes.append(
            f"shot {old.need.index}: {_label(old.source)} → {_label(source)} "
            f"(saves {costs[index].cost - cost.cost:.2f} {currency} and "
            f"{sched.end - trial_sched.end:.0f} s of wall time)"
        )
        shots[index] = old.model_copy(update={"source": source, "alternatives": rest})
        costs[index] = cost
        options.pop(index, None)
    current = _with_estimates(plan.model_copy(update={"shots": shots}), catalogue, costs, queue, notes=True)
    fits = current.within_budget and current.within_deadline
    notes = [*current.notes, *changes]
    if changes:
        why = " and ".join(w for w, cap in (("budget", budget), ("deadline", deadline)) if cap is not None)
        notes.append(f"{len(changes)} source change(s) made to fit the brief's {why}")
    if not fits:
        notes.extend(_why_not(current, budget, deadline))
    return FitResult(plan=current.model_copy(update={"notes": notes}), fits=fits, changes=changes)


def _why_not(plan: ProductionPlan, budget: float | None, deadline: float | None) -> list[str]:
    lines: list[str] = []
    generated = [s.need.index for s in plan.shots if s.source.kind == "generate"]
    hint = (
        f"give shots {', '.join(map(str, generated))} footage alternatives, or add cheaper tools"
        if generated
        else "no shot is generated: nothing on the GPU to cut"
    )
    if budget is not None and not plan.within_budget:
        money = plan.total.cost + plan.llm.cost
        lines.append(
            f"cannot fit the budget of {budget:.2f} {plan.currency}: the cheapest sources found cost "
            f"{money:.2f} (GPU {plan.total.cost:.2f} + LLM {plan.llm.cost:.2f}); raise the budget or {hint}"
        )
    if deadline is not None and not plan.within_deadline:
        lines.append(
            f"cannot meet the deadline of {deadline:.0f} s: the fastest sources found take "
            f"{plan.total.wall_seconds:.0f} s ({plan.total.queue_wait_seconds:.0f} s of it waiting for the "
            f"worker's queue); extend the deadline, add worker slots, or {hint}"
        )
    return lines
