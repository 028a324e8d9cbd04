"""ETA of queued jobs: the queue replayed on the live workers' slots with the op's measured run time.

First the replay itself on both stores with known run times; then real noop jobs on a one-slot
worker, where the estimate given while a job waits is held against when it really finishes, and
`gpu status` shows it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gpu_remote.models import JobSpec
from gpu_remote.queue_eta import annotate_queued
from gpu_remote.registry import Registry
from gpu_remote.store import JobStore
from tests.conftest import run_cli
from tests.gpu_remote.conftest import WorkerProc
from tests.gpu_remote.test_cli import cli_env

# Compares an ETA with when the job really finishes: alone, so a busy neighbour does not move the finish.
pytestmark = pytest.mark.serial


def _noop(store: JobStore, job_id: str, *, priority: int = 0) -> None:
    params = {"duration_s": 0.0, "steps": 1, "tag": job_id}
    store.put(job_id, JobSpec(op="noop", params=params, priority=priority), "1", params, missing=[], route="gpu.noop")


def _history(store: JobStore, job_db, run_s: float, count: int = 3) -> None:
    """``count`` finished noop runs that took ``run_s`` each (the measured throughput)."""
    for n in range(count):
        _noop(store, f"history-{n:04d}")
        job = store.claim("w", lease_s=30)
        assert job is not None
        store.succeed(job.id, job.attempt, [], {})
    with job_db.connect() as conn:
        conn.execute("UPDATE jobs SET started_at=finished_at-? WHERE state='succeeded'", (run_s,))


def test_the_queue_is_replayed_on_the_live_slots(job_db) -> None:
    store, registry = JobStore(job_db), Registry(job_db)
    _history(store, job_db, run_s=10.0)
    _noop(store, "running-0001")
    running = store.claim("gpu0", lease_s=30)
    assert running is not None
    for n in range(5):
        _noop(store, f"waiting-{n:04d}")
    _noop(store, "urgent-00001", priority=50)  # created last, claimed first
    jobs = store.list_jobs([f"waiting-{n:04d}" for n in range(5)] + ["urgent-00001"])

    # No live worker serves gpu.noop: the position is known, the start is not, and the reason says why.
    nobody = {j.id: j for j in annotate_queued(store, registry, jobs)}
    assert nobody["waiting-0000"].queue is not None
    assert nobody["waiting-0000"].queue.reason == "no live worker serves gpu.noop"
    assert nobody["waiting-0000"].queue.starts_in_s is None and nobody["waiting-0000"].progress.eta_s is None

    # Two workers of one slot each; gpu0 runs a job that has run 4 s of its typical 10 s.
    with job_db.connect() as conn:
        conn.execute("UPDATE jobs SET started_at=? WHERE id='running-0001'", (time.time() - 4.0,))
    registry.beat("gpu0", {"routes": ["gpu.noop"], "slots": 1, "running": ["running-0001"]})
    registry.beat("gpu1", {"routes": ["gpu.noop", "gpu.stabilize"], "slots": 1, "running": []})
    registry.beat("other", {"routes": ["gpu.stabilize"], "slots": 4, "running": []})
    now = time.time()
    got = {j.id: j for j in annotate_queued(store, registry, jobs, now=now)}
    order = ["urgent-00001"] + [f"waiting-{n:04d}" for n in range(5)]
    assert [got[i].queue.ahead for i in order] == list(range(6))  # type: ignore[union-attr]
    assert {got[i].queue.slots for i in order} == {2}  # type: ignore[union-attr]
    assert {got[i].queue.running for i in order} == {1}  # type: ignore[union-attr]
    # slots free at 0 (gpu1) and ~6 (gpu0); each job then holds one for 10 s
    starts = [got[i].queue.starts_in_s for i in order]  # type: ignore[union-attr]
    expected = [0.0, 6.0, 10.0, 16.0, 20.0, 26.0]
    assert all(abs(s - e) < 0.5 for s, e in zip(starts, expected, strict=True)), starts  # type: ignore[operator]
    assert all(abs(got[i].progress.eta_s - (e + 10.0)) < 0.5 for i, e in zip(order, expected, strict=True))  # type: ignore[operator]
    assert all(got[i].queue.reason is None for i in order)  # type: ignore[union-attr]

    # A job waiting for an automatic retry does not start before its time, and says so.
    with job_db.connect() as conn:
        conn.execute("UPDATE jobs SET not_before=? WHERE id='urgent-00001'", (now + 30.0,))
    urgent = annotate_queued(store, registry, store.list_jobs(["urgent-00001"]), now=now)[0]
    assert urgent.queue is not None and urgent.queue.starts_in_s is not None
    assert abs(urgent.queue.starts_in_s - 30.0) < 0.5
    assert urgent.queue.reason is not None and "automatic retry" in urgent.queue.reason


def _wait_for(predicate, timeout: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_a_queued_jobs_eta_matches_when_it_really_finishes(worker_factory, tmp_path: Path) -> None:
    worker: WorkerProc = worker_factory("--slots", "1")
    client = worker.client(tmp_path / "state")
    run_s = 0.8

    def noop(job_id: str, duration: float) -> str:
        spec = JobSpec(op="noop", params={"duration_s": duration, "steps": 4, "tag": job_id})
        job, _ = client.put_job(job_id, spec)
        return job.id

    for n in range(2):  # the measured throughput of noop
        assert client.wait(noop(f"measure-{n:04d}", run_s)).state.value == "succeeded"
    long_job = noop("long-job-0001", 1.6)
    waiting = [noop(f"queued-job-{n:04d}", run_s) for n in range(3)]
    _wait_for(lambda: client.job(long_job).progress.fraction >= 0.25, what="the long job to report progress")
    asked = time.monotonic()
    last = client.job(waiting[-1])
    assert last.state.value == "queued" and last.queue is not None
    assert (last.queue.ahead, last.queue.running, last.queue.slots, last.queue.reason) == (2, 1, 1, None)
    assert last.queue.starts_in_s is not None and last.progress.eta_s is not None
    # the long job has ~1.2 s left, two jobs of ~0.8 s go before: starts in ~2.8 s, done in ~3.6 s
    assert 2.0 < last.queue.starts_in_s < 3.6, last.queue
    assert abs(last.progress.eta_s - last.queue.starts_in_s - run_s) < 0.3

    status = run_cli("gpu", "status", waiting[-1], env=cli_env(worker, tmp_path / "state"), timeout=60)
    assert status.returncode == 0, status.stderr
    row = next(line for line in status.stdout.splitlines() if waiting[-1][:12] in line)
    assert "queued" in row and "ahead" in status.stdout and "starts in ~" in status.stdout, status.stdout

    assert client.wait(waiting[-1]).state.value == "succeeded"
    took = time.monotonic() - asked
    assert abs(took - last.progress.eta_s) < max(1.0, 0.3 * took), (took, last.progress.eta_s)
