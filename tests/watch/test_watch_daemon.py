"""The watch daemon as a user runs it: a subprocess on a temp inbox, checked through its outbox and journal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

from tests.conftest import run_cli
from tests.watch.conftest import files, jobs, make_job, start_daemon, stop, wait_for, write_config

TIMELINE_FILES = {".otio", ".xml", ".edl"}


def _assert_complete_output(outbox: Path, job: str) -> dict:
    """OUTBOX/<job>/ holds the timelines, plan and reports, and nothing half-made lies beside it."""
    folder = outbox / job
    names = {p.name for p in folder.iterdir()}
    assert {f"{job}{suffix}" for suffix in TIMELINE_FILES} <= names, names
    assert {"plan.json", "analysis.json", "report.json"} <= names, names
    assert "ERROR.txt" not in names
    assert not [p for p in outbox.iterdir() if p.name.startswith((".mb-tmp-", ".mb-old-"))]
    report = json.loads((folder / "report.json").read_text())
    plan = json.loads((folder / "plan.json").read_text())
    assert report["job"] == job and report["cuts"] == len(plan["cuts"]) > 0
    return report


def test_slow_chunked_copy_is_not_touched_until_complete(tmp_path, tiny_media, daemon_procs):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    # A stall (0.8 s) longer than the quiet period (0.3 s): the half-copied MP4 has no index yet,
    # so it fails to probe and must keep waiting (probe retry window 5 s) instead of failing.
    # Polling only (as on a network share without events): the rescan alone must see every chunk.
    config = write_config(tmp_path / "watch.toml", probe_retry_seconds=5.0, events=False, rescan_seconds=0.2)
    proc = start_daemon(inbox, outbox, config)
    daemon_procs.append(proc)
    folder = inbox / "slow"
    folder.mkdir()
    shutil.copy(tiny_media["music"], folder / "music.wav")
    shutil.copy(tiny_media["clips"][1], folder / "clip1.mp4")
    data = tiny_media["clips"][0].read_bytes()
    chunk = max(1, len(data) // 8)
    with (folder / "clip0.mp4").open("wb") as handle:
        for n, start in enumerate(range(0, len(data), chunk)):
            handle.write(data[start : start + chunk])
            handle.flush()
            os.fsync(handle.fileno())
            time.sleep(0.8 if n == 3 else 0.1)
    last_byte = time.time()

    wait_for(lambda: jobs(outbox).get("slow", {}).get("state") == "written", 90, "the slow job written", proc)
    row = jobs(outbox)["slow"]
    assert row["state"] == "written" and row["writes"] == 1
    assert row["started"] >= last_byte - 0.05, "the job started before the last byte was written"
    report = _assert_complete_output(outbox, "slow")
    frames = {c["file"]: c["frames"] for c in report["clips"]}
    assert frames == {"clip0.mp4": 50, "clip1.mp4": 50}  # the whole clip, not a prefix

    # Clean shutdown on SIGTERM: exit code 0, says so, journal left consistent.
    assert stop(proc, signal.SIGTERM) == 0
    _, err = proc.communicate()
    assert "SIGTERM" in err and "stopped" in err
    assert jobs(outbox)["slow"]["writes"] == 1


def test_fifty_files_dropped_at_once_all_get_processed(tmp_path, tiny_media, daemon_procs):
    inbox, outbox, staging = tmp_path / "in", tmp_path / "out", tmp_path / "staging"
    inbox.mkdir()
    config = write_config(tmp_path / "watch.toml")
    proc = start_daemon(inbox, outbox, config)
    daemon_procs.append(proc)
    # 10 jobs × (4 clips + music) = 50 files, staged on the same filesystem and moved in together.
    names = [f"burst{i:02d}" for i in range(10)]
    for name in names:
        make_job(staging, name, tiny_media, [0, 1, 2, 3])
    wait_for(lambda: (outbox / ".montage-watch.sqlite").exists(), 30, "the journal", proc)
    for name in names:
        os.rename(staging / name, inbox / name)

    wait_for(
        lambda: all(r["state"] == "written" for r in jobs(outbox).values()) and len(jobs(outbox)) == 10,
        120,
        "all 10 burst jobs written",
        proc,
    )
    rows = jobs(outbox)
    assert {name: rows[name]["writes"] for name in names} == {name: 1 for name in names}
    for name in names:
        report = _assert_complete_output(outbox, name)
        assert len(report["clips"]) == 4
    assert stop(proc, signal.SIGINT) == 0


def test_kill_9_mid_job_then_restart_writes_every_job_exactly_once(tmp_path, tiny_media, daemon_procs):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    names = [f"job{i}" for i in range(6)]
    for n, name in enumerate(names):
        make_job(inbox, name, tiny_media, [n % 4, (n + 1) % 4])
    config = write_config(tmp_path / "watch.toml")
    proc = start_daemon(inbox, outbox, config)
    daemon_procs.append(proc)

    def some_job_running() -> bool:
        return any(r["state"] in ("analyzing", "planned") for r in jobs(outbox).values())

    wait_for(some_job_running, 60, "a job to be running", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    before = jobs(outbox)
    assert any(r["state"] in ("analyzing", "planned") for r in before.values())
    assert not all(r["state"] == "written" for r in before.values()) or len(before) < len(names)
    finished_before = {n: r["finished"] for n, r in before.items() if r["state"] == "written"}

    result = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "interrupted" in result.stderr or "written before the stop" in result.stderr
    after = jobs(outbox)
    assert {n: (after[n]["state"], after[n]["writes"]) for n in names} == {n: ("written", 1) for n in names}
    # Work finished before the kill was not redone.
    assert {n: after[n]["finished"] for n in finished_before} == finished_before
    for name in names:
        report = _assert_complete_output(outbox, name)
        assert report["fingerprint"] == after[name]["done_fingerprint"]


def test_corrupt_file_fails_its_job_others_succeed_and_content_decides_reruns(tmp_path, tiny_media, daemon_procs):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    bad = make_job(inbox, "bad", tiny_media, [1, 2])
    data = tiny_media["clips"][0].read_bytes()
    (bad / "broken.mp4").write_bytes(data[: len(data) // 2])  # truncated: no MP4 index
    (bad / "notes.txt").write_text("shot list — not media, ignored by default\n")
    config = write_config(tmp_path / "watch.toml")

    # --once: the damaged file fails its job once it has been stable past the probe retry window.
    result = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once", timeout=120)
    assert result.returncode == 1, result.stderr  # --once exits 1 when a job failed in this run
    assert "0 job(s) written, 1 failed" in result.stdout
    row = jobs(outbox)["bad"]
    assert row["state"] == "failed" and "broken.mp4" in row["error"] and "not a readable media file" in row["error"]
    error_text = (outbox / "bad" / "ERROR.txt").read_text()
    assert "broken.mp4" in error_text and "runs again when its content changes" in error_text
    assert "notes.txt" not in " ".join(files(outbox))
    retry = run_cli("watch", "retry", "bad", "--out", str(outbox))
    assert retry.returncode == 0 and "1 failed job(s) will run again" in retry.stdout, retry.stderr
    assert jobs(outbox)["bad"]["state"] == "seen"  # the daemon below tries it again (and it fails again)

    # The running daemon: the failure is remembered (not retried for the same content); new jobs succeed.
    make_job(inbox, "good1", tiny_media, [0, 1])
    make_job(inbox, "good2", tiny_media, [2, 3])
    proc = start_daemon(inbox, outbox, config)
    daemon_procs.append(proc)

    def states() -> dict[str, tuple[str, int]]:
        return {n: (r["state"], r["writes"]) for n, r in jobs(outbox).items()}

    wait_for(
        lambda: states() == {"bad": ("failed", 0), "good1": ("written", 1), "good2": ("written", 1)},
        90,
        "good jobs written, bad still failed",
        proc,
    )
    _assert_complete_output(outbox, "good1")
    status = run_cli("watch", "status", "--out", str(outbox))
    assert status.returncode == 0, status.stderr
    for word in ("good1", "good2", "bad", "written", "failed", "broken.mp4"):
        assert word in status.stdout

    # Same content again (a re-copy and a touch, new mtimes): seen, recognised, not run again.
    shutil.copy(tiny_media["clips"][0], inbox / "good1" / "clip0.mp4")
    future = time.time() + 5
    os.utime(inbox / "good1" / "clip1.mp4", (future, future))
    new_mtimes = {f"good1/{n}": (inbox / "good1" / n).stat().st_mtime_ns for n in ("clip0.mp4", "clip1.mp4")}

    def recognised() -> bool:
        rows = files(outbox)
        return all(rows[p]["mtime_ns"] == m and rows[p]["state"] == "written" for p, m in new_mtimes.items())

    wait_for(recognised, 30, "the re-copied files recognised as unchanged content", proc)
    assert states()["good1"] == ("written", 1)

    # A changed file re-runs its job; fixing the bad job (removing the broken file) runs it.
    shutil.copy(tiny_media["clips"][0], inbox / "good2" / "clip3.mp4")
    (bad / "broken.mp4").unlink()
    wait_for(
        lambda: states() == {"bad": ("written", 1), "good1": ("written", 1), "good2": ("written", 2)},
        90,
        "the changed and the fixed job written",
        proc,
    )
    assert not (outbox / "bad" / "ERROR.txt").exists()
    _assert_complete_output(outbox, "bad")
    assert stop(proc) == 0


def test_bad_config_is_refused_at_start_up(tmp_path):
    """One line naming the file, the key and what is wrong; exit 2; nothing created.
    (Every validation message is covered in-process in test_watch_units.py.)"""
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    cases = {
        "quiet_seconds = -1\n": "quiet_seconds: Input should be greater than 0",
        "quiet_secs = 2\n": "unknown key 'quiet_secs'",
    }
    for n, (text, expected) in enumerate(cases.items()):
        config = tmp_path / f"bad{n}.toml"
        config.write_text(text)
        result = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), timeout=60)
        assert result.returncode == 2, (text, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"montage-bridge: error: {config}"), result.stderr
        assert expected in lines[0], (text, lines[0])
    assert not outbox.exists(), "a refused config must not create anything"

    missing = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "config file not found" in missing.stderr
    overlap = run_cli("watch", str(inbox), "--out", str(inbox / "out"), "--once")
    assert overlap.returncode == 2 and "overlap" in overlap.stderr
    no_journal = run_cli("watch", "status", "--out", str(tmp_path / "elsewhere"))
    assert no_journal.returncode == 2 and "no watch journal here" in no_journal.stderr


def test_a_file_that_crashes_the_probe_fails_its_job_instead_of_a_restart_loop(tmp_path, tiny_media):
    """A decoder crash kills the daemon once; the restarted daemon does not probe that file again
    (which would crash it again, forever, under systemd), fails its job with the reason, and writes
    the other jobs exactly once."""
    from tests.crash_hook import crash_hook_env

    inbox, outbox = tmp_path / "in", tmp_path / "out"
    make_job(inbox, "fine", tiny_media, [0, 1])
    bad = make_job(inbox, "poison", tiny_media, [2])
    shutil.copy(tiny_media["clips"][3], bad / "crash_cam.mp4")
    config = write_config(tmp_path / "watch.toml")
    env = crash_hook_env(tmp_path / "hook")
    args = ("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once")

    first = run_cli(*args, env=env, timeout=120)
    assert first.returncode == -signal.SIGSEGV, (first.returncode, first.stdout, first.stderr)
    assert files(outbox)["poison/crash_cam.mp4"]["state"] == "probing"

    second = run_cli(*args, env=env, timeout=120)
    assert second.returncode == 1, second.stdout + second.stderr  # a job failed, the daemon did not
    rows = jobs(outbox)
    assert rows["fine"]["state"] == "written" and rows["fine"]["writes"] == 1
    assert rows["poison"]["state"] == "failed" and "crash_cam.mp4" in rows["poison"]["error"]
    assert "probing this file crashed the daemon" in (outbox / "poison" / "ERROR.txt").read_text()

    third = run_cli(*args, env=env, timeout=120)  # still no crash, nothing redone
    assert third.returncode == 0, third.stdout + third.stderr
    assert {n: (r["state"], r["writes"]) for n, r in jobs(outbox).items()} == {
        "fine": ("written", 1),
        "poison": ("failed", 0),
    }
