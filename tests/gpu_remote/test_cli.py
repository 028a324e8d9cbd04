"""`montage-bridge gpu ...` as a user runs it, against a real worker subprocess."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import av

from tests.conftest import run_cli
from tests.gpu_remote.conftest import TOKEN, WorkerProc, make_clip


def cli_env(worker: WorkerProc, state: Path, token: str = TOKEN) -> dict[str, str]:
    return {"MONTAGE_GPU_URL": worker.url, "MONTAGE_GPU_TOKEN": token, "MONTAGE_GPU_STATE": str(state)}


def test_submit_wait_downloads_outputs_beside_inputs(shared_worker: WorkerProc, tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    clips = [make_clip(media / f"clip{i}.mp4", size="96x64", seconds=0.4) for i in range(2)]
    env = cli_env(shared_worker, tmp_path / "state")
    proc = run_cli("gpu", "submit", "upscale", *map(str, clips), "--param", "scale=2", "--wait", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for clip in clips:
        out = media / f"{clip.stem}.upscale.mp4"
        assert out.is_file() and re.search(rf"saved\s+{re.escape(str(out))}", proc.stdout)
        with av.open(str(out)) as container:
            assert container.streams.video[0].codec_context.width == 192
    assert not list(media.glob(".*.part"))
    # Jobs were confirmed (deleted) on the worker after download; the local ledger is empty.
    assert json.loads((tmp_path / "state" / "jobs.json").read_text()) == {}


def test_submit_status_cancel_fetch(shared_worker: WorkerProc, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", size="64x48", seconds=0.3)
    env = cli_env(shared_worker, tmp_path / "state")
    proc = run_cli("gpu", "submit", "stabilize", str(clip), "-p", "smoothing=3", env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    job_id = proc.stdout.split()[0]
    deadline = time.monotonic() + 60
    while True:
        status = run_cli("gpu", "status", env=env, timeout=60)
        assert status.returncode == 0, status.stderr
        if "succeeded" in status.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert job_id[:20] in status.stdout and "succeeded" in status.stdout
    fetched = run_cli("gpu", "fetch", job_id, "--out", str(tmp_path / "out"), env=env, timeout=60)
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "out" / "a.stabilize.mp4").is_file()
    # Cancelling a job that is already gone is a clear one-line error, not a traceback.
    gone = run_cli("gpu", "cancel", job_id, env=env, timeout=60)
    assert gone.returncode == 2 and "not found" in gone.stderr and "Traceback" not in gone.stderr


def test_cancel_a_running_job_from_the_cli(shared_worker: WorkerProc, tmp_path: Path) -> None:
    from gpu_remote.client import GpuClient
    from gpu_remote.models import JobSpec

    client = GpuClient(shared_worker.url, TOKEN, state_dir=tmp_path / "s")
    client.put_job("cli-cancel-0001", JobSpec(op="noop", params={"duration_s": 30, "tag": "cli"}))
    env = cli_env(shared_worker, tmp_path / "state")
    proc = run_cli("gpu", "cancel", "cli-cancel-0001", env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 10
    while client.job("cli-cancel-0001").state.value != "canceled":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_wrong_token_and_unreachable_worker_are_one_line_errors(shared_worker: WorkerProc, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "b.mp4", size="64x48", seconds=0.2)
    bad = run_cli("gpu", "submit", "upscale", str(clip), env=cli_env(shared_worker, tmp_path / "s", "nope"), timeout=60)
    assert bad.returncode == 2 and "refused the token" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    env = {**cli_env(shared_worker, tmp_path / "s"), "MONTAGE_GPU_URL": "http://127.0.0.1:9"}
    down = run_cli("gpu", "status", env=env, timeout=120)
    assert down.returncode == 2 and "cannot reach the worker" in down.stderr
