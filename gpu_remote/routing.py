"""Which queue a job goes to, and which queues this machine can serve.

A job's route is derived from its op and the model it needs, so only a worker that has that model
takes it: ``gpu.generate`` (a diffusers pipeline folder), ``gpu.transcribe`` (a Whisper model),
``gpu.upscale.realesrgan`` (Real-ESRGAN asked for explicitly), ``gpu.upscale`` (any upscaler),
``gpu.stabilize`` and ``gpu.noop``. A ``generate`` or ``transcribe`` job whose params name a
``model`` goes to ``gpu.<op>.<model slug>`` (``Wan2.1-T2V-1.3B-Diffusers`` →
``gpu.generate.wan2-1-t2v-1-3b-diffusers``), served only by workers that have a model folder of
that name. Under Celery each route is a queue; a worker consumes the queues of the routes it
serves and claims, per message, the most urgent job of that route.
"""

from __future__ import annotations

import os
import re
import socket
from typing import Any

ROUTE_PREFIX = "gpu."
MODEL_OPS = ("generate", "transcribe")  # ops whose params may name the model a job needs
MODEL_ENVS = {"generate": "MONTAGE_GENERATE_MODEL", "transcribe": "MONTAGE_WHISPER_MODEL"}


def model_slug(name: str) -> str:
    """A model name as it appears in a queue name: lower case, runs of other characters as '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64]


def route_for(op: str, params: dict[str, Any]) -> str:
    """The queue for a job of ``op`` with (validated) ``params``."""
    if op == "upscale" and params.get("method") == "realesrgan":
        return f"{ROUTE_PREFIX}upscale.realesrgan"
    model = params.get("model")
    if op in MODEL_OPS and isinstance(model, str) and model_slug(model):
        return f"{ROUTE_PREFIX}{op}.{model_slug(model)}"
    return f"{ROUTE_PREFIX}{op}"


def split_route(route: str) -> tuple[str, str | None]:
    """(op, model slug or None) of a model route; (op, None) of any other."""
    parts = route[len(ROUTE_PREFIX) :].split(".", 1) if route.startswith(ROUTE_PREFIX) else [route]
    op = parts[0]
    return op, parts[1] if len(parts) > 1 and op in MODEL_OPS else None


def unserved_reason(route: str, live: list[dict[str, Any]]) -> str:
    """Why a job of ``route`` waits when no live worker serves it: which model is missing, and
    which models the live workers do have."""
    op, slug = split_route(route)
    if slug is None:
        return f"no live worker serves {route}"
    have = sorted({str(w.get("models", {}).get(op)) for w in live if w.get("models", {}).get(op)})
    others = f"live workers have: {', '.join(have)}" if have else "no live worker has any"
    return f"no live worker has the {op} model '{slug}' ({others}); it waits for one that has"


def local_ops() -> dict[str, str | None]:
    """Each op of this worker → None if it can run here, else why not (a missing model, a missing package)."""
    from gpu_remote.ops import OPS, generate, transcribe

    # Every registered op runs here unless it names what it lacks below: an op added to OPS is
    # served (and its queue consumed) without a second list to keep in step.
    reasons: dict[str, str | None] = dict.fromkeys(OPS)
    reasons["generate"] = generate.available()
    try:
        transcribe.model_path()
        reasons["transcribe"] = None
    except Exception as exc:  # noqa: BLE001 - any reason the model is unusable is the answer
        reasons["transcribe"] = str(exc)
    return reasons


def served_routes(ops: dict[str, str | None] | None = None, models: dict[str, str] | None = None) -> list[str]:
    """Routes this machine can take jobs from: the ops whose models and packages are present, and
    for each model folder it has, that model's own route."""
    from gpu_remote.ops.upscale import realesrgan_available

    ops = local_ops() if ops is None else ops
    models = models_present() if models is None else models
    routes = [route_for(name, {}) for name, reason in sorted(ops.items()) if reason is None]
    if ops.get("upscale") is None and realesrgan_available():
        routes.append(route_for("upscale", {"method": "realesrgan"}))
    for op, name in sorted(models.items()):
        if ops.get(op, "absent") is None and model_slug(name):
            routes.append(route_for(op, {"model": name}))
    return routes


def models_present() -> dict[str, str]:
    """Model folders this worker was pointed at (by environment), op → folder name, only those that exist."""
    found: dict[str, str] = {}
    for kind, env in MODEL_ENVS.items():
        path = os.environ.get(env)
        if path and os.path.isdir(path):
            found[kind] = os.path.basename(os.path.normpath(path))
    return found


def check_model(op: str, wanted: str | None) -> None:
    """Raise OpError(model_unavailable) when a job names a model this worker does not have."""
    if not wanted:
        return
    from gpu_remote.errors import OpError

    have = models_present().get(op)
    if have is None or model_slug(have) != model_slug(wanted):
        where = f"it has {have}" if have else f"it has no named model ({MODEL_ENVS[op]} is not set)"
        raise OpError(
            f"the job asks for the {op} model '{wanted}' but this worker does not have it ({where})",
            code="model_unavailable",
        )


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
