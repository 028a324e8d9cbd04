"""Analysis workers die with their parent, `kill -9` included (no 3 × 120 MB processes living on)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from analysis.engine import _alive, _SpawnedFrom
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="kill -9 and /proc are POSIX")


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (psutil when installed, else /proc)."""
    try:
        import psutil

        try:
            return [c.pid for c in psutil.Process(pid).children()]
        except psutil.NoSuchProcess:
            return []
    except ImportError:
        pass
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _workers_of_run(marker: str) -> list[int]:
    """Every running analysis worker whose environment carries ``marker`` (this run's own cache dir):
    all of the run's workers, the ones started after we looked included, wherever they were re-parented."""
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline and marker.encode() in environ.split(b"\0") and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_kill_9_of_auto_leaves_no_analysis_worker(tmp_path: Path, sample_media: Path) -> None:
    footage = tmp_path / "footage"
    shutil.copytree(sample_media / "footage", footage)
    cache = tmp_path / "cache"  # empty: every clip is analysed in a worker
    env = {**os.environ, "PYTHONPATH": str(REPO), "MONTAGE_CACHE_DIR": str(cache)}
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "montage_bridge", "auto", str(footage), "--music", str(sample_media / "music.wav"),
         "-o", str(out)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    registry = cache / "workers"
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            # A worker is armed once its initializer ran: that is when it lists itself.
            listed = {int(p.stem) for p in registry.glob("*.json")} if registry.is_dir() else set()
            workers = [pid for pid in _children(proc.pid) if pid in listed]
            if workers:
                break
            time.sleep(0.02)
        assert workers, "auto finished (or hung) before any analysis worker was seen"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        time.sleep(5)
        listed = {int(p.stem) for p in registry.glob("*.json")}  # SIGKILLed workers leave their entry
        marker = f"MONTAGE_CACHE_DIR={cache}"
        survivors = sorted({pid for pid in {*workers, *listed} if _alive(pid)} | set(_workers_of_run(marker)))
        assert survivors == [], f"analysis workers {survivors} outlived their killed parent"
        assert not out.exists()  # nothing was written: the folder appears only with the timelines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # Never leave this run's processes behind, whatever the assertions said.
        for pid in {*workers, *_workers_of_run(f"MONTAGE_CACHE_DIR={cache}")}:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_only_workers_started_by_the_main_thread_ask_for_the_parent_death_signal() -> None:
    # Linux sends PR_SET_PDEATHSIG when the starting *thread* ends: a warm-pool worker started from
    # a watch job's thread must not get it, or it would die with that job.
    import pickle

    assert pickle.loads(pickle.dumps(_SpawnedFrom())).main_thread is True
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(pickle.loads(pickle.dumps(_SpawnedFrom())).main_thread))
    thread.start()
    thread.join()
    assert seen == [False]
