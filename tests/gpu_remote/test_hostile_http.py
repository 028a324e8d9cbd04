"""Hostile requests against a real worker process: nothing is read before the token, bodies are capped,
ids are exact, and what the worker keeps on disk is private to its user (issue #19, items 1 and 2)."""

from __future__ import annotations

import json
import socket
import stat
import time
from pathlib import Path

import requests

from tests.gpu_remote.conftest import TOKEN, WorkerProc, make_clip

AUTH = {"Authorization": f"Bearer {TOKEN}"}
MB = 1 << 20


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def push_body(port: int, head: str, body_bytes: int, chunked: bool = False) -> tuple[str, int]:
    """Send ``head`` then up to ``body_bytes`` of body; return (status line, bytes the server took)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1"))
        block = b"x" * MB
        try:
            while sent < body_bytes:
                if chunked:
                    sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                else:
                    sock.sendall(block)
                sent += len(block)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: exactly what it should do
        sock.settimeout(10)
        try:
            reply = sock.recv(4096).decode("latin-1")
        except ConnectionResetError:
            reply = ""
    return reply.split("\r\n", 1)[0], sent


def test_unauthenticated_huge_upload_is_refused_before_the_body_is_read(shared_worker: WorkerProc) -> None:
    before = rss_bytes(shared_worker.proc.pid)
    head = (
        f"POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {400 * MB}\r\n\r\n"
    )
    status, _ = push_body(shared_worker.port, head, 64 * MB)
    assert status.startswith("HTTP/1.1 401"), status
    head = (
        "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    status, _ = push_body(shared_worker.port, head, 64 * MB, chunked=True)
    assert status.startswith("HTTP/1.1 401"), status
    time.sleep(0.3)
    grown = rss_bytes(shared_worker.proc.pid) - before
    assert grown < 24 * MB, f"worker grew by {grown / MB:.0f} MB on unauthenticated bodies"
    assert requests.get(shared_worker.url + "/v1/health", headers=AUTH, timeout=5).status_code == 200


def test_authenticated_bodies_over_the_route_cap_get_413(shared_worker: WorkerProc) -> None:
    declared = (
        f"POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {400 * MB}\r\n\r\n"
    )
    status, _ = push_body(shared_worker.port, declared, 8 * MB)
    assert status.startswith("HTTP/1.1 413"), status
    streamed = (
        f"PUT /v1/jobs/job-chunked-1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    status, _ = push_body(shared_worker.port, streamed, 8 * MB, chunked=True)
    assert status.startswith("HTTP/1.1 413"), status
    listed = requests.get(shared_worker.url + "/v1/jobs", headers=AUTH, timeout=5).json()
    assert all(job["id"] != "job-chunked-1" for job in listed["jobs"])


def test_ids_with_a_trailing_newline_are_refused(shared_worker: WorkerProc) -> None:
    spec = {"op": "noop", "params": {"duration_s": 0, "steps": 1}}
    resp = requests.put(f"{shared_worker.url}/v1/jobs/abcdefgh%0A", headers=AUTH, json=spec, timeout=5)
    assert resp.status_code == 400, resp.text
    resp = requests.get(f"{shared_worker.url}/v1/blobs/{'0' * 64}%0A", headers=AUTH, timeout=5)
    assert resp.status_code in (400, 404) and resp.status_code != 200


def test_pinned_token_data_dir_and_blobs_are_private(worker_factory, tmp_path: Path) -> None:
    data = tmp_path / "private"
    worker = worker_factory(data=data)
    auth_file = data / "auth.json"
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    record = json.loads(auth_file.read_text())
    assert TOKEN not in auth_file.read_text()
    assert "sha256" not in record and len(bytes.fromhex(record["salt"])) >= 16
    # A blob that arrives by upload is readable by the worker's user alone.
    client = worker.client(tmp_path / "state")
    clip = make_clip(tmp_path / "c.mp4")
    sha = client.upload(clip).sha256
    blob = next((data / "blobs").rglob(sha))
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    for folder in (data / "blobs", data / "uploads", data / "tmp"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_busy_port_is_one_clear_line(shared_worker: WorkerProc, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    proc = run_cli("worker", "serve", "--port", str(shared_worker.port), "--data", str(tmp_path / "w2"), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"port {shared_worker.port} on 127.0.0.1 is already in use" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
