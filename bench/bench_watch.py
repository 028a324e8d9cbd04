"""Watch-folder daemon: latency from the last byte written to the timeline written, and throughput.

Runs `montage-bridge watch` as a subprocess (as users do) on tiny generated clips (64x36, 2 s):

- latency: a job folder whose last clip is written straight into the inbox; measured from the
  close of that file to the journal's `finished` time of the job. The quiet period (a setting,
  the daemon waits it out by design) and the job's analysis time are reported separately.
- throughput: 200 files (40 jobs × 4 clips + music) moved into the inbox at once; files and jobs
  per second until the last job is written, and the daemon's peak memory (Linux VmHWM).

Writes bench/results/watch.json. Usage: python bench/bench_watch.py [--jobs 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from make_tiny_media import make_tiny_media  # noqa: E402

from kernel.atomic_io import write_text_atomic  # noqa: E402

QUIET = 0.5
CLIPS_PER_JOB = 4


def _jobs(outbox: Path) -> dict[str, dict]:
    path = outbox / ".montage-watch.sqlite"
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        db.row_factory = sqlite3.Row
        return {r["name"]: dict(r) for r in db.execute("SELECT * FROM jobs")}
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()


def _wait(predicate, timeout: float, proc: subprocess.Popen) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {proc.returncode}; see its log")
        time.sleep(0.01)
    raise RuntimeError("timed out")


def _stage_job(staging: Path, name: str, media: dict, first_clip: int, *, without_last: bool = False) -> Path:
    folder = staging / name
    folder.mkdir(parents=True)
    clips = media["clips"]
    for k in range(CLIPS_PER_JOB - (1 if without_last else 0)):
        i = (first_clip + k) % len(clips)
        shutil.copy(clips[i], folder / f"clip{k}.mp4")
    shutil.copy(media["music"], folder / "music.wav")
    return folder


def _peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40, help="throughput jobs (× 5 files each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp_name:
        tmp = Path(tmp_name)
        media = make_tiny_media(tmp / "media", clips=8)
        inbox, outbox, staging = tmp / "in", tmp / "out", tmp / "staging"
        inbox.mkdir()
        config = tmp / "watch.toml"
        config.write_text(
            f"quiet_seconds = {QUIET}\nprobe_retry_seconds = 5\nworkers = {args.workers}\nrescan_seconds = 30\n"
            'formats = ["otio", "xml", "edl"]\n'
        )
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "montage_bridge", "watch", str(inbox), "--out", str(outbox)]
        log = (tmp / "daemon.log").open("w")  # a file, not a pipe: a full pipe would block the daemon
        proc = subprocess.Popen([*cmd, "--config", str(config)], cwd=REPO, env=env, stdout=log, stderr=log, text=True)
        try:
            # Warm-up job: the first one pays the one-off imports (librosa, scenedetect, numba cache).
            t0 = time.monotonic()
            _stage_job(staging, "warmup", media, 0)
            os.rename(staging / "warmup", inbox / "warmup")
            _wait(lambda: _jobs(outbox).get("warmup", {}).get("state") == "written", 300, proc)
            warmup_seconds = time.monotonic() - t0

            latencies, analyses, totals = [], [], []
            for run in range(args.latency_runs):
                name = f"latency{run}"
                _stage_job(staging, name, media, run, without_last=True)
                os.rename(staging / name, inbox / name)
                last = media["clips"][(run + CLIPS_PER_JOB - 1) % len(media["clips"])].read_bytes()
                with (inbox / name / f"clip{CLIPS_PER_JOB - 1}.mp4").open("wb") as handle:
                    handle.write(last)
                    handle.flush()
                    os.fsync(handle.fileno())
                last_byte = time.time()
                _wait(lambda n=name: _jobs(outbox).get(n, {}).get("state") == "written", 120, proc)
                row = _jobs(outbox)[name]
                latencies.append(row["finished"] - last_byte)
                analyses.append(row["analysis_seconds"] or 0.0)
                totals.append(row["total_seconds"] or 0.0)

            names = [f"burst{i:03d}" for i in range(args.jobs)]
            for i, name in enumerate(names):
                _stage_job(staging, name, media, i)
            files = sum(1 for _ in staging.rglob("*.*"))
            start_wall = time.time()
            for name in names:
                os.rename(staging / name, inbox / name)
            _wait(lambda: all(_jobs(outbox).get(n, {}).get("state") == "written" for n in names), 1800, proc)
            rows = _jobs(outbox)
            elapsed = max(rows[n]["finished"] for n in names) - start_wall
            peak = _peak_rss_mib(proc.pid)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            log.close()
    report = {
        "device": f"{os.cpu_count()} CPU(s), {args.workers} worker(s)",
        "load_average_1min_at_end": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "clip": "64x36 H.264, 2 s at 25 fps; music 4 s WAV",
        "quiet_seconds": QUIET,
        "warmup_job_seconds": round(warmup_seconds, 3),
        "latency": {
            "runs": args.latency_runs,
            "last_byte_to_timeline_median_seconds": round(statistics.median(latencies), 3),
            "last_byte_to_timeline_max_seconds": round(max(latencies), 3),
            "of_which_quiet_period_seconds": QUIET,
            "job_analysis_median_seconds": round(statistics.median(analyses), 3),
            "job_total_median_seconds": round(statistics.median(totals), 3),
        },
        "throughput": {
            "files": files,
            "jobs": len(names),
            "seconds": round(elapsed, 3),
            "files_per_second": round(files / elapsed, 2),
            "jobs_per_second": round(len(names) / elapsed, 3),
            "job_analysis_median_seconds": round(statistics.median(rows[n]["analysis_seconds"] for n in names), 3),
            "daemon_peak_rss_mib": peak,
        },
    }
    (Path(__file__).parent / "results").mkdir(exist_ok=True)
    write_text_atomic(Path(__file__).parent / "results" / "watch.json", json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
