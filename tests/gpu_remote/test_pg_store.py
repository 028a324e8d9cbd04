"""The job database's contract under concurrency, on SQLite and on a real PostgreSQL server; what
only PostgreSQL has to survive (a server restart); and a worker serving jobs with ``--store``.

test_store.py and test_dispatch.py run every store rule on both databases too (``job_db``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gpu_remote.db import open_database
from gpu_remote.models import JobSpec
from gpu_remote.store import JobStore

THREADS = 6


def put(store: JobStore, job_id: str, tag: str = "x") -> bool:
    params = {"duration_s": 0.0, "steps": 1, "tag": tag}
    return store.put(job_id, JobSpec(op="noop", params=params), "1", params, missing=[])[1]


def run_threads(target, count: int = THREADS) -> None:
    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_concurrent_claimers_take_each_job_exactly_once(job_db) -> None:
    store = JobStore(job_db)
    for n in range(30):
        put(store, f"race-job-{n:04d}", tag=str(n))
    taken: list[tuple[str, str]] = []
    lock = threading.Lock()

    def claimer(i: int) -> None:
        while (job := store.claim(f"owner-{i}", lease_s=30)) is not None:
            with lock:
                taken.append((job.id, f"owner-{i}"))
            assert store.progress(job.id, job.attempt, job.progress.model_copy(update={"fraction": 0.5}))
            assert store.succeed(job.id, job.attempt, [], {"by": f"owner-{i}"})

    run_threads(claimer)
    ids = [job_id for job_id, _ in taken]
    assert sorted(ids) == sorted(f"race-job-{n:04d}" for n in range(30))  # every job, none twice
    assert store.counts() == {"succeeded": 30}
    for job_id, owner in taken:
        job = store.get(job_id)
        assert job.result == {"by": owner} and job.attempt == 1
        seqs = [e.seq for e in store.events_after(job_id, 0)]
        assert seqs == list(range(1, len(seqs) + 1))  # event numbers: no gap, no duplicate


def test_concurrent_idempotent_create_makes_one_job(job_db) -> None:
    store = JobStore(job_db)
    created: list[bool] = []

    def creator(_i: int) -> None:
        created.append(put(store, "same-id-000001", tag="same"))

    run_threads(creator)
    assert created.count(True) == 1 and len(created) == THREADS
    assert store.counts() == {"queued": 1}


def test_events_from_several_writers_on_one_job_get_distinct_numbers(job_db) -> None:
    store = JobStore(job_db)
    put(store, "busy-job-0001")
    job = store.claim("w", lease_s=30)
    assert job is not None

    def writer(i: int) -> None:
        for k in range(10):
            store.log(job.id, job.attempt, f"{i}-{k}")

    run_threads(writer)
    events = store.events_after(job.id, 0)
    assert len([e for e in events if e.type == "log"]) == THREADS * 10
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_the_store_carries_on_across_a_postgres_restart(pg_cluster, tmp_path: Path) -> None:
    db = open_database(pg_cluster.create_database(), tmp_path)
    store = JobStore(db)
    put(store, "before-restart-01")
    pg_cluster.restart()
    # the thread's connection died with the server: the next transaction opens a new one
    assert store.get("before-restart-01").state.value == "queued"
    job = store.claim("after", lease_s=30)
    assert job is not None and job.id == "before-restart-01"
    assert store.succeed(job.id, job.attempt, [], {})
    db.close()
    # a second handle (another machine) sees the same state
    other = JobStore(open_database(db.dsn, tmp_path / "elsewhere"))
    assert other.get("before-restart-01").state.value == "succeeded"


def test_a_bad_store_url_is_a_one_line_error(tmp_path: Path, pg_cluster) -> None:
    from gpu_remote.errors import WorkerConfigError

    with pytest.raises(WorkerConfigError, match="postgresql://"):
        open_database("mysql://nowhere/db", tmp_path)
    closed_port = pg_cluster.url().replace(str(pg_cluster.port), "1")
    with pytest.raises(WorkerConfigError, match="cannot use the job database"):
        open_database(closed_port, tmp_path)


def test_placeholders_translate_outside_literals_only() -> None:
    from gpu_remote.pg import to_psycopg

    assert to_psycopg("SELECT ? , 'a?b', '50%', x LIKE '%' || ?") == "SELECT %s , 'a?b', '50%', x LIKE '%' || %s"
    assert to_psycopg("SELECT 5 % 2 WHERE 'it''s?' = ?") == "SELECT 5 %% 2 WHERE 'it''s?' = %s"


def test_worker_serves_jobs_with_state_in_postgres(pg_cluster, worker_factory, tmp_path: Path) -> None:
    url = pg_cluster.create_database()
    worker = worker_factory("--store", url)
    client = worker.client(tmp_path / "state")
    job = client.wait(client.submit("noop", {}, {"duration_s": 0.0, "steps": 2, "tag": "pg"}).id)
    assert job.state.value == "succeeded"
    # the job is in PostgreSQL, not in a SQLite file in the data folder
    assert not (worker.data / "jobs.sqlite3").exists()
    assert JobStore(open_database(url, tmp_path)).get(job.id).state.value == "succeeded"
