"""Scale-out: the same HTTP API, with Celery + Redis carrying job ids to one worker per GPU.

Celery is only the doorbell. The message holds a job id; the worker claims the job in the job
store with a fenced conditional UPDATE, runs it and commits the result there. A duplicate
delivery (Redis redelivers unacked messages after the visibility timeout; a crash redelivers
with late acks) finds the job running under a live lease or finished, and is dropped. Leases
and the gateway's reaper, not broker redelivery, recover jobs of dead workers.

Long-job profile (research/gpu_worker.md §2): late acks, prefetch 1, solo pool (one job per
process, models stay loaded), visibility timeout far beyond the longest job.

Recipe: ``redis-server --appendonly yes`` + ``montage-bridge worker serve --backend celery
--broker redis://HOST:6379/0 --data D`` + N × ``montage-bridge worker celery --broker ... --data D
--name gpu0@%h`` (one per GPU, e.g. with CUDA_VISIBLE_DEVICES=i). The data folder must be shared
by all of them (one machine, or a shared filesystem that supports SQLite locking).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from celery import Celery

from gpu_remote.blobs import BlobStore
from gpu_remote.db import Database
from gpu_remote.runner import Runner, RunnerSettings, make_owner
from gpu_remote.store import JobStore

QUEUE = "gpu"
TASK = "gpu_remote.run_job"
VISIBILITY_TIMEOUT_S = 8 * 3600  # ≥ 2× the longest allowed job (4 h); leases handle crashes faster


def make_celery(broker_url: str) -> Celery:
    app = Celery("gpu_remote", broker=broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
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


def _run_job(_task: object, job_id: str) -> str:
    """Celery task body: claim ``job_id`` (fenced) and run it; a duplicate delivery is a no-op."""
    state = _STATE
    if state is None:  # pragma: no cover - only if the task runs outside run_celery_worker
        raise RuntimeError("gpu_remote celery worker not initialised")
    job = state.store.claim(state.runner.owner, state.lease_s, job_id=job_id)
    if job is None:
        return "skipped: not queued (duplicate delivery, canceled or finished)"
    state.runner.run_claimed(job)
    return "ran"


class CeleryDispatcher:
    """Gateway side: queue a job id on Redis for whichever worker is free."""

    def __init__(self, broker_url: str, data_dir: Path) -> None:
        self.app = make_celery(broker_url)
        self.data_dir = data_dir

    def notify(self, job_id: str) -> None:
        self.app.send_task(TASK, args=[job_id], queue=QUEUE)

    def start(self) -> None:
        # Jobs left queued while no gateway ran (or whose message was lost with a Redis without
        # AOF) get a fresh message; duplicates are harmless.
        db = Database(self.data_dir / "jobs.sqlite3")
        for job in JobStore(db).list(limit=5000):
            if job.state.value == "queued":
                self.notify(job.id)

    def stop(self) -> None:
        self.app.close()


def run_celery_worker(broker_url: str, data_dir: Path, *, name: str, lease_s: float = 30.0) -> int:
    """Run a Celery worker (solo pool, one job at a time) over ``data_dir``; returns an exit code."""
    global _STATE
    db = Database(data_dir / "jobs.sqlite3")
    store = JobStore(db)
    blobs = BlobStore(data_dir, db, max_upload_bytes=1 << 62, disk_budget_bytes=1 << 62)
    settings = RunnerSettings(lease_s=lease_s, heartbeat_s=max(0.5, lease_s / 6), slots=1)
    runner = Runner(
        store, blobs, data_dir / "work", settings, make_owner(name.replace("%h", "").strip("@") or "celery")
    )
    _STATE = _WorkerState(store=store, runner=runner, lease_s=lease_s)
    app = make_celery(broker_url)
    argv = [
        "worker",
        "--pool=solo",
        "--concurrency=1",
        f"--hostname={name}",
        "--loglevel=WARNING",
        f"--queues={QUEUE}",
        "--without-gossip",
        "--without-mingle",
    ]
    try:
        app.worker_main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
