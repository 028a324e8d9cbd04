"""The watch daemon ends analysis workers a killed run left behind, and nothing else."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.engine import _alive, process_start_time, reap_orphaned_workers, register_worker
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process tree")

# A "run" (the outer process) that starts one worker which lists itself in the registry the way
# pool workers do, but without the die-with-parent guards: what an older version or a starved
# watchdog leaves behind when the run is killed.
_RUN = """
import subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", sys.argv[2], sys.argv[1]])
print(worker.pid, flush=True)
time.sleep(120)
"""
_WORKER = """
import sys, time
from pathlib import Path
from analysis.engine import register_worker
register_worker(Path(sys.argv[1]))
time.sleep(120)
"""


def _orphan(registry: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(
        [sys.executable, "-c", _RUN, str(registry), _WORKER], env=env, stdout=subprocess.PIPE, text=True
    )
    assert run.stdout is not None
    pid = int(run.stdout.readline())
    deadline = time.monotonic() + 30
    while not (registry / f"{pid}.json").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (registry / f"{pid}.json").exists()
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert _alive(pid)  # without the reaper it would stay
    return pid


def test_reaper_ends_orphans_only(tmp_path: Path) -> None:
    registry = tmp_path / "workers"
    orphan = _orphan(registry)
    # A worker whose parent (this test) is alive: left alone.
    mine = register_worker(registry)
    assert mine is not None
    # A listed pid now used by another process (start time differs): never touched, entry dropped.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    reused = registry / f"{sleeper.pid}.json"
    reused.write_text(
        json.dumps(
            {
                "mark": "montage-bridge analysis worker",
                "pid": sleeper.pid,
                "started": 1.0,
                "parent": 1,
                "parent_started": 1.0,
            }
        )
    )
    try:
        assert reap_orphaned_workers(registry) == [orphan]
        assert not _alive(orphan)
        assert _alive(sleeper.pid) and not reused.exists()
        assert mine.exists() and not (registry / f"{orphan}.json").exists()
        assert process_start_time(os.getpid()) is not None
    finally:
        sleeper.kill()
        sleeper.wait()
        if _alive(orphan):
            os.kill(orphan, signal.SIGKILL)
        mine.unlink(missing_ok=True)


def test_daemon_reaps_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from montage_bridge.watch.config import WatchConfig
    from montage_bridge.watch.daemon import WatchDaemon

    monkeypatch.setenv("MONTAGE_CACHE_DIR", str(tmp_path / "cache"))
    orphan = _orphan(tmp_path / "cache" / "workers")
    try:
        (tmp_path / "in").mkdir()
        lines: list[str] = []
        WatchDaemon(tmp_path / "in", tmp_path / "out", WatchConfig(), once=True, log=lines.append).run()
        assert any(f"ended 1 analysis worker(s) left by a killed run (pid {orphan})" in line for line in lines), lines
        assert not _alive(orphan)
    finally:
        if _alive(orphan):
            os.kill(orphan, signal.SIGKILL)


def test_kill_9_of_the_daemon_takes_its_warm_workers_along(
    tmp_path: Path, tiny_media: dict, daemon_procs: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon keeps a warm pool whose workers were started from a job thread (so no parent-death
    signal for them): the watchdog alone must end them when the daemon is killed."""
    from tests.watch.conftest import make_job, start_daemon, wait_for, write_config

    cache = tmp_path / "cache"
    monkeypatch.setenv("MONTAGE_CACHE_DIR", str(cache))
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    make_job(inbox, "job", tiny_media, [0, 1])
    proc = start_daemon(inbox, outbox, write_config(tmp_path / "watch.toml"))
    daemon_procs.append(proc)
    wait_for(lambda: (outbox / "job" / "report.json").exists(), 120, "the job to be written", proc)
    registry = cache / "workers"
    workers = [int(p.stem) for p in registry.glob("*.json")]
    assert workers and all(_alive(pid) for pid in workers)  # idle, warm, waiting for the next job
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    try:
        time.sleep(5)
        assert [pid for pid in workers if _alive(pid)] == []
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
