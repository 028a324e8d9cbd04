"""`montage-bridge gpu submit --wait --progress json`: each job's progress as JSON lines, against a real worker."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from tests.gpu_remote.conftest import WorkerProc, make_clip
from tests.gpu_remote.test_cli import cli_env
from tests.progress.checks import assert_no_control_characters, by_task, progress_lines


def test_submit_wait_json_progress_per_job(shared_worker: WorkerProc, tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    clips = [make_clip(media / f"p{i}.mp4", size=size, seconds=0.4) for i, size in enumerate(("96x64", "64x48"))]
    env = cli_env(shared_worker, tmp_path / "state")
    proc = run_cli(
        "gpu",
        "submit",
        "upscale",
        *map(str, clips),
        "-p",
        "scale=2",
        "--wait",
        "--progress",
        "json",
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    job_ids = {line.split()[0] for line in proc.stdout.splitlines() if line.split()[1:2] != ["saved"]}
    tasks = by_task(progress_lines(proc.stderr, "gpu submit"))
    assert set(tasks) == job_ids and len(tasks) == 2
    for lines in tasks.values():
        assert lines[0]["state"] == "running" and lines[0]["message"] == "queued" and lines[0]["unit"] == "fraction"
        assert lines[0]["item"] in {c.name for c in clips}
        assert lines[-1]["state"] == "done" and lines[-1]["message"] == "succeeded" and lines[-1]["fraction"] == 1.0
    assert_no_control_characters(proc.stdout, proc.stderr)
