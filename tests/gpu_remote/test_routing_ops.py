"""Every op the worker registers is served and its queue consumed, unless the worker says why not:
`proxy` was once missing from the hand-kept list, so under Celery nothing took `gpu.proxy` jobs."""

from __future__ import annotations

from gpu_remote.ops import OPS
from gpu_remote.routing import local_ops, route_for, served_routes


def test_every_registered_op_is_served_or_says_why_not() -> None:
    reasons = local_ops()
    assert set(reasons) == set(OPS)
    routes = served_routes(reasons, models={})
    for name, reason in reasons.items():
        if reason is None:
            assert route_for(name, {}) in routes, f"{name} runs here but its queue is not consumed"
        else:
            assert route_for(name, {}) not in routes and reason.strip(), name
    assert route_for("proxy", {}) in routes  # CPU-only (ffmpeg): every worker can make proxies
