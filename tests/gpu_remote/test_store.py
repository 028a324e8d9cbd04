"""Job store and runner rules that need no HTTP: leases, fencing, retries, timeouts, TTL, disk budget."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from pathlib import Path

import pytest

from gpu_remote.blobs import BlobError, BlobStore
from gpu_remote.models import JobErrorInfo, JobSpec
from gpu_remote.runner import Runner, RunnerSettings
from gpu_remote.store import JobStore


@pytest.fixture
def parts(tmp_path: Path, job_db) -> tuple[JobStore, BlobStore, Runner]:
    db = job_db  # SQLite and PostgreSQL: every test here is the store's contract on both
    store = JobStore(db, max_attempts=2, max_queued=3)
    blobs = BlobStore(tmp_path, db, max_upload_bytes=1 << 20, disk_budget_bytes=4000)
    runner = Runner(store, blobs, tmp_path / "work", RunnerSettings(lease_s=5, heartbeat_s=0.5), "test-owner")
    return store, blobs, runner


def put_noop(store: JobStore, job_id: str, tag: str, **spec_extra) -> None:
    params = {"duration_s": spec_extra.pop("duration_s", 0.0), "steps": 1, "tag": tag}
    store.put(job_id, JobSpec(op="noop", params=params, **spec_extra), "1", params, missing=[])


def test_expired_lease_is_requeued_then_fails_as_worker_lost(parts) -> None:
    store, _blobs, _runner = parts
    put_noop(store, "lease-job-001", "a")
    first = store.claim("dead-worker", lease_s=0.01)
    assert first is not None and first.attempt == 1
    assert store.reap(now=time.time() + 1) == ["lease-job-001"]
    second = store.claim("next-worker", lease_s=0.01)
    assert second is not None and second.attempt == 2
    # The first attempt's late result is fenced off.
    assert not store.succeed("lease-job-001", 1, [], {"late": True})
    assert store.reap(now=time.time() + 1) == []
    job = store.get("lease-job-001")
    assert job.state.value == "failed" and job.error is not None and job.error.code == "worker_lost"
    assert not store.fail("lease-job-001", 2, JobErrorInfo(code="x", message="y"))  # terminal is immutable


def test_claim_of_a_specific_job_is_exclusive(parts) -> None:
    store, _blobs, _runner = parts
    put_noop(store, "exclusive-01", "b")
    assert store.claim("w1", 30, job_id="exclusive-01") is not None
    assert store.claim("w2", 30, job_id="exclusive-01") is None  # a duplicate delivery finds nothing


def test_queue_limit_answers_429(parts) -> None:
    store, _blobs, _runner = parts
    for i in range(3):
        put_noop(store, f"queued-{i:04d}", str(i))
    with pytest.raises(Exception) as info:
        put_noop(store, "queued-9999", "9")
    assert getattr(info.value, "status", None) == 429


def test_timeout_fails_the_job_promptly(parts) -> None:
    store, _blobs, runner = parts
    put_noop(store, "slow-job-001", "slow", duration_s=30.0, timeout_s=0.5)
    job = store.claim(runner.owner, 5)
    t0 = time.monotonic()
    runner.run_claimed(job)
    assert time.monotonic() - t0 < 3.0
    final = store.get("slow-job-001")
    assert final.state.value == "failed" and final.error is not None and final.error.code == "timeout"


def test_outputs_expire_after_ttl_and_gc_keeps_pinned_blobs(parts, tmp_path: Path) -> None:
    store, blobs, runner = parts
    put_noop(store, "ttl-job-0001", "ttl", ttl_s=1.0)
    runner.run_claimed(store.claim(runner.owner, 5))
    out_sha = store.get("ttl-job-0001").outputs[0].sha256
    assert out_sha in store.pinned_blobs()
    loose = tmp_path / "loose.bin"
    loose.write_bytes(b"x" * 3990)
    loose_sha, _ = blobs.add_file(loose)
    blobs.gc(store.pinned_blobs())  # 3990 + output bytes > 4000: the unpinned blob goes
    assert not blobs.has(loose_sha) and blobs.has(out_sha)
    assert store.expire(now=time.time() + 10) == ["ttl-job-0001"]
    assert out_sha not in store.pinned_blobs()


def test_upload_over_the_disk_budget_is_refused(parts) -> None:
    _store, blobs, _runner = parts
    with pytest.raises(BlobError) as info:
        blobs.create_upload("c" * 64, 5000, None, pinned=set())
    assert info.value.status == 507


def test_partial_uploads_expire(parts) -> None:
    _store, blobs, _runner = parts
    status = blobs.create_upload("d" * 64, 100, None, pinned=set())

    async def body():
        yield b"y" * 10

    # Its own thread: asyncio.run() must not depend on whether this thread already runs a loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, blobs.append(status.upload_id, 0, body())).result()
    assert blobs.upload_status(status.upload_id).offset == 10
    assert blobs.expire_uploads(max_age_s=-1) == 1
    with pytest.raises(BlobError):
        blobs.upload_status(status.upload_id)


def test_a_failing_lease_check_does_not_stop_the_watcher(parts, monkeypatch) -> None:
    """SQLite's "database is locked" (or any error) in one heartbeat must not kill the thread that
    renews the lease and sees cancel and timeout: the job would run on unwatched and be run twice."""
    import sqlite3

    store, _blobs, runner = parts
    put_noop(store, "beat-err-001", "beat", duration_s=2.0, timeout_s=1.2)
    real, calls = store.heartbeat, {"n": 0}

    def flaky(job_id: str, attempt: int, lease_s: float) -> tuple[bool, bool]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("database is locked")
        return real(job_id, attempt, lease_s)

    monkeypatch.setattr(store, "heartbeat", flaky)
    t0 = time.monotonic()
    runner.run_claimed(store.claim(runner.owner, 5))
    # The watcher lived on: it renewed the lease again and ended the job at its timeout, not at 2 s.
    assert calls["n"] >= 2 and time.monotonic() - t0 < 1.9
    final = store.get("beat-err-001")
    assert final.state.value == "failed" and final.error is not None and final.error.code == "timeout"
