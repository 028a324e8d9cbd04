"""No orphans: a job's children die with cancel and with a killed worker, and dead attempts'
work folders are removed."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from gpu_remote.ops.base import PGIDS_FILE, kill_group, kill_recorded_groups, spawn
from tests.gpu_remote.conftest import make_clip


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][0] != "Z"  # a zombie is dead, only not yet reaped
    except FileNotFoundError:
        return False


def _pids_with(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline and _alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_kill_group_takes_grandchildren_too(tmp_path: Path) -> None:
    marker = f"sleep 273.{os.getpid()}"
    proc = spawn(["sh", "-c", f"{marker} & {marker}; wait"], tmp_path)
    assert _wait(lambda: len(_pids_with(marker)) >= 3, 5)  # sh and its two sleeps
    kill_group(proc)
    assert _wait(lambda: not _pids_with(marker), 5), "a grandchild outlived the cancel"


def test_recorded_groups_are_killed_by_the_reaper(tmp_path: Path) -> None:
    marker = f"sleep 274.{os.getpid()}"
    # Started by a process that then vanishes without cleaning up (as a killed worker would).
    launcher = subprocess.run(
        [
            "python3",
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
            "import subprocess; from gpu_remote.ops.base import spawn; "
            f"p = spawn(['sh', '-c', '{marker} & {marker}; wait'], Path(sys.argv[2]), "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid)",
            str(Path(__file__).resolve().parents[2]),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert launcher.stdout.strip()
    assert (tmp_path / PGIDS_FILE).is_file()
    # The parent-death signal killed the direct child when the launcher's thread ended; its own
    # child (a grandchild of the launcher) is only reachable through the recorded group.
    assert _wait(lambda: len(_pids_with(marker)) >= 1, 5)
    kill_recorded_groups(tmp_path)
    assert _wait(lambda: not _pids_with(marker), 5), "the recorded group survived the reaper"


def test_killed_worker_leaves_no_ffmpeg_and_no_attempt_folder(worker_factory, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "long.mp4", size="640x360", seconds=20.0)
    worker = worker_factory("--lease-s", "2")
    client = worker.client(tmp_path / "state")
    job = client.submit("stabilize", {"video": clip}, {"accuracy": 15, "shakiness": 10})
    work = worker.data / "work"
    assert _wait(lambda: bool(_pids_with(str(work))), 30), "ffmpeg never started"
    ffmpeg_pids = _pids_with(str(work))
    worker.kill9()
    assert _wait(lambda: not any(_alive(p) for p in ffmpeg_pids), 5), "ffmpeg outlived its worker"
    assert [d.name for d in work.iterdir()] == [f"{job.id}.1"]  # left behind by the killed worker
    restarted = worker_factory("--lease-s", "2", data=worker.data)
    client = restarted.client(tmp_path / "state")
    assert _wait(lambda: client.job(job.id).attempt == 2, 30)
    assert not (work / f"{job.id}.1").exists(), "the dead attempt's folder was not reaped"
    # Cancel kills the running attempt's ffmpeg at once and removes its folder.
    assert _wait(lambda: bool(_pids_with(str(work))), 30)
    pids = _pids_with(str(work))
    client.cancel(job.id)
    assert _wait(lambda: client.job(job.id).state.value == "canceled", 10)
    assert _wait(lambda: not any(_alive(p) for p in pids), 5)
    assert _wait(lambda: not any(work.iterdir()), 5)
