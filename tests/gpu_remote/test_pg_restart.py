"""Fault injection: the real PostgreSQL job database stops while jobs run, longer than their leases,
and comes back. A worker serving from it answers 503 + Retry-After meanwhile (not 500), keeps its
runner threads, keeps every finished run's result until the database takes it, and every job ends
``succeeded`` exactly once; a job created during the outage is created when it returns."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gpu_remote.models import JobSpec
from tests.gpu_remote.conftest import TOKEN, free_port, start_worker
from tests.gpu_remote.pg_proc import PgCluster
from tests.gpu_remote.test_celery import FAST, _states, _wait_all, _wait_until, procs, start_celery_worker  # noqa: F401


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """A private cluster of this test's own: it is stopped and started under the running jobs."""
    pytest.importorskip("psycopg", reason="needs psycopg (the [worker] extra)")
    server = PgCluster(free_port())
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def test_jobs_survive_a_postgres_restart(cluster: PgCluster, tmp_path: Path) -> None:
    store = cluster.create_database()
    fast = ["--lease-s", "3", "--reaper-interval-s", "0.5", "--retry-backoff-s", "0.2"]
    worker = start_worker(tmp_path / "data", "--store", store, "--slots", "2", *fast)
    client = worker.client(tmp_path / "state")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        ids = []
        for i in range(6):
            spec = JobSpec(op="noop", params={"duration_s": 1.5, "steps": 15, "tag": f"pg{i}"})
            ids.append(client.put_job(f"pg-restart-{i:04d}", spec)[0].id)
        _wait_until(lambda: sum(j.state.value == "running" for j in client.jobs(ids)) == 2, 30, "two jobs to run")

        cluster.stop("fast")  # both running jobs finish during the outage; it outlasts their leases
        answer = requests.get(f"{worker.url}/v1/jobs/{ids[0]}", headers=auth, timeout=30)
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"].isdigit()
        assert "job database" in answer.json()["error"] and "unreachable" in answer.json()["error"]
        created: list[str] = []

        def create_during_outage() -> None:  # the client repeats the PUT's 503s until it returns
            job, _ = client.put_job("pg-during-0001", JobSpec(op="noop", params={"tag": "during"}))
            created.append(job.id)

        thread = threading.Thread(target=create_during_outage)
        thread.start()
        time.sleep(5.0)
        assert not created
        cluster.start()
        thread.join(60)
        assert created == ["pg-during-0001"]

        finals = _wait_all(client, [*ids, "pg-during-0001"], timeout=90)
        for job in finals:
            assert job.state.value == "succeeded", (job.id, job.state, job.error)
            states = _states(client, job.id)
            assert states.count("succeeded") == 1, (job.id, states)
            assert states.count("running") == job.attempt, (job.id, states)  # a lost lease re-ran it whole
        assert worker.proc.poll() is None, "the worker process died"
        _wait_until(lambda: not any((tmp_path / "data" / "work").iterdir()), 15, "attempt folders to be removed")
        assert client.health()["status"] in ("ready", "busy")
    finally:
        worker.stop()


def test_a_celery_farm_survives_a_postgres_restart(cluster: PgCluster, tmp_path: Path, procs) -> None:  # noqa: F811
    """The scale-out set-up the PostgreSQL store is for: gateway and two Celery workers on one
    database and a real redis-server; the database stops under running and queued jobs."""
    from tests.gpu_remote.redis_proc import RedisProc

    redis = RedisProc(tmp_path / "redis", free_port())
    redis.start()
    store = cluster.create_database()
    env = {"MONTAGE_WORKER_STORE": store}
    data = tmp_path / "cluster"
    gateway = start_worker(data, "--backend", "celery", "--broker", redis.url, *FAST, env=env)
    client = gateway.client(tmp_path / "state")
    try:
        procs.extend(start_celery_worker(data, redis.url, f"pg{i}@test", lease_s=3, env=env) for i in range(2))
        _wait_until(lambda: client.health()["workers"] == 2, 60, "both workers to register")
        ids = []
        for i in range(6):
            spec = JobSpec(op="noop", params={"duration_s": 1.5, "steps": 15, "tag": f"farm{i}"})
            ids.append(client.put_job(f"pg-farm-{i:04d}", spec)[0].id)
        _wait_until(lambda: sum(j.state.value == "running" for j in client.jobs(ids)) == 2, 30, "two jobs to run")
        cluster.stop("fast")
        time.sleep(5.0)
        cluster.start()
        finals = _wait_all(client, ids, timeout=120)
        for job in finals:
            assert job.state.value == "succeeded", (job.id, job.state, job.error)
            states = _states(client, job.id)
            assert states.count("succeeded") == 1 and states.count("running") == job.attempt, (job.id, states)
        assert all(p.poll() is None for p in procs), "a Celery worker died"
        _wait_until(lambda: not any((data / "work").iterdir()), 15, "attempt folders to be removed")
    finally:
        gateway.stop()
        redis.stop()
