"""`auto --generate-missing`: a production plan's generated shots, judged, regenerated once, placed and tagged.

Three levels, each saying what is real:

* **real worker, real `generate` op, no model** (runs everywhere): the worker's op fails with
  ``model_unavailable``, which a new seed cannot fix, so the shot takes its footage alternative with a
  warning; a shot without one is left to the edit; a rerun re-attaches and spends nothing again.
* **recorded job results** (runs everywhere; the regenerate-once logic without torch): a client that
  replays job results in the shape the real worker returns (``gpu_remote.models.Job``, validated) — the
  first attempt's ``result["quality"]`` is the gate's report of a black clip, the second a pass with a
  real H.264 file — through the real pipeline (analysis, plan, placement, every writer, the fake Resolve).
  The writers' output is read back with independent parsers (ElementTree, OTIO, the EDL text).
* **the tiny random diffusers pipeline on CPU** (needs the ``[generate]`` extra; skipped otherwise, as in
  tests/gpu_remote/test_generate.py): the real op generates on a real worker, the real gate judges.
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
import requests

from gpu_remote.errors import ClientError
from gpu_remote.models import Job, JobState
from kernel.ffmpeg_tools import run_ffmpeg
from kernel.probe import probe_media
from montage_bridge.pipeline import run_auto
from montage_bridge.production_run import GenerateSettings, ProductionOptions
from montage_bridge.remote_media import GpuOptions
from planner.brief import Brief
from planner.production import ProductionPlan
from resolve_bridge.apply import current_project, walk_folders
from resolve_bridge.fake import FakeResolve
from resolve_bridge.timeline_builder import build_in_resolve
from tests.conftest import run_cli
from tests.gpu_remote.conftest import TOKEN, WorkerProc, start_worker

SMALL = ["--generate-param", "width=16", "--generate-param", "height=16", "--generate-param", "steps=2"]


def _clip(path: Path, source: str) -> Path:
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"{source}:rate=25,trim=duration=4", "-c:v", "libx264", "-preset", "ultrafast"]
        + ["-pix_fmt", "yuv420p", str(path)]
    )
    return path


def _plan() -> dict[str, Any]:
    """Shot 1 from the footage, shot 2 image-to-video from a frame of `wide` (footage alternative in
    `other`), shot 3 text-to-video with no alternative."""
    return {
        "name": "Gen Cut",
        "shots": [
            {
                "need": {"index": 0, "description": "the opening", "seconds": 2.0},
                "source": {
                    "kind": "footage",
                    "reason": "best match",
                    "clip_id": "wide",
                    "source_in_seconds": 0.0,
                    "source_out_seconds": 2.0,
                },
            },
            {
                "need": {"index": 1, "description": "the ball rolls on", "seconds": 1.5},
                "source": {
                    "kind": "generate",
                    "reason": "the footage has no such shot",
                    "tool": "generate-wan2.1-i2v-14b-480p",
                    "mode": "image_to_video",
                    "prompt": "a red ball rolls over green grass",
                    "image": {"clip_id": "wide", "seconds": 1.0},
                },
                "alternatives": [
                    {
                        "kind": "footage",
                        "reason": "next best",
                        "clip_id": "other",
                        "source_in_seconds": 1.0,
                        "source_out_seconds": 3.0,
                    }
                ],
            },
            {
                "need": {"index": 2, "description": "a cat", "seconds": 1.0},
                "source": {
                    "kind": "generate",
                    "reason": "nothing like it",
                    "tool": "generate-wan2.1-t2v-1.3b",
                    "mode": "text_to_video",
                    "prompt": "a cat",
                },
            },
        ],
    }


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("generate-missing")
    footage = root / "footage"
    footage.mkdir()
    _clip(footage / "wide.mov", "testsrc2=size=320x180")
    _clip(footage / "other.mov", "mandelbrot=size=160x90")
    brief = root / "brief.toml"
    brief.write_text('name = "Gen Cut"\nmode = "highlights"\nduration = 6\nrate = "25"\n')
    plan = root / "production.json"
    plan.write_text(json.dumps(_plan()))
    return {"root": root, "footage": footage, "brief": brief, "plan": plan, "cache": root / "cache"}


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory):
    """A real worker (no generation model: its `generate` op fails with model_unavailable)."""
    proc = start_worker(tmp_path_factory.mktemp("worker"))
    yield proc
    proc.stop()


def _auto(job: dict[str, Path], out: Path, *extra: str, env: dict[str, str] | None = None):
    return run_cli(
        "auto",
        str(job["footage"]),
        "--brief",
        str(job["brief"]),
        "--formats",
        "otio,fcpxml,xml,edl",
        "-o",
        str(out),
        *extra,
        env={
            "MONTAGE_CACHE_DIR": str(job["cache"]),
            "MONTAGE_GPU_STATE": str(job["root"] / "gpu-state"),
            **(env or {}),
        },
        timeout=300,
    )


def _v1(path: Path) -> list[tuple[otio.schema.Clip, otio.opentime.TimeRange]]:
    track = otio.adapters.read_from_file(str(path)).video_tracks()[0]
    return [(c, track.range_of_child(c)) for c in track.find_clips()]


def _generate_jobs(worker: WorkerProc) -> list[dict]:
    jobs = requests.get(f"{worker.url}/v1/jobs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
    return [j for j in jobs["jobs"] if j["op"] == "generate"]


def test_a_worker_without_a_model_falls_back_to_footage_and_a_rerun_spends_nothing(
    job: dict[str, Path], worker: WorkerProc, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["--gpu", worker.url, "--generate-missing", "--production-plan", str(job["plan"]), *SMALL]
    proc = _auto(job, out, *args, "--progress", "json", env={"MONTAGE_GPU_TOKEN": TOKEN})
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    followed = [e for e in lines if e.get("task") == "generate shot 2"]
    assert followed and followed[-1]["state"] == "failed", followed  # the job's progress, then its end
    said = " ".join(proc.stderr.split())
    assert "shot 2 (the ball rolls on): generation failed after 1 attempt(s)" in said
    assert "model_unavailable" in said and "used footage other 1.00–3.00 s instead" in said
    assert "shot 3 (a cat): generation failed after 1 attempt(s)" in said and "no footage alternative" in said
    assert "Traceback" not in proc.stderr

    # Shot 2 starts 2.0 s in (shot 1's length) and shows `other` from 1.0 s, for 1.5 s.
    placed = [(c, r) for c, r in _v1(out / "Gen Cut.otio") if c.metadata["montage_bridge"]["clip_id"] == "other"]
    at = {r.start_time.to_frames(): (c, r) for c, r in placed}
    assert 50 in at, sorted(at)
    clip, record = at[50]
    assert record.duration.to_frames() == 38  # 1.5 s at 25 fps, half up
    assert clip.source_range.start_time.to_frames() == 25
    assert str(clip.metadata["montage_bridge"]["reason"]).startswith("footage for shot 2")
    assert "generated" not in clip.metadata["montage_bridge"]

    realised = ProductionPlan.model_validate_json((out / "production.json").read_text())
    assert realised.shots[1].source.kind == "footage" and realised.shots[1].source.clip_id == "other"
    assert realised.shots[2].source.kind == "generate"  # nothing to replace it with
    assert any(n.startswith("generation: 2 job(s),") for n in realised.notes), realised.notes
    journal = json.loads((out / "generated" / "production-run.json").read_text())
    assert [a["state"] for a in journal["shots"]["1"]["attempts"]] == ["failed"]
    assert journal["shots"]["1"]["attempts"][0]["permanent"] is True
    assert (out / "generated" / ".frames").is_dir()  # the conditioning frame of shot 2 was taken
    jobs = _generate_jobs(worker)
    assert len(jobs) == 2 and all(j["state"] == "failed" for j in jobs)

    # A rerun reads the verdicts and submits nothing: the worker's jobs are untouched.
    again = _auto(job, out, *args, env={"MONTAGE_GPU_TOKEN": TOKEN})
    assert again.returncode == 0, again.stderr
    assert "used footage other" in " ".join(again.stderr.split())
    assert [(j["id"], j["attempt"]) for j in _generate_jobs(worker)] == [(j["id"], j["attempt"]) for j in jobs]


def test_a_brief_shot_list_is_sourced_estimated_and_fitted_to_the_budget(
    job: dict[str, Path], worker: WorkerProc, tmp_path: Path
) -> None:
    brief = tmp_path / "brief.toml"
    brief.write_text(
        'name = "Gen Cut"\nmode = "highlights"\nduration = 6\nrate = "25"\nbudget = 0.001\n'
        'shots = ["a red ball rolling on grass", "title: The End"]\n'
    )
    before = len(_generate_jobs(worker))
    proc = run_cli(
        "auto",
        str(job["footage"]),
        "--brief",
        str(brief),
        "--formats",
        "otio",
        "-o",
        str(tmp_path / "out"),
        "--gpu",
        worker.url,
        "--generate-missing",
        env={"MONTAGE_CACHE_DIR": str(job["cache"]), "MONTAGE_GPU_TOKEN": TOKEN, "MONTAGE_GPU_PRICE": "2"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    plan = ProductionPlan.model_validate_json((tmp_path / "out" / "production.json").read_text())
    assert [s.need.description for s in plan.shots] == ["a red ball rolling on grass", "title: The End"]
    # Generating the ball would cost more than the 0.001 budget: the estimate step chose its title card.
    assert [s.source.kind for s in plan.shots] == ["title", "title"] and plan.within_budget
    assert "production plan: " in proc.stdout and plan.budget == 0.001
    assert len(_generate_jobs(worker)) == before  # nothing was sent to the worker


def test_bad_production_plan_and_flags_are_clear_errors(job: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    plan = _plan()
    del plan["shots"][1]["source"]["image"]
    broken.write_text(json.dumps(plan))
    proc = _auto(
        job, tmp_path / "o1", "--gpu", "http://127.0.0.1:9", "--generate-missing", "--production-plan", str(broken)
    )
    assert proc.returncode == 2
    assert "not a production plan: shots.1.source" in " ".join(proc.stderr.split()) and "needs an image" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o1").exists()

    proc = _auto(job, tmp_path / "o2", "--generate-missing")
    assert proc.returncode == 2 and "--generate-missing needs --gpu URL" in " ".join(proc.stderr.split())
    proc = _auto(
        job, tmp_path / "o3", "--gpu", "http://127.0.0.1:9", "--generate-missing", "--generate-param", "width=7"
    )
    assert proc.returncode == 2 and "width" in proc.stderr and "multiple of 8" in proc.stderr

    over = tmp_path / "over.json"
    plan = _plan()
    plan.update(budget=1.0, total={"cost": 3.5, "gpu_seconds": 100.0})
    over.write_text(json.dumps(plan))
    proc = _auto(
        job, tmp_path / "o4", "--gpu", "http://127.0.0.1:9", "--generate-missing", "--production-plan", str(over)
    )
    assert proc.returncode == 2, proc.stderr
    said = " ".join(proc.stderr.split())
    assert "costs 3.50 USD (GPU 3.50 + LLM 0.00), over the brief's budget of 1.00 USD" in said
    assert not (tmp_path / "o4").exists()


# ---- recorded job results: regenerate once, then place and tag --------------------------------------


class _Hashes:
    def sha256(self, path: Path) -> str:
        import hashlib

        return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class RecordedWorker:
    """Replays generate jobs as the real worker reports them: ``verdicts`` pops one quality report per
    submitted job (None = the gate passes). Outputs are real H.264 files of the requested frames and fps."""

    def __init__(self, verdicts: list[dict | None]) -> None:
        self.verdicts = list(verdicts)
        self.hashes = _Hashes()
        self.records: dict[str, Job] = {}
        self.params: dict[str, dict] = {}
        self.submits: list[str] = []
        self.deleted: list[str] = []

    def submit(self, op: str, inputs: dict[str, Path], params: dict, *, job_id: str, **_: Any) -> Job:
        assert op == "generate" and params["quality_gate"] == "report"
        self.submits.append(job_id)
        self.params[job_id] = params
        verdict = self.verdicts.pop(0)
        quality = verdict or {"ok": True, "problems": [], "metrics": {"frames": params["num_frames"]}}
        now = time.time()
        record = {
            "id": job_id,
            "op": "generate",
            "op_version": "2",
            "state": "succeeded",
            "attempt": 1,
            "created_at": now - 3.0,
            "started_at": now - 2.5,
            "finished_at": now,
            "updated_at": now,
            "fingerprint": "f" * 64,
            "outputs": [{"name": "video", "sha256": "0" * 64, "size": 1, "mime": "video/mp4", "url": "/x"}],
            "result": {"frames": params["num_frames"], "fps": params["fps"], "quality": quality},
        }
        self.records[job_id] = Job.model_validate(record)
        return self.records[job_id]

    def events(self, job_id: str, after: int = 0) -> list:
        return []  # the recorded jobs are already finished

    def job(self, job_id: str) -> Job:
        return self.records[job_id]

    def jobs(self, ids: list[str]) -> list[Job]:
        return [self.records[i] for i in ids if i in self.records]

    def fetch(self, job: Job, out_dir: Path, stem: str) -> dict[str, Path]:
        assert job.state == JobState.succeeded
        params = self.params[job.id]
        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / f"{stem}.generate.mp4"
        source = f"testsrc2=size={params['width']}x{params['height']}:rate={params['fps']}"
        run_ffmpeg(
            ["-f", "lavfi", "-i", source, "-frames:v", str(params["num_frames"]), "-c:v", "libx264"]
            + ["-pix_fmt", "yuv420p", str(dest)]
        )
        return {"video": dest}

    def delete(self, job_id: str) -> None:
        self.deleted.append(job_id)


def _run(
    job: dict[str, Path], out: Path, worker: RecordedWorker, monkeypatch: pytest.MonkeyPatch, data: dict | None = None
):
    monkeypatch.setenv("MONTAGE_CACHE_DIR", str(job["cache"]))
    plan = ProductionPlan.model_validate(data or _plan())
    plan.shots[1].estimate.gpu_seconds = 4.0
    options = ProductionOptions(
        gpu=GpuOptions(url="http://127.0.0.1:9", max_parallel=1),
        plan=plan,
        settings=GenerateSettings(width=16, height=16, fps=8, steps=2),
        client=worker,  # type: ignore[arg-type]
    )
    brief = Brief(name="Gen Cut", mode="highlights", target_duration_seconds=6, rate="25")
    return run_auto(
        job["footage"], None, out, brief=brief, formats=("otio", "fcpxml", "xml", "edl"), production=options
    )


def test_a_clip_that_fails_the_gate_is_regenerated_once_then_placed_and_tagged_in_every_format(
    job: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    black = {"ok": False, "problems": ["every frame is black"], "metrics": {"black_frames": 13}}
    # Shot 2: black, then good. Shot 3: good at once.
    worker = RecordedWorker([black, None, None])
    out = tmp_path / "out"
    result = _run(job, out, worker, monkeypatch)
    made = result.production
    assert made is not None and sorted(made.generated) == [1, 2] and not made.fallbacks
    assert len(worker.submits) == 3
    seeds = [worker.params[j]["seed"] for j in worker.submits]
    first_try, retry = [j for j in worker.submits if worker.params[j]["prompt"].startswith("a red ball")]
    assert worker.params[first_try]["seed"] != worker.params[retry]["seed"] and seeds.count(0) == 2
    assert (
        worker.params[first_try]["mode"] == "i2v" and worker.params[first_try]["num_frames"] == 13
    )  # 1.5 s × 8 → 4k+1
    shot2 = made.generated[1]
    assert shot2.job_id == retry and shot2.path == out / "generated" / f"shot-002-{retry[3:15]}.generate.mp4"
    assert probe_media(shot2.path).frames == 13
    assert set(worker.deleted) == set(worker.submits)  # the rejected clip and both kept ones are released
    # What the worker took (its started→finished times), against the estimate.
    notes = ProductionPlan.model_validate_json((out / "production.json").read_text()).notes
    assert "shot 2: 2 job(s), 5.0 s on the worker (estimated 4.0 s)" in notes
    assert "generation: 3 job(s), 7.5 s on the worker in all, estimated 4.0 s" in notes

    # Placement: shot 2 at 2.0 s for 1.5 s (38 frames at 25 fps), shot 3 at 3.5 s for 1 s.
    cuts = {c.clip_id: c for c in result.plan.cuts}
    assert (cuts[shot2.clip_id].record_in, cuts[shot2.clip_id].record_out) == (50, 88)
    shot3 = made.generated[2]
    assert (cuts[shot3.clip_id].record_in, cuts[shot3.clip_id].record_out) == (88, 113)
    assert result.plan.duration_frames == 150  # the edit keeps its length

    # OTIO: the clip metadata.
    tags = {
        c.metadata["montage_bridge"]["clip_id"]: dict(c.metadata["montage_bridge"]["generated"])
        for c, _ in _v1(out / "Gen Cut.otio")
        if "generated" in c.metadata["montage_bridge"]
    }
    assert tags == {
        shot2.clip_id: {
            "tool": "generate-wan2.1-i2v-14b-480p",
            "prompt": "a red ball rolls over green grass",
            "job_id": retry,
        },
        shot3.clip_id: {"tool": "generate-wan2.1-t2v-1.3b", "prompt": "a cat", "job_id": shot3.job_id},
    }
    # FCPXML: a marker on the generated asset-clip.
    root = ET.parse(out / "Gen Cut.fcpxml").getroot()
    fcp = {
        el.get("name"): [m.get("value") for m in el.iter("marker")]
        for el in root.iter("asset-clip")
        if "generate" in (el.get("name") or "")
    }
    assert sorted(fcp.values()) == [
        ["Generated: generate-wan2.1-i2v-14b-480p"],
        ["Generated: generate-wan2.1-t2v-1.3b"],
    ]
    # FCP7 XML: marker name and comment (prompt and job id).
    xmeml = ET.parse(out / "Gen Cut.xml").getroot()
    comments = {m.findtext("name"): m.findtext("comment") for m in xmeml.iter("marker")}
    assert (
        comments["Generated: generate-wan2.1-i2v-14b-480p"]
        == f"prompt: a red ball rolls over green grass | job: {retry}"
    )
    # EDL: the marker as a locator comment.
    assert "Generated: generate-wan2.1-t2v-1.3b" in (out / "Gen Cut.edl").read_text()

    # Resolve (fake): the generated clips in their own bin, placed on the timeline.
    fake = FakeResolve("19")
    timeline = otio.adapters.read_from_file(str(out / "Gen Cut.otio"))
    built = build_in_resolve(fake, timeline, bins={"Generated": [str(p) for p in made.paths]})
    assert built.ok, built.lines()
    pool = current_project(fake).GetMediaPool()
    bins = {
        f.GetName(): [i.GetClipProperty("File Path") for i in f.GetClipList()]
        for f in walk_folders(pool.GetRootFolder())
    }
    assert sorted(bins["Generated"]) == sorted(str(p) for p in made.paths)
    placed = current_project(fake).GetCurrentTimeline().GetItemListInTrack("video", 1)
    assert str(shot2.path) in {item.GetMediaPoolItem().GetClipProperty("File Path") for item in placed}
    marks = current_project(fake).GetCurrentTimeline().GetMarkers()
    assert {m["name"] for m in marks.values()} >= {f"Generated: {shot2.tool}", f"Generated: {shot3.tool}"}

    # A rerun into the same folder reuses both clips: nothing is submitted again.
    rerun = RecordedWorker([])
    again = _run(job, out, rerun, monkeypatch)
    assert rerun.submits == [] and again.production is not None
    assert {k: v.path for k, v in again.production.generated.items()} == {1: shot2.path, 2: shot3.path}


def test_twice_failed_gate_falls_back_to_footage(
    job: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = {"ok": False, "problems": ["the clip is frozen: every frame is the same picture"], "metrics": {}}
    worker = RecordedWorker([frozen, None, frozen])  # shot 2: frozen twice; shot 3 passes
    result = _run(job, tmp_path / "out", worker, monkeypatch)
    made = result.production
    assert made is not None and sorted(made.generated) == [2] and sorted(made.fallbacks) == [1]
    assert len(worker.submits) == 3
    warning = next(w for w in result.warnings if w.startswith("shot 2"))
    assert (
        "generation failed after 2 attempt(s)" in warning
        and warning.count("failed the quality gate: the clip is frozen") == 2
    )
    assert not list((tmp_path / "out" / "generated").glob("shot-002-*.mp4"))  # a rejected clip is never downloaded
    cut = next(c for c in result.plan.cuts if c.record_in == 50)
    assert cut.clip_id == "other" and cut.source_in == 25


def test_two_shots_asking_for_the_same_clip_get_two_takes(
    job: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _plan()
    cat = data["shots"][2]
    data["shots"] = [data["shots"][0], {**cat, "need": {**cat["need"], "index": 1}}, cat]
    worker = RecordedWorker([None, None])
    result = _run(job, tmp_path / "out", worker, monkeypatch, data)
    assert len(set(worker.submits)) == 2  # not one job shared (and released) by both
    assert sorted(worker.params[j]["seed"] for j in worker.submits) == [0, 1_000_003]
    made = result.production
    assert made is not None and sorted(made.generated) == [1, 2]
    assert made.generated[1].path != made.generated[2].path


class LostContact(RecordedWorker):
    """Takes the jobs, then the connection drops while following them (the jobs go on on the worker)."""

    def events(self, job_id: str, after: int = 0) -> list:
        raise ClientError(f"lost the event stream of job {job_id}")


def test_a_rerun_after_lost_contact_re_attaches_to_the_finished_jobs(
    job: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    first = LostContact([None, None])
    lost = _run(job, out, first, monkeypatch)
    assert lost.production is not None and not lost.production.generated and len(first.submits) == 2
    assert any("lost the event stream" in w for w in lost.warnings)
    # Meanwhile both jobs finished on the worker; the rerun finds them there and sends nothing.
    second = RecordedWorker([])
    second.records, second.params = first.records, first.params
    again = _run(job, out, second, monkeypatch)
    assert second.submits == [] and again.production is not None
    assert sorted(again.production.generated) == [1, 2]
    assert {again.production.generated[1].job_id, again.production.generated[2].job_id} == set(first.submits)


# ---- the real op with the tiny random pipeline (the [generate] extra) ---------------------------------


@pytest.mark.parametrize("mode", ["text_to_video", "image_to_video"])
def test_tiny_pipeline_generates_a_shot_that_lands_in_the_timeline(
    job: dict[str, Path], tmp_path: Path, mode: str
) -> None:
    """Real op, real gate. Text-to-video: the random model's clip moves and is neither black nor flashing,
    so it passes; image-to-video from a frame of `wide`: the gate also compares the first frame with that
    frame, and a random model may fail it — then the shot is generated once more, then footage."""
    pytest.importorskip("diffusers", reason="needs the [generate] extra (torch, diffusers)")
    from tests.gpu_remote.test_generate import build_tiny_wan

    i2v = mode == "image_to_video"
    model = build_tiny_wan(tmp_path / "tiny-wan", image_to_video=i2v)
    plan = _plan()
    shot = plan["shots"][1] if i2v else plan["shots"][2]
    shot["need"]["index"] = 1
    shot["alternatives"] = plan["shots"][1]["alternatives"]
    plan["shots"] = [plan["shots"][0], shot]
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    out = tmp_path / "out"
    real = start_worker(tmp_path / "worker", env={"MONTAGE_GENERATE_MODEL": str(model)})
    try:
        args = ["--gpu", real.url, "--generate-missing", "--production-plan", str(plan_file), *SMALL]
        if not i2v:  # and into Resolve (the fake): the generated clip gets its own bin
            args += ["--resolve"]
        env = {"MONTAGE_GPU_TOKEN": TOKEN, "MONTAGE_RESOLVE": "fake", "MONTAGE_RESOLVE_PROFILE": "studio-19"}
        proc = _auto(job, out, *args, "--generate-param", "fps=8", env=env)
    finally:
        real.stop()
    assert proc.returncode == 0, proc.stderr
    journal = json.loads((out / "generated" / "production-run.json").read_text())
    attempts = journal["shots"]["1"]["attempts"]
    states = [a["state"] for a in attempts]
    if not i2v:
        assert states == ["accepted"], journal
        assert "importing 1 file(s) into bin 'Generated'" in proc.stderr
        assert re.search(r"\(append\): (\d+)/\1 clips placed", proc.stdout), proc.stdout  # every clip placed
    # The real gate judged real frames: accepted, or rejected and generated once more with another seed.
    assert states in (["accepted"], ["rejected", "accepted"], ["rejected", "rejected"]), journal
    assert len({a["seed"] for a in attempts}) == len(attempts)
    assert all("ok" in a["quality"] for a in attempts)
    clips = {c.metadata["montage_bridge"]["clip_id"]: c for c, _ in _v1(out / "Gen Cut.otio")}
    if states[-1] == "accepted":
        generated = [c for c in clips.values() if "generated" in c.metadata["montage_bridge"]]
        assert (
            len(generated) == 1
            and generated[0].metadata["montage_bridge"]["generated"]["prompt"] == shot["source"]["prompt"]
        )
        assert probe_media(next((out / "generated").glob("shot-002-*.generate.mp4"))).frames == (13 if i2v else 9)
    else:
        assert "other" in clips and "failed the quality gate" in " ".join(proc.stderr.split())
