"""The quality gate on processed clips (stabilize, upscale) and the client's view of every report.

Clips are made by ffmpeg: a faithful rescale and a 2x zoom pass, black, frozen and unrelated
outputs fail with the check that caught them. Then, as a user sees it: `gpu submit --wait`,
`gpu status JOB` and `gpu status JOB --json` against a real worker show which checks ran, whether
each passed and its figures, for a passing job and for one that failed the gate."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from gpu_remote.db import open_database
from gpu_remote.models import JobErrorInfo, JobSpec
from gpu_remote.quality import assess_processed
from gpu_remote.store import JobStore
from kernel.ffmpeg_tools import run_ffmpeg
from tests.conftest import run_cli
from tests.gpu_remote.conftest import WorkerProc, make_clip
from tests.gpu_remote.test_cli import cli_env

PROCESSED_CHECKS = {"black", "frozen", "flicker", "similarity"}


def _derive(source: Path, out: Path, *args: str) -> Path:
    run_ffmpeg(["-i", str(source), *args, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", str(out)])
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("quality") / "source.mp4", seconds=2.0)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("upscaled", ["-vf", "scale=320:240:flags=lanczos"]),
        ("zoomed", ["-vf", "crop=iw/2:ih/2,scale=160:120"]),  # stabilize with zoom=100
    ],
)
def test_faithful_outputs_pass(source: Path, tmp_path: Path, name: str, args: list[str]) -> None:
    report = assess_processed(_derive(source, tmp_path / f"{name}.mp4", *args), source)
    assert report["ok"], report["problems"]
    assert {c["name"] for c in report["checks"]} == PROCESSED_CHECKS
    assert all(c["ok"] for c in report["checks"])
    assert report["metrics"]["sampled_frames"] == 12 and report["metrics"]["min_similarity"] > 0.9


@pytest.mark.parametrize(
    ("name", "args", "failed"),
    [
        ("black", ["-vf", "lutyuv=y=16:u=128:v=128"], {"black", "similarity"}),
        ("frozen", ["-vf", "trim=end_frame=1,loop=loop=49:size=1,setpts=N/25/TB"], {"frozen"}),
        ("flashing", ["-vf", "eq=brightness=0.45:enable='between(t,0.85,0.95)'"], {"flicker"}),
    ],
)
def test_broken_outputs_fail_on_the_check_that_sees_them(
    source: Path, tmp_path: Path, name: str, args: list[str], failed: set[str]
) -> None:
    report = assess_processed(_derive(source, tmp_path / f"{name}.mp4", *args), source)
    assert not report["ok"]
    assert {c["name"] for c in report["checks"] if not c["ok"]} == failed, report
    assert len(report["problems"]) == len(failed)


def test_an_unrelated_output_fails_similarity(source: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "mandelbrot=size=160x120:rate=25", "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
        + [str(other)]
    )
    report = assess_processed(other, source)
    assert [c["name"] for c in report["checks"] if not c["ok"]] == ["similarity"]
    assert "does not resemble the input" in report["problems"][0]


def _status_json(env: dict[str, str], job_id: str) -> dict:
    proc = run_cli("gpu", "status", job_id, "--json", env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["result"]["jobs"][0]


def test_the_client_shows_the_quality_report(worker_factory, tmp_path: Path) -> None:
    worker: WorkerProc = worker_factory()
    env = cli_env(worker, tmp_path / "state")
    media = tmp_path / "media"
    media.mkdir()
    clip = make_clip(media / "clip.mp4", seconds=1.0)

    # submit --wait prints each finished job's report
    waited = run_cli("gpu", "submit", "upscale", str(clip), "-p", "scale=2", "--wait", env=env, timeout=120)
    assert waited.returncode == 0, waited.stderr
    line = next(line for line in waited.stdout.splitlines() if line.split()[1:2] == ["quality"])
    match = re.match(r"^(mb-\S+)\s+quality\s+passed \(4 checks\)\s+(black=.*)$", line)
    assert match, line
    figures = dict(part.split("=", 1) for part in match.group(2).split("; "))
    assert set(figures) == PROCESSED_CHECKS and all(f.endswith(" pass") for f in figures.values()), line
    assert figures["black"] == "0 (limit 3) pass" and "(limit 0.5) pass" in figures["similarity"]

    # a queued-and-left job: status JOB (text and --json) once it has finished
    proc = run_cli("gpu", "submit", "stabilize", str(clip), "-p", "zoom=100", env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    job_id = proc.stdout.split()[0]
    deadline = time.monotonic() + 90
    while (job := _status_json(env, job_id))["state"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert job["state"] == "succeeded", job
    quality = job["quality"]
    assert quality["ok"] is True and quality["problems"] == []
    assert {c["name"] for c in quality["checks"]} == PROCESSED_CHECKS and all(c["ok"] for c in quality["checks"])
    similarity = next(c for c in quality["checks"] if c["name"] == "similarity")
    assert similarity["limit"] == 0.5 and 0.5 <= similarity["value"] <= 1.0
    assert quality["metrics"]["sampled_frames"] == 12
    text = run_cli("gpu", "status", job_id, env=env, timeout=60)
    assert text.returncode == 0, text.stderr
    assert f"quality gate of {job_id}: passed (4 checks)" in text.stdout
    rows = {line.split("│")[1].strip(): line for line in text.stdout.splitlines() if line.count("│") >= 4}
    assert PROCESSED_CHECKS <= set(rows) and all("pass" in rows[name] for name in PROCESSED_CHECKS)
    assert f"{similarity['value']:.4g}" in rows["similarity"]

    # A job another worker process failed on the gate (it shares the job database, as Celery
    # workers do): its report is kept and shown with the failure.
    store = JobStore(open_database(None, worker.data))
    params = {"duration_s": 0.0, "steps": 1, "tag": "gate"}
    store.put("gate-failed-001", JobSpec(op="noop", params=params), "1", params, missing=[], route="gpu.elsewhere")
    claimed = store.claim("other-worker", lease_s=30, routes=["gpu.elsewhere"])
    assert claimed is not None
    report = assess_processed(_derive(clip, tmp_path / "black.mp4", "-vf", "lutyuv=y=16:u=128:v=128"), clip)
    message = "the processed clip failed the quality gate: " + "; ".join(report["problems"])
    store.fail(claimed.id, claimed.attempt, JobErrorInfo(code="quality_failed", message=message), {"quality": report})
    failed = _status_json(env, "gate-failed-001")
    assert failed["state"] == "failed" and failed["quality"]["ok"] is False
    assert {c["name"] for c in failed["quality"]["checks"] if not c["ok"]} == {"black", "similarity"}
    text = run_cli("gpu", "status", "gate-failed-001", env=env, timeout=60)
    assert "quality gate of gate-failed-001: FAILED: black, similarity" in text.stdout, text.stdout
    assert "problem: 12 of 12 sampled frames are black (the input has 0)" in text.stdout
    assert "FAIL" in text.stdout
