"""When a queued job will start and finish: its place in its route's queue, the live workers that
serve that route and their slots, and the op's measured run time.

The estimate replays the queue: every slot of a live worker serving the route is free now or when
its running job ends (that job's own ``eta_s``, else the op's typical run time minus what it has
run); each job ahead takes the first free slot and holds it for its op's typical run time (the mean
of its last 20 successful runs, :meth:`JobStore.typical_run_s`). So ``ahead`` jobs on ``slots``
slots cost about ``ahead / slots`` run times, and a job waiting for an automatic retry does not
start before its ``not_before``. Jobs of other routes that share a worker's slots are not foreseen
(they show up as running jobs once they start).
"""

from __future__ import annotations

import heapq
import time
from typing import Any

from gpu_remote.models import Job, JobState, QueueInfo
from gpu_remote.registry import Registry
from gpu_remote.routing import unserved_reason
from gpu_remote.store import JobStore


def _running_left(store: JobStore, owners: list[str], now: float) -> list[float | None]:
    """Seconds each job running on ``owners`` has left (None when nothing measures it). Read from
    the leases in the store, not the workers' last heartbeat, which may be 2 s old."""
    left: list[float | None] = []
    for job in store.running_on(owners):
        if job.progress.eta_s is not None:
            left.append(max(0.0, job.progress.eta_s - (now - job.updated_at)))
            continue
        typical = store.typical_run_s(job.op)
        started = job.started_at if job.started_at is not None else now
        left.append(None if typical is None else max(0.0, typical - (now - started)))
    return left


def _route_plan(
    store: JobStore, route: str, live: list[dict[str, Any]], now: float
) -> tuple[dict[str, QueueInfo], dict[str, float | None]]:
    """Queue info and estimated seconds-to-finish of every queued job of ``route``."""
    serving = [w for w in live if route in w.get("routes", [])]
    slots = sum(max(0, int(w.get("slots", 0))) for w in serving)
    queue = store.queue_of(route)
    infos: dict[str, QueueInfo] = {}
    finish: dict[str, float | None] = {}
    reason = None if serving else unserved_reason(route, live)
    left = _running_left(store, sorted(str(w["name"]) for w in serving), now)
    # The replay: when each slot is next free (seconds from now); None poisons what follows.
    known = all(x is not None for x in left)
    free: list[float] = sorted(float(x) for x in left if x is not None)[:slots]
    free += [0.0] * max(0, slots - len(free))
    heapq.heapify(free)
    for ahead, (job_id, op, not_before) in enumerate(queue):
        typical = store.typical_run_s(op)
        starts_in: float | None = None
        if free and known:
            slot_free = heapq.heappop(free)
            starts_in = max(slot_free, not_before - now, 0.0)
            if typical is None:
                known = False  # nothing measured: this job's start is known, the next ones' are not
            else:
                heapq.heappush(free, starts_in + typical)
        job_reason = reason
        if job_reason is None and not_before > now:
            job_reason = f"waiting {not_before - now:.0f} s before an automatic retry"
        infos[job_id] = QueueInfo(
            ahead=ahead,
            running=len(left),
            slots=slots,
            starts_in_s=None if starts_in is None else round(starts_in, 1),
            reason=job_reason,
        )
        finish[job_id] = None if starts_in is None or typical is None else round(starts_in + typical, 1)
    return infos, finish


def annotate_queued(store: JobStore, registry: Registry, jobs: list[Job], *, now: float | None = None) -> list[Job]:
    """``jobs`` with ``queue`` set and ``progress.eta_s`` (seconds until done) estimated on queued ones."""
    routes = sorted({j.route for j in jobs if j.state is JobState.queued and j.route})
    if not routes:
        return jobs
    now = time.time() if now is None else now
    live = registry.live(now=now)
    plans = {route: _route_plan(store, route, live, now) for route in routes}
    annotated = []
    for job in jobs:
        plan = plans.get(job.route or "") if job.state is JobState.queued else None
        info = plan[0].get(job.id) if plan else None
        if plan is None or info is None:
            annotated.append(job)
            continue
        progress = job.progress.model_copy(update={"eta_s": plan[1].get(job.id)})
        annotated.append(job.model_copy(update={"queue": info, "progress": progress}))
    return annotated
