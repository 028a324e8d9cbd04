"""ETA from measured throughput, and progress that moves with time through stabilize's two passes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from gpu_remote.models import JobSpec, Progress
from gpu_remote.ops import stabilize
from gpu_remote.ops.base import OpContext
from gpu_remote.store import JobStore
from kernel.ffmpeg_tools import run_ffmpeg


def start_job(store: JobStore, job_id: str, started_ago_s: float):
    params = {"duration_s": 0.0, "steps": 1, "tag": job_id}
    store.put(job_id, JobSpec(op="noop", params=params), "1", params, missing=[])
    job = store.claim("w", lease_s=60, job_id=job_id)
    assert job is not None
    with store.db.connect() as conn:
        conn.execute("UPDATE jobs SET started_at=? WHERE id=?", (time.time() - started_ago_s, job_id))
    return job


def test_eta_comes_from_this_runs_throughput_then_from_the_ops_history(job_db) -> None:
    store = JobStore(job_db)
    job = start_job(store, "eta-job-000001", started_ago_s=10.0)
    assert store.progress(job.id, job.attempt, Progress(fraction=0.0, stage="x"))
    assert store.get(job.id).progress.eta_s is None  # nothing measured yet
    assert store.progress(job.id, job.attempt, Progress(fraction=0.5, stage="x"))
    assert abs(store.get(job.id).progress.eta_s - 10.0) < 0.5  # half done in 10 s: 10 s left
    assert store.succeed(job.id, job.attempt, [], {})
    with store.db.connect() as conn:  # that run took 40 s
        conn.execute("UPDATE jobs SET started_at=finished_at-40 WHERE id=?", (job.id,))

    fresh = JobStore(job_db)  # no cached history
    nxt = start_job(fresh, "eta-job-000002", started_ago_s=5.0)
    assert fresh.progress(nxt.id, nxt.attempt, Progress(fraction=0.0, stage="x"))
    assert abs(fresh.get(nxt.id).progress.eta_s - 35.0) < 0.5  # typical 40 s, 5 s in
    assert fresh.progress(nxt.id, nxt.attempt, Progress(fraction=0.6, stage="x"))
    assert abs(fresh.get(nxt.id).progress.eta_s - 5.0 * 0.4 / 0.6) < 0.5  # past 30 %: its own pace


def test_stabilize_progress_keeps_pace_with_time(tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=s=480x270:r=25:d=4", "-c:v", "libx264", "-preset", "ultrafast", str(src)]
    )
    work = tmp_path / "work"
    work.mkdir()
    seen: list[tuple[float, float, str]] = []
    t0 = time.monotonic()
    ctx = OpContext(
        "job", 1, {"video": src}, work, lambda f, s: seen.append((time.monotonic(), f, s)), threading.Event()
    )
    stabilize.OP.run(ctx, stabilize.StabilizeParams())
    total = time.monotonic() - t0
    # where the detect pass ended, in time and in progress: they agree (the old 50/50 split put
    # progress at 0.5 when ~15 % of the time had passed)
    end_detect = max(t for t, _f, stage in seen if stage == "detect")
    time_share = (end_detect - t0) / total
    assert abs(time_share - stabilize.DETECT_SHARE) < 0.2, (time_share, seen)
    assert [f for _t, f, _s in seen] == sorted(f for _t, f, _s in seen) and seen[-1][1] == 1.0
