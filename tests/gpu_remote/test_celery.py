"""Scale-out against real processes: redis-server, a gateway with --backend celery and Celery
workers, with the broker stopped and restarted, the gateway restarted and workers killed -9.

Every job must end ``succeeded`` exactly once (one ``running`` per attempt that was not lost, one
``succeeded``), or ``failed`` with a reason after its retry budget; none stays queued long after
the broker is back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gpu_remote.celery_backend import TASK, make_celery
from gpu_remote.models import JobSpec
from tests.gpu_remote.conftest import REPO, TOKEN, free_port, make_clip, start_worker
from tests.gpu_remote.redis_proc import RedisProc

FAST = ["--republish-after-s", "2", "--reaper-interval-s", "0.5", "--retry-backoff-s", "0.2"]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProc]:
    server = RedisProc(tmp_path / "redis", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
    for proc in started:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_celery_worker(
    data: Path, broker: str, name: str, *, lease_s: float = 10, routes: str | None = None, env: dict | None = None
) -> subprocess.Popen:
    args = [sys.executable, "-m", "montage_bridge", "worker", "celery", "--data", str(data), "--broker", broker]
    args += ["--name", name, "--lease-s", str(lease_s)]
    if routes:
        args += ["--routes", routes]
    return subprocess.Popen(
        args,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # so a test can kill -9 the worker's whole group
    )


def _noop(duration: float, tag: str, steps: int = 1, priority: int = 0) -> JobSpec:
    return JobSpec(op="noop", params={"duration_s": duration, "tag": tag, "steps": steps}, priority=priority)


def _wait_all(client, ids: list[str], timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = client.jobs(ids)
        if len(jobs) == len(ids) and all(job.state.terminal for job in jobs):
            return jobs
        time.sleep(0.1)
    raise AssertionError(f"jobs not finished: {[(j.id, j.state.value) for j in client.jobs(ids)]}")


def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _states(client, job_id: str) -> list[str]:
    return [e.data["state"] for e in client.events(job_id) if e.type == "state"]


def _raw_put(url: str, job_id: str, spec: JobSpec) -> requests.Response:
    return requests.put(
        f"{url}/v1/jobs/{job_id}",
        data=spec.model_dump_json(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=30,
    )


def test_two_workers_share_one_queue_and_no_job_runs_twice(redis_server: RedisProc, tmp_path: Path, procs) -> None:
    data = tmp_path / "cluster"
    gateway = start_worker(data, "--backend", "celery", "--broker", redis_server.url)
    try:
        procs.extend(start_celery_worker(data, redis_server.url, f"gpu{i}@test") for i in range(2))
        client = gateway.client(tmp_path / "state")
        ids = [f"celery-job-{i:03d}" for i in range(8)]
        for i, job_id in enumerate(ids):
            client.put_job(job_id, _noop(0.4, f"c{i}"))
        finals = _wait_all(client, ids, timeout=60)
        assert all(job.state.value == "succeeded" for job in finals), [j.state for j in finals]
        assert {job.result["pid"] for job in finals} == {w.pid for w in procs}, "both workers took jobs"
        # Deliver every message again, as Redis would after a visibility timeout: all are no-ops.
        app = make_celery(redis_server.url)
        for job_id in ids:
            app.send_task(TASK, args=[job_id, "gpu.noop"], queue="gpu.noop")
        time.sleep(2.0)
        for job_id in ids:
            states = _states(client, job_id)
            assert states.count("running") == 1 and states.count("succeeded") == 1, (job_id, states)
            assert client.job(job_id).attempt == 1
        app.close()
        workers = client.session.get(f"{gateway.url}/v1/workers").json()["workers"]
        assert sorted(w["pid"] for w in workers) == sorted(p.pid for p in procs)
        assert all("gpu.noop" in w["routes"] and w["kind"] == "celery" for w in workers)
    finally:
        gateway.stop()


def test_broker_outage_gateway_restart_and_lost_messages(redis_server: RedisProc, tmp_path: Path, procs) -> None:
    """Broker stopped after, before and while jobs are created, gateway restarted during the outage,
    and the broker comes back empty: every job runs once, soon after the broker returns."""
    data = tmp_path / "cluster"
    gateway = start_worker(data, "--backend", "celery", "--broker", redis_server.url, *FAST)
    client = gateway.client(tmp_path / "state")
    try:
        # After: published while no worker listens, then the broker restarts and loses it.
        client.put_job("outage-after-0001", _noop(0, "after"))
        redis_server.stop()
        # Before: the broker is down when the job is created → 503 + Retry-After, the job is saved.
        resp = _raw_put(gateway.url, "outage-before-001", _noop(0, "before"))
        assert resp.status_code == 503, resp.text
        assert resp.headers["Retry-After"].isdigit()
        assert resp.json()["job"]["state"] == "queued"
        assert "broker" in resp.json()["error"]
        health = client.health()
        assert health["status"] == "degraded" and health["broker"] == "unreachable", health
        # The gateway restarts during the outage (kill -9: nothing is flushed).
        gateway.kill9()
        gateway = start_worker(data, *gateway.args[gateway.args.index("--data") + 2 :], port=gateway.port)
        # While: the client's PUT meets 503s and retries them until the broker returns.
        returned = []

        def bring_back() -> None:
            time.sleep(3.0)
            redis_server.start()
            returned.append(time.monotonic())

        thread = threading.Thread(target=bring_back)
        thread.start()
        job, _created = client.put_job("outage-while-0001", _noop(0, "while"))
        thread.join()
        assert returned, "the PUT returned before the broker came back, so it was not retried"
        assert job.state.value in ("queued", "running", "succeeded")
        procs.append(start_celery_worker(data, redis_server.url, "gpu0@test"))
        ids = ["outage-after-0001", "outage-before-001", "outage-while-0001"]
        finals = _wait_all(client, ids, timeout=60)
        assert time.monotonic() - returned[0] < 60
        for final in finals:
            assert final.state.value == "succeeded", (final.id, final.state, final.error)
            states = _states(client, final.id)
            assert states.count("running") == 1 and states.count("succeeded") == 1, (final.id, states)
        assert client.health()["broker"] == "ok"
    finally:
        gateway.stop()


def test_worker_killed_twice_mid_job_then_succeeds_once(redis_server: RedisProc, tmp_path: Path, procs) -> None:
    data = tmp_path / "cluster"
    gateway = start_worker(data, "--backend", "celery", "--broker", redis_server.url, *FAST)
    client = gateway.client(tmp_path / "state")
    try:
        client.put_job("killed-twice-0001", _noop(3.0, "k", steps=30))
        for attempt in (1, 2):
            worker = start_celery_worker(data, redis_server.url, f"gpu{attempt}@test", lease_s=2)
            procs.append(worker)
            _wait_until(
                lambda a=attempt: (j := client.job("killed-twice-0001")).state.value == "running" and j.attempt == a,
                60,
                f"attempt {attempt} to run",
            )
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        procs.append(start_celery_worker(data, redis_server.url, "gpu3@test", lease_s=2))
        (final,) = _wait_all(client, ["killed-twice-0001"], timeout=90)
        assert final.state.value == "succeeded" and final.attempt == 3, (final.state, final.attempt, final.error)
        states = _states(client, "killed-twice-0001")
        assert states.count("succeeded") == 1 and states.count("running") == 3, states
        _wait_until(lambda: not any((data / "work").iterdir()), 10, "attempt folders to be reaped")
    finally:
        gateway.stop()


def test_routes_send_jobs_only_to_capable_workers_in_priority_order(
    redis_server: RedisProc, tmp_path: Path, procs
) -> None:
    data = tmp_path / "cluster"
    gateway = start_worker(data, "--backend", "celery", "--broker", redis_server.url, *FAST)
    client = gateway.client(tmp_path / "state")
    try:
        # No worker serves gpu.stabilize: health says so, the job waits instead of failing.
        procs.append(start_celery_worker(data, redis_server.url, "noop-only@test", routes="gpu.noop"))
        _wait_until(lambda: client.health()["workers"] == 1, 30, "the worker to register")
        client.put_job("blocker-00000001", _noop(1.5, "blocker"))
        _wait_until(lambda: client.job("blocker-00000001").state.value == "running", 30, "the blocker to run")
        for i, priority in enumerate([0, 50, -10, 90]):
            client.put_job(f"prio-job-{i:04d}", _noop(0, f"p{i}", priority=priority))
        # A job for a route no live worker serves waits (it is not failed by the wrong worker),
        # and health names the route.
        ref = client.upload(make_clip(tmp_path / "clip.mp4"))
        unserved = JobSpec(op="upscale", inputs={"video": ref}, params={"method": "realesrgan"})
        assert client.put_job("unserved-00000001", unserved)[0].route == "gpu.upscale.realesrgan"
        finals = _wait_all(client, [f"prio-job-{i:04d}" for i in range(4)], timeout=60)
        order = sorted(finals, key=lambda j: j.started_at)
        assert [j.id for j in order] == ["prio-job-0003", "prio-job-0001", "prio-job-0000", "prio-job-0002"]
        health = client.health()
        assert health["status"] == "degraded" and health["workers"] == 1, health
        assert "1 job(s) queued for gpu.upscale.realesrgan, which no live worker serves" in health["problems"]
        time.sleep(1.0)
        assert client.job("unserved-00000001").state.value == "queued"
        assert client.cancel("unserved-00000001").state.value == "canceled"
        workers = client.session.get(f"{gateway.url}/v1/workers").json()["workers"]
        assert workers[0]["routes"] == ["gpu.noop"] and workers[0]["ops"] == ["noop"]
    finally:
        gateway.stop()


def test_celery_profile_is_set_for_long_jobs(redis_server: RedisProc) -> None:
    app = make_celery(redis_server.url)
    conf = app.conf
    assert conf.task_acks_late and conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] >= 4 * 3600
    app.close()
