"""`--json` on the commands that talk to a service: `gpu ...` against a real worker subprocess, and
`resolve pool|build|install` against the fake Resolve; each document validated against its schema."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from tests.cli.json_checks import check_document, progress_lines, run_json
from tests.conftest import REPO
from tests.gpu_remote.conftest import TOKEN, WorkerProc, start_worker


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProc]:
    proc = start_worker(tmp_path_factory.mktemp("json-worker"), "--slots", "2")
    yield proc
    proc.stop()


def gpu_env(worker: WorkerProc, state: Path, token: str = TOKEN) -> dict[str, str]:
    return {"MONTAGE_GPU_URL": worker.url, "MONTAGE_GPU_TOKEN": token, "MONTAGE_GPU_STATE": str(state)}


def test_gpu_status_workers_and_submit_wait(worker: WorkerProc, tmp_path: Path) -> None:
    env = gpu_env(worker, tmp_path / "state")
    doc, _ = run_json("gpu status", env=env)
    assert doc["result"]["worker"]["url"] == worker.url and doc["result"]["jobs"] == []
    doc, _ = run_json("gpu workers", env=env)
    assert doc["result"]["workers"] and all(w["slots"] >= 1 for w in doc["result"]["workers"])
    out = tmp_path / "out"
    doc, proc = run_json(
        "gpu submit",
        "noop",
        "-p",
        "tag=wait",
        "-p",
        "steps=3",
        "--wait",
        "--out",
        str(out),
        "--progress",
        "json",
        env=env,
    )
    (job,) = doc["result"]["jobs"]
    assert job["state"] == "succeeded" and job["fraction"] == 1.0 and doc["result"]["waited"] is True
    (saved,) = doc["result"]["saved"]
    assert saved["job"] == job["id"] and Path(saved["path"]).parent == out and Path(saved["path"]).is_file()
    assert doc["result"]["inputs"] == {job["id"]: [None]}
    lines = progress_lines(proc.stderr)  # progress went to stderr, stdout held the document alone
    assert lines and lines[-1]["state"] == "done" and lines[-1]["task"] == job["id"]


def test_gpu_submit_status_fetch_cancel_retry_delete(worker: WorkerProc, tmp_path: Path) -> None:
    env = gpu_env(worker, tmp_path / "state")
    doc, _ = run_json("gpu submit", "noop", "-p", "tag=fetch", env=env)
    (job,) = doc["result"]["jobs"]
    assert doc["result"]["waited"] is False and doc["result"]["saved"] == []
    deadline = time.monotonic() + 60
    while True:
        status, _ = run_json("gpu status", job["id"], env=env)
        (seen,) = status["result"]["jobs"]
        if seen["state"] == "succeeded" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert seen["id"] == job["id"] and seen["state"] == "succeeded"
    doc, _ = run_json("gpu fetch", job["id"], "--out", str(tmp_path / "fetched"), env=env)
    (saved,) = doc["result"]["saved"]
    assert json.loads(Path(saved["path"]).read_text())  # the op's output, downloaded
    assert doc["result"]["released"] == [job["id"]]

    doc, _ = run_json("gpu submit", "noop", "-p", "tag=long", "-p", "duration_s=60", env=env)
    long_id = doc["result"]["jobs"][0]["id"]
    doc, _ = run_json("gpu cancel", long_id, env=env)
    (canceled,) = doc["result"]["jobs"]
    assert canceled["id"] == long_id and (canceled["state"] == "canceled" or canceled["cancel_requested"])
    deadline = time.monotonic() + 30
    while run_json("gpu status", long_id, env=env)[0]["result"]["jobs"][0]["state"] != "canceled":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    doc, _ = run_json("gpu retry", long_id, env=env)
    assert doc["result"]["jobs"][0]["state"] in ("queued", "running")
    doc, _ = run_json("gpu delete", long_id, env=env)
    assert doc["result"] == {"deleted": [long_id]}
    # Failures: a job that is gone, and a refused token, are one document each with exit code 2.
    doc, proc = run_json("gpu cancel", long_id, env=env, exit_code=2)
    assert doc["error"]["kind"] == "failed" and "not found" in doc["error"]["message"]
    doc, _ = run_json("gpu status", env=gpu_env(worker, tmp_path / "state", "wrong-token"), exit_code=2)
    assert "refused the token" in doc["error"]["message"]


def test_ctrl_c_is_an_interrupted_document(worker: WorkerProc, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), **gpu_env(worker, tmp_path / "state")}
    args = ["gpu", "submit", "noop", "-p", "tag=ctrl-c", "-p", "duration_s=60", "--wait", "--json"]
    command = [sys.executable, "-m", "montage_bridge", *args]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # wait until the job runs on the worker
        seen.append(line)
        if '"message":"running"' in line:
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    finished = subprocess.CompletedProcess(args, proc.returncode, stdout, "".join(seen) + stderr)
    doc = check_document("gpu submit", finished, 130)
    assert doc["error"]["kind"] == "interrupted" and "montage-bridge: interrupted" in finished.stderr
    job_id = json.loads(seen[-1])["task"]
    run_json("gpu cancel", job_id, env=gpu_env(worker, tmp_path / "state"))  # the job went on: end it


def _plan_bundle(footage: Path, path: Path) -> Path:
    from analysis.models import AnalysisResult, ClipAnalysis, Shot
    from kernel.probe import probe_media
    from kernel.timebase import rescale_frames
    from planner.models import Cut, EditPlan

    clips, cuts = [], []
    for track, media_path in enumerate(sorted(footage.iterdir()), 1):
        media = probe_media(media_path)
        clips.append(ClipAnalysis(id=media_path.stem, media=media, shots=[Shot(start=0, end=media.frames)]))
        length = rescale_frames(40, Fraction(24000, 1001), media.rate)
        cuts.append(
            Cut(clip_id=media_path.stem, track=track, source_in=5, source_out=5 + length, record_in=0, record_out=40)
        )
    plan = EditPlan(name="JSON cut", rate=Fraction(24000, 1001), cuts=cuts, planner="test")
    bundle = {"plan": plan.model_dump(mode="json"), "analysis": AnalysisResult(clips=clips).model_dump(mode="json")}
    path.write_text(json.dumps(bundle))
    return path


def test_resolve_pool_and_build(sample_media: Path, facts: dict, tmp_path: Path) -> None:
    footage = sample_media / "footage"
    env = {"MONTAGE_RESOLVE": f"fake:{footage}"}
    doc, _ = run_json("resolve pool", env=env)
    assert {c["media"]["name"] for c in doc["result"]["clips"]} == set(facts["clips"])
    assert doc["result"]["resolve"].startswith("DaVinci Resolve")
    plan = _plan_bundle(footage, tmp_path / "plan.json")
    doc, proc = run_json("resolve build", str(plan), env=env)
    built = doc["result"]
    assert built["ok"] and built["clips_placed"] == built["clips_expected"] == len(facts["clips"])
    assert built["timeline_name"].startswith("JSON cut")
    assert "clips placed" in proc.stderr  # the summary a person reads moved to stderr, stdout is the document
    # Resolve drops a clip: exit code 1, ok false (kind partial), and the result says which.
    doc, proc = run_json("resolve build", str(plan), env={**env, "MONTAGE_RESOLVE_DROP": "city_25.mov"}, exit_code=1)
    assert doc["error"]["kind"] == "partial" and doc["result"]["ok"] is False
    assert any("city_25.mov" in d for d in doc["result"]["dropped"])
    doc, _ = run_json("resolve build", str(tmp_path / "nope.otio"), env=env, exit_code=2)
    assert doc["error"]["kind"] == "failed" and "nope.otio: no such file" in doc["error"]["message"]


def test_resolve_install_and_uninstall(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home")}
    doc, _ = run_json("resolve install", "--platform", "linux", env=env)
    result = doc["result"]
    folder = tmp_path / "home" / ".local/share/DaVinciResolve/Fusion/Scripts/Utility"
    assert Path(result["folder"]) == folder and result["uninstall"] is False
    assert sorted(Path(p).name for p in result["written"]) == sorted(p.name for p in folder.iterdir())
    doc, _ = run_json("resolve install", "--platform", "linux", "--uninstall", env=env)
    assert len(doc["result"]["removed"]) == len(result["written"]) and not list(folder.iterdir())
    doc, _ = run_json("resolve install", "--launchers", "perl", env=env, exit_code=2)
    assert doc["error"]["kind"] == "usage"
