"""Webhook SSRF protection: internal, metadata and odd URLs are refused when a job is created (422)
and again at delivery after the name is resolved, and the POST goes to the address that was
checked (a DNS answer that changes cannot redirect it). A real local receiver gets the posts only
when the operator allows private targets."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import pytest
import requests

from gpu_remote.models import JobSpec
from gpu_remote.store import JobStore
from gpu_remote.url_guard import UnsafeUrl, address_problem, check_url, resolve_target
from gpu_remote.webhooks import WebhookDispatcher, verify
from tests.gpu_remote.conftest import TOKEN
from tests.gpu_remote.test_webhooks import SECRET, Receiver

REFUSED_ALWAYS = [
    ("ftp://example.com/hook", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("http://user:pw@example.com/hook", "credentials"),
    ("http://token@example.com/hook", "credentials"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("http://[::ffff:169.254.169.254]/", "metadata"),
    ("http://169.254.10.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0:8080/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "broadcast"),
]
REFUSED_UNLESS_ALLOWED = [
    ("http://127.0.0.1:9/hook", "loopback"),
    ("http://[::1]:9/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 of 10.0.0.1
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.10/hook", "private"),
    ("http://172.16.5.5/hook", "private"),
    ("http://[fd12:3456::1]/hook", "private"),
    ("http://100.64.0.1/hook", "private"),
    ("http://localhost:9/hook", "loopback"),  # resolved by the system resolver (/etc/hosts)
    ("http://2130706433/hook", "loopback"),  # 127.0.0.1 written as one number
]


@pytest.mark.parametrize(("url", "why"), REFUSED_ALWAYS + REFUSED_UNLESS_ALLOWED)
def test_refused_by_default(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        check_url(url, allow_private=False)


@pytest.mark.parametrize(("url", "why"), REFUSED_ALWAYS)
def test_refused_even_when_private_targets_are_allowed(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        check_url(url, allow_private=True)


@pytest.mark.parametrize("url", [u for u, _ in REFUSED_UNLESS_ALLOWED])
def test_private_targets_pass_when_allowed(url: str) -> None:
    check_url(url, allow_private=True)


def test_public_targets_pass() -> None:
    check_url("https://93.184.215.14/hook?x=1", allow_private=False)
    check_url("http://[2606:4700::6810:84e5]:8443/hook", allow_private=False)
    assert address_problem(ipaddress.ip_address("8.8.8.8"), allow_private=False) is None
    # a name that does not resolve yet is accepted at creation; delivery checks it again
    check_url("https://hooks.invalid/x", allow_private=False)
    target = resolve_target("https://HOOKS.example.com./a?b=1", allow_private=False, resolver=lambda h, p: ["1.1.1.1"])
    assert (target.host, target.port, target.addresses, target.path) == (
        "hooks.example.com",
        443,
        ("1.1.1.1",),
        "/a?b=1",
    )


def test_a_name_with_any_internal_address_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match=r"hooks\.example\.com \(10\.0\.0\.7\), a private address"):
        resolve_target("https://hooks.example.com/", allow_private=False, resolver=lambda h, p: ["1.1.1.1", "10.0.0.7"])


def _hooked_job(job_db, job_id: str, url: str) -> JobStore:
    store = JobStore(job_db)
    params = {"duration_s": 0.0, "steps": 1, "tag": job_id}
    # straight into the store: what a name that resolved to a public address at creation leaves
    store.put(job_id, JobSpec(op="noop", params=params, webhook=url), "1", params, missing=[])
    return store


def _last_error(job_db, job_id: str) -> str | None:
    with job_db.connect() as conn:
        row = conn.execute("SELECT last_error, delivered_seq FROM webhooks WHERE job_id=?", (job_id,)).fetchone()
    return row[0]


def test_delivery_refuses_a_name_that_now_resolves_inside(job_db) -> None:
    """DNS rebinding: the name answered a public address when the job was created, now loopback."""
    receiver = Receiver()
    try:
        port = receiver.server.server_address[1]
        _hooked_job(job_db, "rebound-hook-01", f"http://hooks.example.test:{port}/hook")
        lookups: list[str] = []

        def rebinding(host: str, _port: int) -> list[str]:
            lookups.append(host)
            return ["127.0.0.1"]

        dispatcher = WebhookDispatcher(job_db, SECRET, backoff_s=0.01, timeout_s=5, resolver=rebinding)
        assert dispatcher.deliver_due() == 1  # given up at once: retrying a refused target is pointless
        assert receiver.calls == []
        error = _last_error(job_db, "rebound-hook-01")
        assert error is not None and "refused" in error and "127.0.0.1" in error and "loopback" in error
        assert lookups == ["hooks.example.test"]
    finally:
        receiver.close()


def test_delivery_connects_to_the_address_it_checked(job_db) -> None:
    """Allowed private targets: the POST goes to the resolved address (``.test`` names never resolve
    in real DNS, so a second lookup by the HTTP library would fail), with the name as Host."""
    receiver = Receiver()
    try:
        port = receiver.server.server_address[1]
        store = _hooked_job(job_db, "pinned-hook-001", f"http://hooks.example.test:{port}/hook?k=v")
        job = store.claim("w", lease_s=30)
        assert job is not None
        store.succeed(job.id, job.attempt, [], {"ok": True})
        lookups: list[str] = []

        def resolver(host: str, _port: int) -> list[str]:
            lookups.append(host)
            return ["127.0.0.1"]

        dispatcher = WebhookDispatcher(
            job_db, SECRET, backoff_s=0.01, timeout_s=5, allow_private=True, resolver=resolver
        )
        deadline = time.monotonic() + 10
        while len(receiver.delivered()) < 3 and time.monotonic() < deadline:
            dispatcher.deliver_due()
        assert [e["state"] for e in receiver.delivered()] == ["queued", "running", "succeeded"]
        assert lookups == ["hooks.example.test"] * 3  # once per delivery, never by the HTTP library
        for headers, body, _status in receiver.calls:
            assert headers["Host"] == f"hooks.example.test:{port}"
            assert verify(SECRET, headers, body)
        assert _last_error(job_db, "pinned-hook-001") is None
    finally:
        receiver.close()


def test_a_worker_refuses_internal_webhooks_unless_allowed(worker_factory, tmp_path: Path) -> None:
    receiver = Receiver()
    try:
        port = receiver.server.server_address[1]
        strict = worker_factory(env={"MONTAGE_WEBHOOK_SECRET": SECRET}, data=tmp_path / "strict")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        params = {"duration_s": 0.0, "steps": 1, "tag": "ssrf"}
        cases = {
            receiver.url: "loopback address: webhooks go to public addresses only; the worker's operator may allow",
            f"http://localhost:{port}/hook": "localhost (127.0.0.1), a loopback address",
            "http://169.254.169.254/latest/meta-data/": "a cloud metadata address",
            "http://admin:secret@example.com/hook": "must not carry credentials",
        }
        for n, (url, message) in enumerate(cases.items()):
            spec = {"op": "noop", "params": params, "webhook": url}
            answer = requests.put(f"{strict.url}/v1/jobs/ssrf-job-{n:04d}", json=spec, headers=auth, timeout=10)
            assert answer.status_code == 422, (url, answer.text)
            assert message in answer.json()["error"] and answer.json()["error"].startswith("invalid webhook:")
            assert requests.get(f"{strict.url}/v1/jobs/ssrf-job-{n:04d}", headers=auth, timeout=10).status_code == 404
        bad_scheme = {"op": "noop", "params": params, "webhook": "gopher://example.com/"}
        answer = requests.put(f"{strict.url}/v1/jobs/ssrf-job-9999", json=bad_scheme, headers=auth, timeout=10)
        assert answer.status_code == 422 and "webhook" in answer.json()["error"]
        assert receiver.calls == []

        # the operator's setting: in-house receivers on private addresses get their webhooks
        open_worker = worker_factory(
            env={"MONTAGE_WEBHOOK_SECRET": SECRET, "MONTAGE_WEBHOOK_ALLOW_PRIVATE": "1"}, data=tmp_path / "open"
        )
        client = open_worker.client(tmp_path / "state")
        job, _ = client.put_job(
            "allowed-hook-01", JobSpec(op="noop", params=params, webhook=f"http://localhost:{port}/h")
        )
        assert client.wait(job.id).state.value == "succeeded"
        deadline = time.monotonic() + 15
        while [e["state"] for e in receiver.delivered()][-1:] != ["succeeded"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e["state"] for e in receiver.delivered()] == ["queued", "running", "succeeded"]
        # metadata stays refused with the setting on
        meta = {"op": "noop", "params": params, "webhook": "http://[fd00:ec2::254]/latest"}
        answer = requests.put(f"{open_worker.url}/v1/jobs/ssrf-meta-0001", json=meta, headers=auth, timeout=10)
        assert answer.status_code == 422 and "metadata" in answer.json()["error"]
    finally:
        receiver.close()


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate for ``name`` and its key, made by the openssl command line tool."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command (apt-get install openssl) to make a test certificate")
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key)]
        + ["-out", str(cert), "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_delivery_verifies_the_name_it_pinned(job_db, tmp_path: Path) -> None:
    """Connecting to the resolved address must not weaken TLS: the certificate is checked against
    the URL's host name (SNI and verification), so the right name is delivered and a wrong one not."""
    import ssl

    cert, key = _self_signed(tmp_path, "hooks.example.test")
    receiver = Receiver()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    try:
        port = receiver.server.server_address[1]
        _hooked_job(job_db, "tls-hook-000001", f"https://hooks.example.test:{port}/hook")
        _hooked_job(job_db, "tls-wrongname01", f"https://other.example.test:{port}/hook")
        dispatcher = WebhookDispatcher(
            job_db,
            SECRET,
            backoff_s=0.01,
            max_attempts=1,
            timeout_s=5,
            allow_private=True,
            resolver=lambda _host, _port: ["127.0.0.1"],
            ca_file=str(cert),
        )
        assert dispatcher.deliver_due() == 2  # one delivered, one given up after its single try
        assert [e["job_id"] for e in receiver.delivered()] == ["tls-hook-000001"]
        headers, body, _status = receiver.calls[0]
        assert headers["Host"] == f"hooks.example.test:{port}" and verify(SECRET, headers, body)
        assert _last_error(job_db, "tls-hook-000001") is None
        error = _last_error(job_db, "tls-wrongname01")
        assert error is not None and ("certificate" in error.lower() or "hostname" in error.lower()), error
    finally:
        receiver.close()
