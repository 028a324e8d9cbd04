"""A job runs once per submit (issue #16): a job that finished before the worker answered the PUT that
created it is that submit's own run, not an old one to run again.

The worker answers ``PUT /v1/jobs/{id}`` with the job as it is by then; a job that fails in
milliseconds (``generate`` on a worker without a model) is often already ``failed`` in that 201
answer. ``submit`` took it for an earlier run and posted ``/retry``: attempt 2, and a ``wait``
that could see the first run's end. Seen on a real worker as a ``generate`` job with two
``running`` events, the second 4 ms after the first run failed, both from one submit.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gpu_remote.client import GpuClient
from gpu_remote.models import Event, Job, JobErrorInfo, JobState
from tests.gpu_remote.conftest import TOKEN, WorkerProc


def _job(job_id: str, state: JobState, *, attempt: int, cache_hit: bool = False) -> Job:
    now = time.time()
    failed = state in (JobState.failed, JobState.canceled)
    return Job(
        id=job_id,
        op="generate",
        op_version="1",
        state=state,
        attempt=attempt,
        created_at=now,
        updated_at=now,
        fingerprint="f" * 64,
        cache_hit=cache_hit,
        error=JobErrorInfo(code="model_unavailable", message="no model") if failed else None,
    )


class _Worker:
    """An HTTP server answering a PUT as a real worker does when the job already finished before the
    answer (the race a real worker loses now and then), and recording the requests."""

    def __init__(self, put_status: int, put_job: Job) -> None:
        self.calls: list[tuple[str, str]] = []
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, job: Job) -> None:
                body = job.model_dump_json().encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                worker.calls.append(("PUT", self.path))
                self._answer(put_status, put_job)

            def do_POST(self) -> None:  # noqa: N802
                worker.calls.append(("POST", self.path.split("?")[0]))
                self._answer(200, _job(put_job.id, JobState.queued, attempt=put_job.attempt))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Worker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("status", "state", "cache_hit", "force", "reruns"),
    [
        # Created by this PUT and finished before the answer: its own run, never re-queued.
        (201, JobState.failed, False, False, False),
        (201, JobState.canceled, False, False, False),
        (201, JobState.succeeded, False, True, False),
        # Created as a result-cache hit: nothing ran, so --force runs it.
        (201, JobState.succeeded, True, True, True),
        # The id existed before this submit: a failed or canceled job runs again, a succeeded one with --force.
        (200, JobState.failed, False, False, True),
        (200, JobState.canceled, False, False, True),
        (200, JobState.succeeded, False, True, True),
        (200, JobState.succeeded, False, False, False),
    ],
)
def test_submit_reruns_only_a_job_that_existed_before(
    status: int, state: JobState, cache_hit: bool, force: bool, reruns: bool, tmp_path: Path
) -> None:
    answer = _job("submit-once-0001", state, attempt=0 if cache_hit else 1, cache_hit=cache_hit)
    with _Worker(status, answer) as worker:
        client = GpuClient(worker.url, TOKEN, state_dir=tmp_path)
        job = client.submit("generate", {}, {"prompt": "a cat"}, job_id=answer.id, force=force)
    retried = ("POST", f"/v1/jobs/{answer.id}/retry") in worker.calls
    assert retried is reruns, worker.calls
    assert job.state == (JobState.queued if reruns else state)


def test_fast_failing_jobs_each_run_once_on_a_real_worker(shared_worker: WorkerProc, tmp_path: Path) -> None:
    """`generate` on a worker without a model fails in a few ms, racing the PUT's answer: every
    submitted job ends failed after exactly one run (one ``running`` event, attempt 1)."""
    client = shared_worker.client(tmp_path / "state")
    ids = [f"submit-once-real-{n:03d}" for n in range(24)]
    for job_id in ids:
        client.submit("generate", {}, {"prompt": f"a cat {job_id}", "num_frames": 9}, job_id=job_id)
    for job_id in ids:
        events: list[Event] = []
        job = client.wait(job_id, events.append, timeout_s=30)
        runs = [e.data["attempt"] for e in events if e.type == "state" and e.data["state"] == "running"]
        assert job.state == JobState.failed and job.error is not None and job.error.code == "model_unavailable"
        assert job.attempt == 1 and runs == [1], (job_id, job.attempt, runs)


def test_a_put_resent_after_its_answer_was_lost_still_runs_the_job_once(
    shared_worker: WorkerProc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PUT reaches the real worker and creates the job, then its answer is lost (read error):
    urllib3 resends the PUT. The resend finds the job (already failed: ``generate`` without a model
    fails in ms) and used to be answered 200, "it existed before", so ``submit`` posted ``/retry``
    and the job ran twice. The resend carries the same ``Submit-Token``, so it is answered 201."""
    import urllib3.connectionpool
    from urllib3.exceptions import ProtocolError

    real = urllib3.connectionpool.HTTPConnectionPool._make_request
    lost: list[str] = []

    def lose_first_put_answer(self, conn, method, url, *args, **kwargs):  # noqa: ANN001 - urllib3's own
        response = real(self, conn, method, url, *args, **kwargs)
        if method == "PUT" and not lost:
            lost.append(url)
            response.read()  # the worker did all its work; only the answer goes missing
            time.sleep(0.3)  # the job fails meanwhile, so the resend finds it finished
            raise ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
        return response

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "_make_request", lose_first_put_answer)
    client = shared_worker.client(tmp_path / "state")
    job_id = "submit-once-lost-answer"
    job = client.submit("generate", {}, {"prompt": "a lost answer", "num_frames": 9}, job_id=job_id)
    assert lost == [f"/v1/jobs/{job_id}"], lost  # the PUT really was sent twice
    assert job.state == JobState.failed and job.attempt == 1, job
    events: list[Event] = []
    job = client.wait(job_id, events.append, timeout_s=30)
    runs = [e.data["attempt"] for e in events if e.type == "state" and e.data["state"] == "running"]
    assert job.attempt == 1 and runs == [1], (job.attempt, runs)


def test_the_submit_token_decides_created_and_is_checked(shared_worker: WorkerProc) -> None:
    import requests

    spec = {"op": "generate", "params": {"prompt": "token check", "num_frames": 9}, "inputs": {}}
    url = f"{shared_worker.url}/v1/jobs/submit-token-0001"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    first = requests.put(url, json=spec, headers={**auth, "Submit-Token": "tok-aaaaaaaa"}, timeout=10)
    again = requests.put(url, json=spec, headers={**auth, "Submit-Token": "tok-aaaaaaaa"}, timeout=10)
    other = requests.put(url, json=spec, headers={**auth, "Submit-Token": "tok-bbbbbbbb"}, timeout=10)
    bare = requests.put(url, json=spec, headers=auth, timeout=10)
    assert (first.status_code, again.status_code, other.status_code, bare.status_code) == (201, 201, 200, 200)
    bad = requests.put(url, json=spec, headers={**auth, "Submit-Token": "x y"}, timeout=10)
    assert bad.status_code == 400 and "Submit-Token" in bad.text
    events = requests.get(f"{url}/events", headers=auth, timeout=10)
    assert events.status_code == 200 and "submit" in events.json()[0]["data"]
    assert "tok-aaaaaaaa" not in events.text  # the events hold a digest, never the token
