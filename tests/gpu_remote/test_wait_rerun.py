"""`wait` on a job that ran before (retried, or re-run with --force) follows the new run to its end:
the earlier run's ``completed`` event is in the same event stream and must not end the wait."""

from __future__ import annotations

import time
from pathlib import Path

from gpu_remote.models import JobSpec
from tests.gpu_remote.conftest import WorkerProc


def test_wait_follows_a_forced_rerun_to_its_end(shared_worker: WorkerProc, tmp_path: Path) -> None:
    client = shared_worker.client(tmp_path / "state")
    job, _ = client.put_job("rerun-wait-0001", JobSpec(op="noop", params={"duration_s": 1.0, "steps": 4, "tag": "w"}))
    first = client.wait(job.id)
    assert first.state.value == "succeeded" and first.attempt == 1
    rerun = client.retry(job.id, force=True)
    assert rerun.state.value in ("queued", "running")
    started = time.monotonic()
    states: list[str] = []
    final = client.wait(job.id, lambda e: states.append(e.data.get("state", "")) if e.type == "state" else None)
    assert final.state.value == "succeeded" and final.attempt == 2, (final.state, final.attempt)
    assert time.monotonic() - started > 0.7  # it waited for the second run's second of work
    assert states.count("succeeded") == 2  # both runs' ends were seen, the second one last
