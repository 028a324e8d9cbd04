"""`montage-bridge proxies` progress: JSON lines per file for scripts, nothing on a pipe by default."""

from __future__ import annotations

from pathlib import Path

from kernel.probe import probe_media
from tests.conftest import run_cli
from tests.progress.checks import assert_no_control_characters, by_task, progress_lines


def test_proxies_json_progress_counts_each_files_frames(footage: Path) -> None:
    proc = run_cli("proxies", str(footage), "--size", "160x90", "--codec", "h264", "--progress", "json")
    assert proc.returncode == 0, proc.stderr
    tasks = by_task(progress_lines(proc.stderr, "proxies"))
    assert list(tasks) == ["a_cam.mov", "b_cam.mov"]
    for name, lines in tasks.items():
        frames = probe_media(footage / name).frames
        assert lines[0]["state"] == "running" and lines[0]["phase"] == "proxy" and lines[0]["unit"] == "frames"
        assert lines[-1]["state"] == "done" and lines[-1]["done"] == lines[-1]["total"] == frames
        assert lines[-1]["message"] == "made"
        done = [line["done"] for line in lines]
        assert done == sorted(done)  # never goes backwards
    assert_no_control_characters(proc.stdout, proc.stderr)


def test_proxies_on_a_pipe_print_the_table_and_no_progress(footage: Path) -> None:
    proc = run_cli("proxies", str(footage), "--size", "160x90", "--codec", "h264")
    assert proc.returncode == 0, proc.stderr
    assert "a_cam.mov" in proc.stdout and proc.stderr == ""
    assert_no_control_characters(proc.stdout, proc.stderr)
