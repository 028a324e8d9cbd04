"""The outbox, automatic retries, retry/force and the schema upgrade, on the store alone."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from gpu_remote.db import Database
from gpu_remote.models import JobErrorInfo, JobSpec
from gpu_remote.store import JobStore, StoreError


@pytest.fixture
def store(job_db) -> JobStore:
    # SQLite and PostgreSQL: the outbox, retry and routing rules are the store's contract on both
    return JobStore(job_db, max_attempts=3, retry_backoff_s=10, republish_after_s=30)


def put(store: JobStore, job_id: str, tag: str, route: str = "gpu.noop", priority: int = 0) -> None:
    params = {"duration_s": 0.0, "steps": 1, "tag": tag}
    store.put(job_id, JobSpec(op="noop", params=params, priority=priority), "1", params, missing=[], route=route)


def test_a_created_job_is_due_until_published_then_again_only_if_nobody_claims_it(store: JobStore) -> None:
    put(store, "outbox-job-1", "a")
    now = time.time()
    assert store.due_for_publish(now=now) == [("outbox-job-1", "gpu.noop")]
    store.mark_published("outbox-job-1", now=now)
    assert store.due_for_publish(now=now + 29) == []
    assert store.due_for_publish(now=now + 31) == [("outbox-job-1", "gpu.noop")]  # lost message?
    store.mark_published("outbox-job-1", now=now + 31)
    # The wait doubles with each publish: 2 × 30 s after the second one.
    assert store.due_for_publish(now=now + 31 + 59) == []
    assert store.due_for_publish(now=now + 31 + 61) != []
    assert store.unpublish_all() == 1  # the broker restarted empty
    assert store.due_for_publish(now=now) == [("outbox-job-1", "gpu.noop")]
    assert store.claim("w", 30, routes=["gpu.noop"]) is not None
    assert store.due_for_publish(now=now + 1000) == []  # running jobs are never published


def test_claim_takes_the_most_urgent_job_of_the_asked_routes(store: JobStore) -> None:
    put(store, "route-a-0001", "a", route="gpu.noop", priority=0)
    put(store, "route-b-0001", "b", route="gpu.generate", priority=99)
    put(store, "route-a-0002", "c", route="gpu.noop", priority=5)
    assert store.claim("w", 30, routes=["gpu.stabilize"]) is None
    assert store.claim("w", 30, routes=["gpu.noop"]).id == "route-a-0002"
    assert store.claim("w", 30, routes=["gpu.noop"]).id == "route-a-0001"
    assert store.claim("w", 30).id == "route-b-0001"


def test_retryable_failures_retry_with_backoff_until_the_budget_is_spent(store: JobStore) -> None:
    put(store, "retry-job-001", "r")
    error = JobErrorInfo(code="oom", message="out of memory", retryable=True)
    for attempt, backoff in ((1, 10), (2, 20)):
        job = store.claim("w", 30)
        assert job is not None and job.attempt == attempt
        assert store.fail("retry-job-001", attempt, error)
        queued = store.get("retry-job-001")
        assert queued.state.value == "queued" and queued.error.code == "oom"
        assert queued.not_before == pytest.approx(time.time() + backoff, abs=1.0)
        assert store.claim("w", 30) is None  # backing off
        assert store.due_for_publish() == []
        with store.db.connect() as conn:
            conn.execute("UPDATE jobs SET not_before=0")  # let the backoff pass
    job = store.claim("w", 30)
    assert job.attempt == 3
    assert store.fail("retry-job-001", 3, error)
    final = store.get("retry-job-001")
    assert final.state.value == "failed" and final.error.retryable  # budget spent: it stays failed
    # Not retryable: fails at once.
    put(store, "fatal-job-001", "f")
    store.claim("w", 30)
    store.fail("fatal-job-001", 1, JobErrorInfo(code="invalid_input", message="bad", retryable=False))
    assert store.get("fatal-job-001").state.value == "failed"


def test_retry_and_force_rerun_keep_fencing(store: JobStore) -> None:
    put(store, "manual-job-01", "m")
    store.claim("w", 30)
    store.fail("manual-job-01", 1, JobErrorInfo(code="x", message="broke"))
    job = store.retry("manual-job-01")
    assert job.state.value == "queued" and job.error is None and job.attempt == 1
    again = store.claim("w", 30)
    assert again.attempt == 2
    assert not store.succeed("manual-job-01", 1, [], {"late": True})  # the old attempt stays fenced off
    assert store.succeed("manual-job-01", 2, [], {"ok": True})
    with pytest.raises(StoreError, match="use --force"):
        store.retry("manual-job-01")
    forced = store.retry("manual-job-01", force=True)
    assert forced.state.value == "queued" and forced.result == {} and not forced.cache_hit
    with pytest.raises(StoreError, match="not found"):
        store.retry("no-such-job-1")


def test_a_database_from_before_routing_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE jobs (id TEXT PRIMARY KEY, spec_json TEXT NOT NULL, spec_hash TEXT NOT NULL, op TEXT NOT NULL,"
        " op_version TEXT NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL, priority INTEGER NOT NULL"
        " DEFAULT 0, attempt INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL DEFAULT 2, lease_owner TEXT,"
        " lease_until REAL, cancel_requested INTEGER NOT NULL DEFAULT 0, progress_json TEXT NOT NULL DEFAULT '{}',"
        " outputs_json TEXT NOT NULL DEFAULT '[]', result_json TEXT NOT NULL DEFAULT '{}', error_json TEXT,"
        " cache_hit INTEGER NOT NULL DEFAULT 0, timeout_s REAL NOT NULL, ttl_s REAL NOT NULL, created_at REAL NOT NULL,"
        " started_at REAL, finished_at REAL, updated_at REAL NOT NULL, last_event_seq INTEGER NOT NULL DEFAULT 0)"
    )
    conn.execute(
        "INSERT INTO jobs(id,spec_json,spec_hash,op,op_version,fingerprint,state,timeout_s,ttl_s,created_at,updated_at)"
        " VALUES('old-job-0001','{\"op\":\"noop\",\"inputs\":{}}','h','noop','1','f','queued',60,60,1,1)"
    )
    conn.commit()
    conn.close()
    store = JobStore(Database(path))
    assert store.due_for_publish() == [("old-job-0001", "gpu.noop")]
    assert store.get("old-job-0001").route == "gpu.noop"
