"""Fixtures: a real `montage-bridge worker serve` subprocess on 127.0.0.1, and generated media."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from gpu_remote.client import GpuClient
from kernel.ffmpeg_tools import run_ffmpeg

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-3f9a1c2b7d8e4f60a1b2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class WorkerProc:
    url: str
    data: Path
    proc: subprocess.Popen
    args: list[str]
    port: int

    def client(self, state: Path, **kwargs) -> GpuClient:
        return GpuClient(self.url, TOKEN, state_dir=state, **kwargs)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"worker exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            requests.get(f"{url}/v1/health", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"worker at {url} did not start in {timeout} s")


def start_worker(data: Path, *extra: str, port: int | None = None, env: dict[str, str] | None = None) -> WorkerProc:
    port = port or free_port()
    args = [sys.executable, "-m", "montage_bridge", "worker", "serve", "--port", str(port), "--data", str(data), *extra]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "MONTAGE_WORKER_TOKEN": TOKEN, **(env or {})}
    proc = subprocess.Popen(args, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_http(url, proc=proc)
    return WorkerProc(url=url, data=data, proc=proc, args=args, port=port)


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., WorkerProc]]:
    started: list[WorkerProc] = []

    def make(*extra: str, data: Path | None = None, port: int | None = None, env: dict[str, str] | None = None):
        worker = start_worker(data or tmp_path / "worker", *extra, port=port, env=env)
        started.append(worker)
        return worker

    yield make
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def shared_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProc]:
    """One worker for tests that do not restart it (slots=2 so a long job does not block others)."""
    worker = start_worker(tmp_path_factory.mktemp("shared-worker"), "--slots", "2")
    yield worker
    worker.stop()


def make_clip(path: Path, *, size: str = "160x120", seconds: float = 1.0, rate: int = 25) -> Path:
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate={rate}:duration={seconds}",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-preset",
            "ultrafast",
            str(path),
        ]
    )
    return path


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """One private PostgreSQL server for the session (skips where its binaries are missing)."""
    from tests.gpu_remote.pg_proc import PgCluster

    pytest.importorskip("psycopg", reason="needs psycopg (the [worker] extra)")
    cluster = PgCluster(free_port())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def job_db(request: pytest.FixtureRequest, tmp_path: Path):
    """The job database behind the store, once per implementation: the store's contract holds on both."""
    from gpu_remote.db import open_database

    if request.param == "sqlite":
        yield open_database(None, tmp_path)
        return
    cluster = request.getfixturevalue("pg_cluster")
    db = open_database(cluster.create_database(), tmp_path)
    yield db
    db.close()
