"""Prometheus metrics of the GPU worker: ``GET /metrics`` (bearer token, like every route).

Job figures are read from the job database at each scrape, so they are right for every process
that shares it (the HTTP server, the embedded runner, Celery workers) and survive restarts. Two
counters are this server process's own, counted as requests pass: jobs created and upload bytes
received (they start at 0 when the server starts, as Prometheus counters may).

Installed by :func:`install_metrics` from ``gpu_remote.server.create_app``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
_UPLOAD_PATH = re.compile(r"^/v1/uploads/[0-9a-f]{32}$")
_JOB_PATH = re.compile(r"^/v1/jobs/[A-Za-z0-9_-]{8,64}$")


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.upload_bytes = 0
        self.jobs_created = 0


class MetricsMiddleware:
    """Counts upload body bytes accepted (PATCH /v1/uploads/ID answered 2xx) and jobs created (PUT 201)."""

    def __init__(self, app: Any, counters: _Counters) -> None:
        self.app = app
        self.counters = counters

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method"), scope.get("path", "")
        upload = method == "PATCH" and bool(_UPLOAD_PATH.match(path))
        job_put = method == "PUT" and bool(_JOB_PATH.match(path))
        if not (upload or job_put):
            await self.app(scope, receive, send)
            return
        received = 0
        status = 0

        async def counting_receive() -> dict:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
            return message

        async def watching_send(message: dict) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 0))
            await send(message)

        await self.app(scope, counting_receive, watching_send)
        with self.counters.lock:
            if upload and 200 <= status < 300:
                self.counters.upload_bytes += received
            if job_put and status == 201:
                self.counters.jobs_created += 1


class WorkerCollector:
    """Reads job states, durations, queue depth, blobs and live workers from the worker's database."""

    def __init__(self, worker: Any, counters: _Counters) -> None:
        self.worker = worker
        self.counters = counters

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        from gpu_remote.models import JobState
        from gpu_remote.ops import OPS

        now = time.time()
        with self.worker.db.connect() as conn:
            by_state = conn.execute("SELECT state, op, COUNT(*) FROM jobs GROUP BY state, op").fetchall()
            finished = conn.execute(
                "SELECT op, state, finished_at - started_at FROM jobs "
                "WHERE finished_at IS NOT NULL AND started_at IS NOT NULL"
            ).fetchall()
            owners = conn.execute(
                "SELECT COUNT(DISTINCT lease_owner) FROM jobs WHERE state='running' AND lease_until > ?", (now,)
            ).fetchone()[0]
            blobs = conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs").fetchone()
        jobs = GaugeMetricFamily("montage_worker_jobs", "jobs in the store by state and op", labels=["state", "op"])
        seen = {(r[0], r[1]): int(r[2]) for r in by_state}
        ops = sorted({op for _, op in seen} | set(OPS))
        for job_state in JobState:
            for op in ops:
                jobs.add_metric([job_state.value, op], seen.get((job_state.value, op), 0))
        yield jobs
        queued = GaugeMetricFamily("montage_worker_queue_depth", "jobs waiting to run")
        queued.add_metric([], sum(n for (state, _), n in seen.items() if state == "queued"))
        yield queued
        live = GaugeMetricFamily("montage_worker_live_workers", "workers alive now (registered, or holding a lease)")
        live.add_metric([], self._live_workers(owners))
        yield live
        durations = HistogramMetricFamily(
            "montage_worker_job_duration_seconds",
            "run time of finished jobs still in the store",
            labels=["op", "state"],
        )
        groups: dict[tuple[str, str], list[float]] = {}
        for op, state, seconds in finished:
            groups.setdefault((op, state), []).append(max(0.0, float(seconds or 0.0)))
        for (op, state), values in sorted(groups.items()):
            buckets = [(str(float(b)), float(sum(1 for v in values if v <= b))) for b in DURATION_BUCKETS]
            buckets.append(("+Inf", float(len(values))))
            durations.add_metric([op, state], buckets, sum(values))
        yield durations
        stored = GaugeMetricFamily("montage_worker_blob_bytes", "bytes of blobs (inputs and outputs) held")
        stored.add_metric([], float(blobs[1]))
        yield stored
        with self.counters.lock:
            uploaded, created = self.counters.upload_bytes, self.counters.jobs_created
        up = CounterMetricFamily("montage_worker_upload_bytes", "upload body bytes accepted by this server process")
        up.add_metric([], float(uploaded))
        yield up
        made = CounterMetricFamily("montage_worker_jobs_created", "jobs created by this server process")
        made.add_metric([], float(created))
        yield made

    def _live_workers(self, lease_owners: int) -> int:
        registry = getattr(self.worker, "registry", None)
        live = getattr(registry, "live", None)
        if callable(live):
            try:
                return len(live())
            except Exception:
                pass
        return int(lease_owners)


def install_metrics(app: Any, worker: Any) -> None:
    """Add ``GET /metrics`` and the request counters to the worker's FastAPI ``app`` (nothing without
    prometheus-client, which comes with the ``worker`` extra)."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return
    from fastapi.responses import Response
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    counters = _Counters()
    registry = CollectorRegistry()
    registry.register(WorkerCollector(worker, counters))  # type: ignore[arg-type]
    app.add_middleware(MetricsMiddleware, counters=counters)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
