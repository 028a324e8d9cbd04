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


def test_noop_retry_force_delete_and_generate_arguments(shared_worker: WorkerProc, tmp_path: Path) -> None:
    from gpu_remote.client import GpuClient

    env = cli_env(shared_worker, tmp_path / "state")
    client = GpuClient(shared_worker.url, TOKEN, state_dir=tmp_path / "s")
    # noop needs no files.
    first = run_cli("gpu", "submit", "noop", "-p", "tag=cli-noop", env=env, timeout=60)
    assert first.returncode == 0, first.stderr
    job_id = first.stdout.split()[0]
    deadline = time.monotonic() + 30
    while client.job(job_id).state.value != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # The same command re-attaches to the finished job (nothing runs); --force runs it again.
    again = run_cli("gpu", "submit", "noop", "-p", "tag=cli-noop", env=env, timeout=60)
    assert again.stdout.split()[:2] == [job_id, "succeeded"]
    forced = run_cli(
        "gpu", "submit", "noop", "-p", "tag=cli-noop", "--force", "--wait", "--out", str(tmp_path), env=env, timeout=60
    )
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.split()[0] == job_id and forced.stdout.split()[1] in ("queued", "running", "succeeded")
    saved = tmp_path / f"{job_id}.noop.json"
    assert json.loads(saved.read_text())["attempt"] == 2  # the forced run's own output, not the first one's
    # A canceled job: `gpu retry` runs it again; `gpu delete` cancels a running one and forgets it.
    long = run_cli("gpu", "submit", "noop", "-p", "duration_s=30", "-p", "tag=long", env=env, timeout=60)
    long_id = long.stdout.split()[0]
    assert run_cli("gpu", "cancel", long_id, env=env, timeout=60).returncode == 0
    while not client.job(long_id).state.terminal:
        time.sleep(0.1)
    retried = run_cli("gpu", "retry", long_id, env=env, timeout=60)
    assert retried.returncode == 0 and retried.stdout.split()[1] in ("queued", "running")
    deleted = run_cli("gpu", "delete", long_id, env=env, timeout=60)
    assert deleted.returncode == 0, deleted.stderr
    gone = run_cli("gpu", "status", long_id, env=env, timeout=60)
    assert long_id not in gone.stdout
    # generate's arguments are checked before anything is sent.
    bad = run_cli("gpu", "submit", "generate", env=env, timeout=60)
    assert bad.returncode == 2 and "needs --prompt" in bad.stderr
    bad = run_cli("gpu", "submit", "generate", "--prompt", "x", "--last-image", "b.png", env=env, timeout=60)
    assert bad.returncode == 2 and "--last-image needs --image" in bad.stderr
    # A generate job is routed and created like any other (this worker has no model: it fails clearly).
    png = tmp_path / "first.png"
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 10, 10)).save(png)
    gen = run_cli("gpu", "submit", "generate", "--prompt", "a red square", "--image", str(png), env=env, timeout=60)
    assert gen.returncode == 0, gen.stderr
    gen_job = client.job(gen.stdout.split()[0])
    assert gen_job.route == "gpu.generate"
    workers = run_cli("gpu", "workers", env=env, timeout=60)
    assert workers.returncode == 0 and "embedded" in workers.stdout and "gpu.noop" in workers.stdout
