"""Scale-out: the same HTTP API, with Celery + Redis ringing one worker per GPU.

Celery is only the doorbell, and the job store is the outbox. A job row is committed first (it
is the record that the job exists and still has to be announced: ``published_at`` NULL); the
gateway then publishes a message on the job's route (a queue per op/model, see routing.py) and
marks the row published. A message that cannot be sent is not lost: the re-publisher thread
sends every unpublished queued job as soon as the broker answers again, re-sends jobs nobody
claimed for a while (a message lost with a Redis without AOF), and re-sends everything queued
when the broker's identity changes (a restarted Redis starts empty).

A message says "a job waits on route R". The worker that takes it claims the most urgent queued
job of R (priority, then age) with a fenced conditional UPDATE, runs it and commits the result in
the job store. Duplicate messages find nothing to claim and are dropped, so re-publishing is
always safe. Leases and the gateway's reaper, not broker redelivery, recover jobs of dead workers.

Long-job profile (research/gpu_worker.md §2): late acks, prefetch 1, solo pool (one job per
process, models stay loaded), visibility timeout far beyond the longest job.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import Celery

from gpu_remote.blobs import BlobStore
from gpu_remote.db import open_database
from gpu_remote.errors import BrokerUnavailable
from gpu_remote.registry import Heartbeat, Registry
from gpu_remote.routing import describe_worker, served_routes
from gpu_remote.runner import Runner, RunnerSettings, make_owner, reap_work_dirs
from gpu_remote.store import JobStore

log = logging.getLogger("montage_bridge.gpu_remote.celery")

TASK = "gpu_remote.run_job"
VISIBILITY_TIMEOUT_S = 8 * 3600  # ≥ 2× the longest allowed job (4 h); leases handle crashes faster
BROKER_RETRY_AFTER_S = 5  # what a 503 tells the client while the broker is unreachable


def make_celery(broker_url: str) -> Celery:
    app = Celery("gpu_remote", broker=broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        task_ignore_result=True,
        task_default_queue="gpu.noop",
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT_S,
            "socket_connect_timeout": 2,
            "socket_timeout": 10,
        },
        broker_connection_timeout=2,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for a restarted broker, forever
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_serializer="json",
        accept_content=["json"],
    )
    app.task(name=TASK, bind=True)(_run_job)
    return app


@dataclass
class _WorkerState:
    store: JobStore
    runner: Runner
    lease_s: float


_STATE: _WorkerState | None = None


def _run_job(_task: object, job_id: str, route: str | None = None) -> str:
    """Celery task body: claim the most urgent queued job of ``route`` (or exactly ``job_id`` for
    a message without a route) and run it; a message with nothing left to claim is a no-op."""
    state = _STATE
    if state is None:  # pragma: no cover - only if the task runs outside run_celery_worker
        raise RuntimeError("gpu_remote celery worker not initialised")
    if route is None:
        job = state.store.claim(state.runner.owner, state.lease_s, job_id=job_id)
    else:
        job = state.store.claim(state.runner.owner, state.lease_s, routes=[route])
    if job is None:
        return "skipped: nothing queued (duplicate message, canceled or finished)"
    state.runner.run_claimed(job)
    return f"ran {job.id}"


def _broker_identity(broker_url: str) -> str | None:
    """Something that changes when the broker restarts (Redis: its run_id); None if unreachable."""
    if not broker_url.startswith(("redis://", "rediss://", "unix://")):
        return "unknown"
    import redis

    client = redis.Redis.from_url(broker_url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return str(client.info("server")["run_id"])
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


class CeleryDispatcher:
    """Gateway side: publishes jobs from the store (the outbox) to their route's queue."""

    def __init__(self, broker_url: str, store: JobStore, *, interval_s: float = 1.0) -> None:
        self.broker_url = broker_url
        self.store = store
        self.interval_s = interval_s
        self.app = make_celery(broker_url)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._identity: str | None = None
        self.broker_ok = True
        self.broker_error = ""
        self.published = 0  # messages sent (for tests and /v1/health)

    # -- publishing -------------------------------------------------------------------------

    def _send(self, job_id: str, route: str, priority: int = 0) -> None:
        with self._lock:
            try:
                self.app.send_task(TASK, args=[job_id, route], queue=route, routing_key=route, retry=False)
            except Exception as exc:  # kombu OperationalError, redis errors, socket errors
                self.broker_ok = False
                self.broker_error = f"{exc.__class__.__name__}: {exc}"[:300]
                raise BrokerUnavailable(f"the job queue broker is unreachable ({self.broker_error})") from exc
        self.broker_ok = True
        self.published += 1
        self.store.mark_published(job_id)

    def notify(self, job_id: str) -> None:
        """Publish ``job_id`` now if it still needs it; raises BrokerUnavailable (the job stays saved)."""
        if self.store.is_published(job_id):
            return
        job = self.store.get(job_id)
        if job.state.value != "queued":
            return
        if job.route is None:  # pragma: no cover - every stored job has a route
            return
        self._send(job_id, job.route)

    def publish_due(self) -> int:
        """One pass of the re-publisher: re-announce after a broker restart, then send what is due."""
        identity = _broker_identity(self.broker_url)
        if identity is None:
            self.broker_ok = False
            self.broker_error = self.broker_error or "broker unreachable"
            return 0
        if self._identity is not None and identity != self._identity:
            count = self.store.unpublish_all()
            log.warning("broker restarted (identity changed): re-publishing %d queued jobs", count)
        self._identity = identity
        sent = 0
        for job_id, route in self.store.due_for_publish():
            try:
                self._send(job_id, route)
            except BrokerUnavailable:
                return sent
            sent += 1
        self.broker_ok = True
        self.broker_error = ""
        return sent

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.publish_due()
            except Exception:  # noqa: BLE001 - a locked database: the next pass tries again
                log.exception("re-publisher pass failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        # Every queued job gets a fresh message at gateway start (the broker may have lost them
        # while no gateway ran); duplicates are harmless.
        self.store.unpublish_all()
        self._thread = threading.Thread(target=self._loop, name="gpu-republisher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(5)
        self.app.close()

    def health(self) -> dict[str, Any]:
        return {"broker": "ok" if self.broker_ok else "unreachable", "broker_error": self.broker_error or None}


def run_celery_worker(
    broker_url: str,
    data_dir: Path,
    *,
    name: str,
    lease_s: float = 30.0,
    routes: list[str] | None = None,
    store: str | None = None,
    blobs_url: str | None = None,
    s3_endpoint: str | None = None,
    s3_region: str | None = None,
    disk_budget_bytes: int = 500 << 30,
) -> int:
    """Run a Celery worker (solo pool, one job at a time) over ``data_dir``; returns an exit code.

    It consumes the queues of ``routes`` (default: every route whose op can run here), registers
    itself with those capabilities and heartbeats until it stops. With ``blobs_url``
    (``s3://…``) its blobs come from and go to that shared store, ``data_dir/blobs`` caching them
    within ``disk_budget_bytes``.
    """
    global _STATE
    from gpu_remote.blob_s3 import open_blob_store_remote
    from gpu_remote.hardware import gpus

    remote = open_blob_store_remote(blobs_url, endpoint_url=s3_endpoint, region=s3_region)
    db = open_database(store, data_dir)
    job_store = JobStore(db)
    budget = disk_budget_bytes if remote is not None else 1 << 62  # a shared folder is the gateway's to trim
    blobs = BlobStore(
        data_dir, db, max_upload_bytes=1 << 62, disk_budget_bytes=budget, remote=remote, pinned=job_store.pinned_blobs
    )
    settings = RunnerSettings(lease_s=lease_s, heartbeat_s=max(0.5, lease_s / 6), slots=1)
    node = name.replace("%h", "").strip("@") or "celery"
    runner = Runner(job_store, blobs, data_dir / "work", settings, make_owner(node))
    if remote is not None:
        # A machine-local --data: no gateway sees this work folder, so what a killed predecessor
        # left here (attempts no longer running, their recorded process groups) goes now.
        reap_work_dirs(job_store, data_dir / "work")
    _STATE = _WorkerState(store=job_store, runner=runner, lease_s=lease_s)
    routes = routes or served_routes()
    gpu_list = gpus()
    registry = Registry(db)

    def describe() -> dict[str, Any]:
        info = describe_worker(runner.owner, routes, 1, gpu_list)
        running = runner.running_jobs()
        info.update(running=running, free_slots=max(0, 1 - len(running)), kind="celery")
        return info

    heartbeat = Heartbeat(registry, runner.owner, describe)
    heartbeat.start()
    # SIGTERM: Celery's warm shutdown finishes the current job; the registry row goes with us.
    app = make_celery(broker_url)
    argv = [
        "worker",
        "--pool=solo",
        "--concurrency=1",
        f"--hostname={name}",
        "--loglevel=WARNING",
        f"--queues={','.join(routes)}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    try:
        app.worker_main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        heartbeat.stop()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return 0
