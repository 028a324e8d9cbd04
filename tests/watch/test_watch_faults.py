"""Bad days for the watch daemon, with real processes and real filesystems: two daemons on one
outbox, a disk that fills up mid-job, a journal that is no longer a database (#19)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.watch.conftest import jobs, make_job, stop, wait_for, write_config

TIMELINE_SUFFIXES = (".otio", ".xml", ".edl")


def _start(inbox: Path, outbox: Path, config: Path, log: Path) -> subprocess.Popen:
    """A daemon whose output goes to ``log`` (read while it runs)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"}
    handle = log.open("w")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "montage_bridge", "watch", str(inbox), "--out", str(outbox)]
            + ["--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )
    finally:
        handle.close()


def _complete(outbox: Path, job: str) -> bool:
    """OUTBOX/<job> holds every timeline, the plan and the report, and no ERROR.txt."""
    folder = outbox / job
    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir()}
    wanted = {f"{job}{s}" for s in TIMELINE_SUFFIXES} | {"plan.json", "analysis.json", "report.json"}
    if not wanted <= names or "ERROR.txt" in names:
        return False
    report = json.loads((folder / "report.json").read_text())
    return report["job"] == job and report["cuts"] > 0


def _assert_nothing_half_written(outbox: Path) -> None:
    """No temp folder; each job folder is either a complete output or holds only ERROR.txt."""
    assert not [p.name for p in outbox.iterdir() if p.name.startswith((".mb-tmp-", ".mb-old-"))]
    for folder in (p for p in outbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        names = sorted(p.name for p in folder.iterdir())
        assert _complete(outbox, folder.name) or names == ["ERROR.txt"], (folder.name, names)


# --- two daemons, one outbox --------------------------------------------------------------------


def test_two_daemons_on_one_outbox_one_works_the_other_exits_2_naming_it(tmp_path, tiny_media, daemon_procs):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    names = [f"job{i}" for i in range(3)]
    for n, name in enumerate(names):
        make_job(inbox, name, tiny_media, [n % 4, (n + 1) % 4])
    config = write_config(tmp_path / "watch.toml")
    # Started together, as two service units or two terminals would.
    a = _start(inbox, outbox, config, tmp_path / "a.log")
    b = _start(inbox, outbox, config, tmp_path / "b.log")
    daemon_procs += [a, b]
    wait_for(lambda: a.poll() is not None or b.poll() is not None, 60, "one of the two daemons to give way")
    loser, winner, loser_log = (a, b, tmp_path / "a.log") if a.poll() is not None else (b, a, tmp_path / "b.log")
    assert loser.returncode == 2
    message = loser_log.read_text()
    assert f"pid {winner.pid} on " in message and "already holds this outbox" in message, message
    assert "Traceback" not in message and message.count("\n") == 1, message
    assert winner.poll() is None

    def all_written() -> bool:
        rows = jobs(outbox)
        return all(rows.get(n, {}).get("state") == "written" for n in names)

    wait_for(all_written, 180, "every job written by the daemon that holds the outbox", winner)
    assert {n: jobs(outbox)[n]["writes"] for n in names} == {n: 1 for n in names}
    assert all(_complete(outbox, n) for n in names)
    # A third daemon while the first runs: refused the same way, and it touched nothing.
    third = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once", timeout=60)
    assert third.returncode == 2 and f"pid {winner.pid}" in third.stderr, third.stderr

    # The lock dies with its holder: after kill -9 the next daemon takes the outbox at once.
    winner.send_signal(signal.SIGKILL)
    winner.wait(timeout=10)
    again = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once", timeout=120)
    assert again.returncode == 0, again.stderr
    assert "0 job(s) written, 0 failed" in again.stdout
    assert {n: jobs(outbox)[n]["writes"] for n in names} == {n: 1 for n in names}


# --- a full disk -------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 32 MiB filesystem at ``tmp_path/small`` (tmpfs; an ext4 image on a loop device otherwise)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small filesystem needs root on Linux (the in-process disk-full test still runs)")
    tried = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if tried.returncode != 0:
        image = tmp_path / "small.img"
        with image.open("wb") as handle:
            handle.truncate(32 << 20)
        made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True, text=True)
        tried = subprocess.run(["mount", "-o", "loop", str(image), str(mount_point)], capture_output=True, text=True)
        if made.returncode != 0 or tried.returncode != 0:
            pytest.skip(f"cannot mount a small filesystem here: {tried.stderr.strip() or made.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _fill(ballast: Path) -> Path:
    """Write to ``ballast`` (made while there was room) until the filesystem refuses more bytes.

    32 MiB leaves room for every job's outputs whatever the timing: with 8 MiB a loaded CI box ran
    enough jobs before the fill that the disk was full already and the ballast could not be created."""
    chunk = b"\0" * (64 << 10)
    # Unbuffered: a buffered file keeps the bytes ENOSPC refused and raises again when it is closed.
    with ballast.open("ab", buffering=0) as handle:
        try:
            while True:
                handle.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return ballast


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    """Poll ``predicate``; fail with the daemon's log if it exits or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"daemon exited ({proc.returncode}) while waiting for {what}\n{log.read_text()}")
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{log.read_text()}")


def _log_lines(log: Path, needle: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if needle in line)


def test_disk_full_mid_job_pauses_cleanly_and_every_job_is_written_once_when_space_returns(
    tmp_path, small_disk, tiny_media, daemon_procs
):
    inbox, outbox = tmp_path / "in", small_disk / "out"
    names = [f"job{i}" for i in range(4)]
    for n, name in enumerate(names):
        make_job(inbox, name, tiny_media, [n % 4, (n + 1) % 4])
    config = write_config(tmp_path / "watch.toml", disk_retry_seconds=0.5)
    log = tmp_path / "daemon.log"
    ballast = small_disk / "ballast.bin"
    ballast.touch()
    proc = _start(inbox, outbox, config, log)
    daemon_procs.append(proc)

    # The log, not the journal's current state: with the clips' analysis cached a job runs in ~0.1 s,
    # and a poll of "analyzing" rows could miss every one of them.
    _wait(lambda: _log_lines(log, ": analyzing") >= 1, 90, "a job to start", proc, log)
    _fill(ballast)  # the disk fills while the first jobs run...
    # ...and one more job arrives on the full disk, so at least one job meets it whatever the timing.
    make_job(inbox, "job4", tiny_media, [1, 3])
    names.append("job4")

    _wait(lambda: _log_lines(log, "disk full:") >= 1, 90, "the daemon to notice the full disk", proc, log)
    # Every job it started has ended (paused or, if it beat the fill, written); no new job starts.
    _wait(
        lambda: (
            _log_lines(log, ": analyzing")
            == _log_lines(log, ": paused —") + _log_lines(log, ": written to") + _log_lines(log, ": failed —")
        ),
        60,
        "the running jobs to stop",
        proc,
        log,
    )
    started = _log_lines(log, ": analyzing")
    time.sleep(1.5)  # three space checks: still full, so nothing may start
    text = log.read_text()
    assert proc.poll() is None, text
    assert "Traceback" not in text and "failed —" not in text, text
    assert _log_lines(log, ": paused —") >= 1, text
    assert _log_lines(log, ": analyzing") == started, "jobs kept starting on a full disk:\n" + text
    _assert_nothing_half_written(outbox)
    paused_folders = [p for p in outbox.iterdir() if p.is_dir() and (p / "ERROR.txt").exists()]
    for folder in paused_folders:
        assert "runs it again by itself once space is freed" in (folder / "ERROR.txt").read_text()

    ballast.unlink()  # space returns
    _wait(
        lambda: all(jobs(outbox).get(n, {}).get("state") == "written" for n in names),
        180,
        "every job written after space returned",
        proc,
        log,
    )
    rows = jobs(outbox)
    assert {n: rows[n]["writes"] for n in names} == {n: 1 for n in names}, rows
    assert all(_complete(outbox, n) for n in names)
    _assert_nothing_half_written(outbox)
    assert "disk space is back" in log.read_text()

    # The daemon carries on: a job dropped now is written too.
    make_job(inbox, "later", tiny_media, [0, 2])
    _wait(lambda: jobs(outbox).get("later", {}).get("state") == "written", 120, "a later job", proc, log)
    assert _complete(outbox, "later")
    assert stop(proc) == 0
    assert "Traceback" not in log.read_text()


def test_disk_full_in_process_pause_and_resume(tmp_path, tiny_media, monkeypatch):
    """Where no small filesystem can be mounted (no root): the same path through injected ENOSPC."""
    import threading

    from montage_bridge.watch import daemon as daemon_module
    from montage_bridge.watch import runner as runner_module
    from montage_bridge.watch.config import WatchConfig
    from montage_bridge.watch.daemon import WatchDaemon

    inbox, outbox = tmp_path / "in", tmp_path / "out"
    for n, name in enumerate(("a", "b", "c")):
        make_job(inbox, name, tiny_media, [n, n + 1])
    disk = {"full": True}
    real_run_auto = runner_module.run_auto

    def run_auto(folder, music, out_dir, **kwargs):
        if disk["full"]:
            (Path(out_dir) / "half.otio").write_text("{")  # a partial output, then the disk fills
            raise OSError(errno.ENOSPC, "No space left on device", str(Path(out_dir) / "x.fcpxml"))
        return real_run_auto(folder, music, out_dir, **kwargs)

    monkeypatch.setattr(runner_module, "run_auto", run_auto)
    monkeypatch.setattr(daemon_module, "free_bytes", lambda _folder: 0 if disk["full"] else 1 << 30)
    config = WatchConfig(
        quiet_seconds=0.2, probe_retry_seconds=0.5, events=False, rescan_seconds=0.5, workers=1, disk_retry_seconds=0.2
    )
    lines: list[str] = []
    made: list[WatchDaemon] = []

    def serve() -> None:  # the daemon's journal connection belongs to the thread that made it
        made.append(WatchDaemon(inbox, outbox, config, log=lines.append))
        made[0].run()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not any(": paused —" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        assert sum(": analyzing" in line for line in lines) == 1, lines  # nothing else starts while full
        assert [p.name for p in outbox.iterdir() if p.name.startswith(".mb-tmp-")] == []
        assert sorted(p.name for p in (outbox / "a").iterdir()) == ["ERROR.txt"]
        disk["full"] = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(_complete(outbox, n) for n in "abc"):
            time.sleep(0.1)
        assert all(_complete(outbox, n) for n in "abc"), lines
        rows = jobs(outbox)
        assert {n: (rows[n]["state"], rows[n]["writes"], rows[n]["attempts"]) for n in "abc"} == {
            n: ("written", 1, 1) for n in "abc"
        }
    finally:
        if made:
            made[0].request_stop()
        thread.join(60)
    assert not thread.is_alive()
    assert any("disk space is back" in line for line in lines)


def test_disk_full_with_once_fails_the_run_but_keeps_the_job_due(tmp_path, tiny_media, monkeypatch):
    from montage_bridge.watch import runner as runner_module
    from montage_bridge.watch.config import WatchConfig
    from montage_bridge.watch.daemon import WatchDaemon

    inbox, outbox = tmp_path / "in", tmp_path / "out"
    make_job(inbox, "a", tiny_media, [0, 1])

    def full(*_args, **_kwargs):
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    monkeypatch.setattr(runner_module, "run_auto", full)
    config = WatchConfig(quiet_seconds=0.2, events=False, workers=1)
    lines: list[str] = []
    summary = WatchDaemon(inbox, outbox, config, once=True, log=lines.append).run()
    assert summary.failed == ["a"] and summary.written == []
    assert any("disk quota holding" in line and "runs again at the next start" in line for line in lines), lines
    db = sqlite3.connect(outbox / ".montage-watch.sqlite")
    state, attempts, failed_fp = db.execute(
        "SELECT state, attempts, failed_fingerprint FROM jobs WHERE name='a'"
    ).fetchone()
    assert (state, attempts, failed_fp) == ("seen", 0, None)  # not failed for good, no attempt spent


def test_write_error_on_a_full_disk_leaves_no_empty_folder(tmp_path, monkeypatch):
    from montage_bridge.watch import runner as runner_module

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner_module, "write_text_atomic", full)
    assert runner_module.write_error(tmp_path / "job", "job", "boom") is False
    assert not (tmp_path / "job").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "report.json").write_text("{}")
    assert runner_module.write_error(tmp_path / "kept", "kept", "boom") is False
    assert (tmp_path / "kept" / "report.json").exists()  # an earlier output is never removed
