"""Which queue a job goes to, and which queues this machine can serve.

A job's route is derived from its op and the model it needs, so only a worker that has that model
takes it: ``gpu.generate`` (a diffusers pipeline folder), ``gpu.transcribe`` (a Whisper model),
``gpu.upscale.realesrgan`` (Real-ESRGAN asked for explicitly), ``gpu.upscale`` (any upscaler),
``gpu.stabilize`` and ``gpu.noop``. Under Celery each route is a queue; a worker consumes the
queues of the routes it serves and claims, per message, the most urgent job of that route.
"""

from __future__ import annotations

import os
import socket
from typing import Any

ROUTE_PREFIX = "gpu."


def route_for(op: str, params: dict[str, Any]) -> str:
    """The queue for a job of ``op`` with (validated) ``params``."""
    if op == "upscale" and params.get("method") == "realesrgan":
        return f"{ROUTE_PREFIX}upscale.realesrgan"
    return f"{ROUTE_PREFIX}{op}"


def local_ops() -> dict[str, str | None]:
    """Each op of this worker → None if it can run here, else why not (a missing model, a missing package)."""
    from gpu_remote.ops import generate, transcribe

    reasons: dict[str, str | None] = {"noop": None, "stabilize": None, "upscale": None}
    reasons["generate"] = generate.available()
    try:
        transcribe.model_path()
        reasons["transcribe"] = None
    except Exception as exc:  # noqa: BLE001 - any reason the model is unusable is the answer
        reasons["transcribe"] = str(exc)
    return reasons


def served_routes(ops: dict[str, str | None] | None = None) -> list[str]:
    """Routes this machine can take jobs from (the ops whose models and packages are present)."""
    from gpu_remote.ops.upscale import realesrgan_available

    ops = local_ops() if ops is None else ops
    routes = [route_for(name, {}) for name, reason in sorted(ops.items()) if reason is None]
    if ops.get("upscale") is None and realesrgan_available():
        routes.append(route_for("upscale", {"method": "realesrgan"}))
    return routes


def models_present() -> dict[str, str]:
    """Model folders this worker was pointed at (by environment), name → path, only those that exist."""
    found: dict[str, str] = {}
    for kind, env in (("generate", "MONTAGE_GENERATE_MODEL"), ("transcribe", "MONTAGE_WHISPER_MODEL")):
        path = os.environ.get(env)
        if path and os.path.isdir(path):
            found[kind] = os.path.basename(os.path.normpath(path))
    return found


def describe_worker(name: str, routes: list[str], slots: int, gpus: list[dict[str, Any]]) -> dict[str, Any]:
    """What a worker registers: where it runs, which routes and models it serves, its GPUs and slots."""
    return {
        "name": name,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "routes": routes,
        "ops": sorted({r[len(ROUTE_PREFIX) :].split(".")[0] for r in routes}),
        "models": models_present(),
        "gpus": gpus,
        "slots": slots,
        "free_slots": slots,
        "running": [],
    }
