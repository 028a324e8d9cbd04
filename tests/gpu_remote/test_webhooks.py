"""Webhooks: every state change reaches a local receiver in order, HMAC-signed, retried with backoff
after failures (same Webhook-Id each try); on SQLite and PostgreSQL; and through a real worker."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from gpu_remote.models import JobSpec
from gpu_remote.store import JobStore
from gpu_remote.webhooks import WebhookDispatcher, verify
from tests.gpu_remote.conftest import TOKEN

SECRET = "whsec-test-5b2c9e1f"


class Receiver:
    """A local HTTP server recording POSTs; the first ``fail_first`` answer 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        self.fail_first = fail_first
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if len(owner.calls) < owner.fail_first else 204
                owner.calls.append((dict(self.headers), body, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list[dict]:
        return [json.loads(body) for _h, body, status in self.calls if status < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_state_changes_are_signed_in_order_and_retried(job_db) -> None:
    receiver = Receiver(fail_first=2)
    try:
        store = JobStore(job_db)
        params = {"duration_s": 0.0, "steps": 1, "tag": "hook"}
        store.put("hooked-job-0001", JobSpec(op="noop", params=params, webhook=receiver.url), "1", params, missing=[])
        job = store.claim("w", lease_s=30)
        assert job is not None
        store.succeed(job.id, job.attempt, [], {"ok": True})
        dispatcher = WebhookDispatcher(job_db, SECRET, backoff_s=0.05, timeout_s=5, allow_private=True)
        deadline = time.monotonic() + 20
        while len(receiver.delivered()) < 3 and time.monotonic() < deadline:
            dispatcher.deliver_due()
            time.sleep(0.02)
        assert [e["state"] for e in receiver.delivered()] == ["queued", "running", "succeeded"]
        assert [e["seq"] for e in receiver.delivered()] == sorted(e["seq"] for e in receiver.delivered())
        # the first event failed twice, then went: three tries with one id, later ones once each
        ids = [h["Webhook-Id"] for h, _b, _s in receiver.calls]
        assert ids[:3] == [ids[0]] * 3 and len(set(ids)) == 3 and len(ids) == 5
        failed_at = [float(h["Webhook-Timestamp"]) for h, _b, _s in receiver.calls[:3]]
        assert failed_at == sorted(failed_at)
        for headers, body, _status in receiver.calls:
            assert verify(SECRET, headers, body)
            assert not verify("another-secret", headers, body)
            assert not verify(SECRET, headers, body + b" ")  # a changed body fails
        assert dispatcher.deliver_due() == 0  # nothing left, nothing sent twice
        assert len(receiver.calls) == 5
    finally:
        receiver.close()


def test_an_endpoint_that_never_answers_is_given_up_per_event(job_db) -> None:
    receiver = Receiver(fail_first=10**6)
    try:
        store = JobStore(job_db)
        params = {"duration_s": 0.0, "steps": 1, "tag": "dead"}
        store.put("dead-hook-00001", JobSpec(op="noop", params=params, webhook=receiver.url), "1", params, missing=[])
        dispatcher = WebhookDispatcher(job_db, SECRET, backoff_s=0.01, max_attempts=3, timeout_s=5, allow_private=True)
        deadline = time.monotonic() + 10
        while len(receiver.calls) < 3 and time.monotonic() < deadline:
            dispatcher.deliver_due()
            time.sleep(0.02)
        time.sleep(0.1)
        assert dispatcher.deliver_due() == 0 and len(receiver.calls) == 3  # 3 tries, then given up
    finally:
        receiver.close()


def test_a_worker_posts_its_jobs_state_changes(worker_factory, tmp_path: Path) -> None:
    receiver = Receiver()
    try:
        worker = worker_factory(env={"MONTAGE_WEBHOOK_SECRET": SECRET, "MONTAGE_WEBHOOK_ALLOW_PRIVATE": "1"})
        client = worker.client(tmp_path / "state")
        spec = JobSpec(op="noop", params={"duration_s": 0.0, "steps": 1, "tag": "w"}, webhook=receiver.url)
        job, _ = client.put_job("served-hook-001", spec)
        assert client.wait(job.id).state.value == "succeeded"
        deadline = time.monotonic() + 15
        while (not receiver.delivered() or receiver.delivered()[-1]["state"] != "succeeded") and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert [e["state"] for e in receiver.delivered()] == ["queued", "running", "succeeded"]
        assert all(verify(SECRET, h, b) for h, b, _s in receiver.calls)
        # a worker without a secret refuses jobs that ask for a webhook, saying why
        plain = worker_factory(data=tmp_path / "plain")
        answer = requests.put(
            f"{plain.url}/v1/jobs/no-secret-hook-1",
            json=spec.model_dump(mode="json"),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert answer.status_code == 422 and "webhook" in answer.text
    finally:
        receiver.close()
