"""HTTP round trips against a real `montage-bridge worker serve` on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import time
from pathlib import Path

import pytest
import requests

from gpu_remote.client import GpuClient
from gpu_remote.models import JobSpec, JobState
from tests.gpu_remote.conftest import TOKEN, WorkerProc

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def wait_state(client: GpuClient, job_id: str, states: set[str], timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.job(job_id)
        if job.state.value in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {client.job(job_id).state.value}, wanted {states}")


def noop_spec(duration: float = 0.0, tag: str = "") -> JobSpec:
    return JobSpec(op="noop", params={"duration_s": duration, "steps": max(1, int(duration * 4)), "tag": tag})


def test_every_route_refuses_missing_or_wrong_token(shared_worker: WorkerProc) -> None:
    sha = "0" * 64
    routes = [
        ("GET", "/v1/health"),
        ("GET", "/v1/capabilities"),
        ("HEAD", f"/v1/blobs/{sha}"),
        ("GET", f"/v1/blobs/{sha}"),
        ("POST", "/v1/uploads"),
        ("HEAD", "/v1/uploads/" + "a" * 32),
        ("GET", "/v1/uploads/" + "a" * 32),
        ("PATCH", "/v1/uploads/" + "a" * 32),
        ("DELETE", "/v1/uploads/" + "a" * 32),
        ("PUT", "/v1/jobs/job-0000001"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/job-0000001"),
        ("POST", "/v1/jobs/job-0000001/cancel"),
        ("DELETE", "/v1/jobs/job-0000001"),
        ("GET", "/v1/jobs/job-0000001/events"),
    ]
    for headers in ({}, {"Authorization": "Bearer wrong-token-000000000000"}, {"Authorization": TOKEN}):
        for method, path in routes:
            resp = requests.request(method, shared_worker.url + path, headers=headers, timeout=5, data=b"{}")
            assert resp.status_code == 401, (method, path, headers, resp.status_code)
    assert requests.get(shared_worker.url + "/v1/health", headers=AUTH, timeout=5).status_code == 200


def test_capabilities_publish_ops_versions_schemas_and_limits(shared_worker: WorkerProc, tmp_path: Path) -> None:
    caps = shared_worker.client(tmp_path).capabilities()
    ops = {op.name: op for op in caps.ops}
    assert {"noop", "stabilize", "upscale", "transcribe", "generate"} <= set(ops)
    assert ops["stabilize"].params_schema["properties"]["shakiness"]["maximum"] == 10
    assert "lanczos" in ops["upscale"].backend  # no Vulkan GPU here: labelled as plain scaling
    assert caps.limits.max_upload_bytes > 0 and caps.cpu_count >= 1


def test_interrupted_upload_resumes_and_is_verified(shared_worker: WorkerProc, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "clip.bin"
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    created = requests.post(
        f"{shared_worker.url}/v1/uploads", headers=AUTH, json={"sha256": sha, "size": len(data)}, timeout=5
    )
    assert created.status_code == 201
    upload_id = created.json()["upload_id"]
    # Send a PATCH announcing every byte, deliver 1 MiB of them, then drop the connection.
    sent = 1024 * 1024
    with socket.create_connection(("127.0.0.1", shared_worker.port)) as sock:
        head = (
            f"PATCH /v1/uploads/{upload_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        sock.sendall(head.encode() + data[:sent])
        time.sleep(0.5)
    time.sleep(0.3)
    status = requests.get(f"{shared_worker.url}/v1/uploads/{upload_id}", headers=AUTH, timeout=5).json()
    assert 0 < status["offset"] <= sent and not status["complete"]
    # A wrong offset is refused (tus semantics), nothing is appended.
    bad = requests.patch(
        f"{shared_worker.url}/v1/uploads/{upload_id}", headers={**AUTH, "Upload-Offset": "0"}, data=b"x", timeout=5
    )
    assert bad.status_code == 409
    client = shared_worker.client(tmp_path / "state", chunk_bytes=512 * 1024)
    ref = client.upload(src)
    assert ref.sha256 == sha
    assert client.uploaded_bytes == len(data) - status["offset"]  # only the missing tail was sent
    assert client.has_blob(sha)
    # Uploading again sends nothing (dedupe by hash) and the hash comes from the cache.
    again = shared_worker.client(tmp_path / "state")
    again.upload(src)
    assert again.uploaded_bytes == 0 and again.hashes.computed == 0
    # Ranged download, resumed from a partial file, verified, renamed atomically.
    dest = tmp_path / "media" / "copy.bin"
    dest.parent.mkdir()
    (dest.parent / f".copy.bin.{sha[:12]}.part").write_bytes(data[:1000])
    client.download(sha, dest)
    assert dest.read_bytes() == data
    assert not list(dest.parent.glob("*.part"))
    resp = requests.get(f"{shared_worker.url}/v1/blobs/{sha}", headers={**AUTH, "Range": "bytes=10-19"}, timeout=5)
    assert resp.status_code == 206 and resp.content == data[10:20]
    assert resp.headers["Content-Range"] == f"bytes 10-19/{len(data)}"


def test_hash_mismatch_oversize_and_path_tricks_are_refused(worker_factory, tmp_path: Path) -> None:
    worker = worker_factory("--max-upload-gb", str(1 / 1024))  # 1 MiB
    url = worker.url
    big = requests.post(f"{url}/v1/uploads", headers=AUTH, json={"sha256": "a" * 64, "size": 2 << 20}, timeout=5)
    assert big.status_code == 413
    data = b"hello world" * 100
    wrong_sha = hashlib.sha256(b"something else").hexdigest()
    upload = requests.post(f"{url}/v1/uploads", headers=AUTH, json={"sha256": wrong_sha, "size": len(data)}, timeout=5)
    upload_id = upload.json()["upload_id"]
    overflow = requests.patch(
        f"{url}/v1/uploads/{upload_id}", headers={**AUTH, "Upload-Offset": "0"}, data=data + b"!", timeout=5
    )
    assert overflow.status_code == 413
    mismatch = requests.patch(
        f"{url}/v1/uploads/{upload_id}", headers={**AUTH, "Upload-Offset": "0"}, data=data, timeout=5
    )
    assert mismatch.status_code == 422 and "hash" in mismatch.json()["error"]
    assert requests.head(f"{url}/v1/blobs/{wrong_sha}", headers=AUTH, timeout=5).status_code == 404
    for path in (
        "/v1/blobs/..%2F..%2Fjobs.sqlite3",
        "/v1/blobs/../../jobs.sqlite3",
        "/v1/blobs/" + "A" * 64,
        "/v1/uploads/..%2Fauth.json",
        "/v1/jobs/..%2F..%2Fetc",
        "/v1/jobs/a%2F..%2Fb-123456",
    ):
        resp = requests.get(url + path, headers=AUTH, timeout=5)
        assert resp.status_code in (400, 404), (path, resp.status_code)
        assert len(resp.content) < 500
    sneaky = {"op": "upscale", "inputs": {"video": {"sha256": "../../auth.json", "size": 1}}}
    assert requests.put(f"{url}/v1/jobs/sneaky-job-1", headers=AUTH, json=sneaky, timeout=5).status_code == 422
    assert not (worker.data.parent / "jobs.sqlite3").exists()


def test_put_is_idempotent_conflicts_409_and_results_are_cached(shared_worker: WorkerProc, tmp_path: Path) -> None:
    client = shared_worker.client(tmp_path)
    spec = noop_spec(tag="idem")
    job, created = client.put_job("idem-job-0001", spec)
    assert created and job.state in (JobState.queued, JobState.running, JobState.succeeded)
    again, created_again = client.put_job("idem-job-0001", spec)
    assert not created_again and again.id == job.id and again.created_at == job.created_at
    resp = requests.put(
        f"{shared_worker.url}/v1/jobs/idem-job-0001",
        headers=AUTH,
        data=noop_spec(tag="other").model_dump_json(),
        timeout=5,
    )
    assert resp.status_code == 409
    done = wait_state(client, "idem-job-0001", {"succeeded"})
    twin, _ = client.put_job("idem-job-0002", spec)  # same fingerprint, new id → served from cache
    assert twin.state == JobState.succeeded and twin.cache_hit and twin.outputs == done.outputs
    missing = JobSpec(op="upscale", inputs={"video": {"sha256": "b" * 64, "size": 10}})
    resp = requests.put(
        f"{shared_worker.url}/v1/jobs/missing-0001", headers=AUTH, data=missing.model_dump_json(), timeout=5
    )
    assert resp.status_code == 422 and resp.json()["missing_blobs"] == ["b" * 64]
    bad = JobSpec(op="stabilize", params={"shakiness": 99})
    assert (
        requests.put(f"{shared_worker.url}/v1/jobs/bad-params-1", headers=AUTH, data=bad.model_dump_json()).status_code
        == 422
    )
    listed = client.jobs(["idem-job-0001", "idem-job-0002"])
    assert {j.id for j in listed} == {"idem-job-0001", "idem-job-0002"}
    client.delete("idem-job-0002")
    assert requests.get(f"{shared_worker.url}/v1/jobs/idem-job-0002", headers=AUTH, timeout=5).status_code == 404


def test_queued_and_running_jobs_cancel(worker_factory, tmp_path: Path) -> None:
    worker = worker_factory("--slots", "1")
    client = worker.client(tmp_path)
    client.put_job("long-running-1", noop_spec(duration=30, tag="a"))
    wait_state(client, "long-running-1", {"running"})
    client.put_job("queued-behind-1", noop_spec(duration=30, tag="b"))
    queued = client.cancel("queued-behind-1")
    assert queued.state == JobState.canceled
    started = time.monotonic()
    client.cancel("long-running-1")
    job = wait_state(client, "long-running-1", {"canceled"}, timeout=5)
    assert time.monotonic() - started < 3.0 and job.outputs == []
    assert client.cancel("long-running-1").state == JobState.canceled  # idempotent


def test_full_queue_answers_429_with_retry_after(worker_factory, tmp_path: Path) -> None:
    worker = worker_factory("--slots", "1", "--max-queued", "1")
    client = worker.client(tmp_path)
    client.put_job("busy-job-0001", noop_spec(duration=30, tag="busy"))
    wait_state(client, "busy-job-0001", {"running"})
    client.put_job("wait-job-0001", noop_spec(duration=30, tag="wait"))
    resp = requests.put(
        f"{worker.url}/v1/jobs/over-job-0001", headers=AUTH, data=noop_spec(tag="over").model_dump_json(), timeout=5
    )
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    client.cancel("wait-job-0001")
    client.cancel("busy-job-0001")


def test_events_replay_with_last_event_id(shared_worker: WorkerProc, tmp_path: Path) -> None:
    client = shared_worker.client(tmp_path)
    client.put_job("events-job-01", noop_spec(duration=1.0, tag="events"))
    events = list(client.events("events-job-01"))
    assert events[-1].type == "completed" and [e.seq for e in events] == list(range(1, len(events) + 1))
    assert any(e.type == "progress" for e in events)
    replay = requests.get(
        f"{shared_worker.url}/v1/jobs/events-job-01/events",
        headers={**AUTH, "Accept": "text/event-stream", "Last-Event-ID": "2"},
        timeout=10,
    )
    ids = [int(line[4:]) for line in replay.text.splitlines() if line.startswith("id: ")]
    assert ids == [e.seq for e in events if e.seq > 2]
    polled = requests.get(f"{shared_worker.url}/v1/jobs/events-job-01/events?after=1", headers=AUTH, timeout=10).json()
    assert [e["seq"] for e in polled] == [e.seq for e in events[1:]]


def test_worker_killed_mid_job_reruns_it_exactly_once(worker_factory, tmp_path: Path) -> None:
    data = tmp_path / "crashy"
    worker = worker_factory(data=data)
    client = worker.client(tmp_path / "state")
    client.put_job("crash-job-0001", noop_spec(duration=2.0, tag="crash"))
    wait_state(client, "crash-job-0001", {"running"})
    worker.kill9()
    restarted = worker_factory(data=data, port=worker.port)
    job = wait_state(client, "crash-job-0001", {"succeeded", "failed"}, timeout=30)
    assert job.state == JobState.succeeded and job.attempt == 2
    assert job.result["attempt"] == 2 and job.result["pid"] == restarted.proc.pid
    time.sleep(1.0)  # nothing runs it a third time
    events = list(client.events("crash-job-0001"))
    states = [e.data["state"] for e in events if e.type == "state"]
    assert states.count("running") == 2 and states.count("succeeded") == 1
    assert [e.type for e in events].count("completed") == 1
    assert client.job("crash-job-0001").attempt == 2


def test_second_server_on_the_same_data_folder_is_refused(shared_worker: WorkerProc) -> None:
    from tests.conftest import run_cli

    proc = run_cli("worker", "serve", "--port", "0", "--data", str(shared_worker.data), timeout=60)
    assert proc.returncode == 2 and "another worker is already serving" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_refuses_non_loopback_without_token(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    proc = run_cli("worker", "serve", "--host", "0.0.0.0", "--no-auth", "--data", str(tmp_path / "w"), timeout=60)
    assert proc.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_first_start_creates_token_and_stores_only_its_hash(worker_factory, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.gpu_remote.conftest import REPO, free_port, wait_http

    data = tmp_path / "fresh"
    env = {k: v for k, v in os.environ.items() if k != "MONTAGE_WORKER_TOKEN"}
    env["PYTHONPATH"] = str(REPO)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "montage_bridge", "worker", "serve", "--port", str(port), "--data", str(data)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}", proc=proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        token = line.rsplit(" ", 1)[-1].strip()
        assert len(token) >= 40
        stored = json.loads((data / "auth.json").read_text())
        assert token not in (data / "auth.json").read_text()
        # Salted: the stored value is not the plain sha256 of the token.
        assert stored["hash"] == hmac.new(bytes.fromhex(stored["salt"]), token.encode(), hashlib.sha256).hexdigest()
        assert hashlib.sha256(token.encode()).hexdigest() not in (data / "auth.json").read_text()
        ok = requests.get(f"http://127.0.0.1:{port}/v1/health", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert ok.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("bad_id", ["short", "has space in it", "x" * 65])
def test_bad_job_ids_are_refused(shared_worker: WorkerProc, bad_id: str) -> None:
    resp = requests.put(
        f"{shared_worker.url}/v1/jobs/{bad_id}", headers=AUTH, data=noop_spec().model_dump_json(), timeout=5
    )
    assert resp.status_code == 400
