"""Discovery: ``/v1/health``, ``/v1/workers``, ``/v1/capabilities``."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request

from gpu_remote import __version__
from gpu_remote.hardware import gpus
from gpu_remote.models import Capabilities, Health, Limits, OpInfo, WorkerInfo, WorkerList
from gpu_remote.ops import OPS
from gpu_remote.routes.deps import CHUNK_HINT, worker_of
from gpu_remote.routing import split_route, unserved_reason

router = APIRouter()


@router.get("/v1/health", response_model=Health)
def health(request: Request) -> Health:
    worker = worker_of(request)
    counts = worker.store.counts()
    running, queued = counts.get("running", 0), counts.get("queued", 0)
    live = worker.registry.live()
    problems: list[str] = []
    broker = worker.dispatcher.health().get("broker")
    if broker == "unreachable":
        problems.append("the job queue broker is unreachable: jobs are saved and sent when it returns")
    if not live:
        problems.append("no live worker: start `montage-bridge worker celery` (one per GPU)")
    served = {route for w in live for route in w.get("routes", [])}
    for route, waiting in sorted(worker.store.queued_routes().items()):
        if live and route not in served:
            problem = f"{waiting} job(s) queued for {route}, which no live worker serves"
            if split_route(route)[1] is not None:
                problem += f": {unserved_reason(route, live)}"
            problems.append(problem)
    status = "degraded" if problems else "busy" if running else "ready"
    return Health(
        status=status,
        queued=queued,
        running=running,
        workers=len(live),
        free_slots=sum(int(w.get("free_slots", 0)) for w in live),
        broker=broker,
        problems=problems,
    )


@router.get("/v1/workers", response_model=WorkerList)
def workers(request: Request) -> WorkerList:
    return WorkerList(workers=[WorkerInfo.model_validate(w) for w in worker_of(request).registry.live()])


@router.get("/v1/capabilities", response_model=Capabilities)
def capabilities(request: Request) -> Capabilities:
    worker = worker_of(request)
    ops = [
        OpInfo(
            name=op.name,
            version=op.version,
            description=op.description,
            params_schema=op.params.model_json_schema(),
            inputs=[*op.inputs, *(f"{n}?" for n in op.optional_inputs)],
            backend=op.backend(),
        )
        for op in OPS.values()
    ]
    return Capabilities(
        server_version=__version__,
        ops=ops,
        gpus=gpus(),
        cpu_count=os.cpu_count() or 1,
        limits=Limits(
            max_upload_bytes=worker.config.max_upload_bytes,
            max_queued_jobs=worker.config.max_queued,
            disk_budget_bytes=worker.config.disk_budget_bytes,
            chunk_bytes_hint=CHUNK_HINT,
        ),
        queue_depth=worker.store.counts().get("queued", 0),
        backend=worker.config.backend,
    )
