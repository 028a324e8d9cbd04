"""Prometheus metrics of the watch daemon, read from its journal (and each job's ``report.json``).

The journal is the daemon's durable record, so the figures survive daemon restarts and need no
change to the daemon: ``montage-bridge dashboard`` serves them on ``/metrics``. What the journal
keeps is each job's *latest* run, so the per-job figures (states, durations, failures) are gauges
and histograms over the jobs as they stand; ``montage_watch_outputs_written_total`` counts every
output ever put in place (the journal's ``writes``) and only goes up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from montage_bridge.watch.journal import JOB_STATES, RESOLVE_STATES, JobRow, Journal

DURATION_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

# A failure's reason as a small, fixed set of labels (the message itself is unbounded text).
FAILURE_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("no_music", re.compile(r"no music|audio files? \(|music = |music file", re.I)),
    ("no_video", re.compile(r"no (usable )?video clips", re.I)),
    (
        "unreadable_media",
        re.compile(r"damaged|unreadable|could not (be )?(decode|read|probe)|not readable|decod", re.I),
    ),
    ("disk", re.compile(r"no space|disk|not writable|permission", re.I)),
    ("internal", re.compile(r"^internal error", re.I)),
)


def failure_reason(error: str | None) -> str:
    """The label for a failed job's error message (``other`` when no rule matches)."""
    text = error or ""
    for label, pattern in FAILURE_REASONS:
        if pattern.search(text):
            return label
    return "other"


class WatchCollector(Collector):
    """Collects from the journal at ``journal_path`` on each scrape (read-only, WAL: never blocks the daemon)."""

    def __init__(self, journal_path: Path, outbox: Path | None = None) -> None:
        self.journal_path = journal_path
        self.outbox = outbox if outbox is not None else journal_path.parent
        self._frames: dict[Path, tuple[int, int]] = {}  # report.json → (mtime_ns, frames analyzed)

    def describe(self) -> Iterable[Metric]:
        return []  # collected live: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("montage_watch_journal_up", "1 when the watch journal could be read")
        try:
            journal = Journal(self.journal_path, create=False)
            try:
                jobs = journal.jobs()
            finally:
                journal.close()
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._job_metrics(jobs)

    def _job_metrics(self, jobs: list[JobRow]) -> Iterator[Metric]:
        states = GaugeMetricFamily("montage_watch_jobs", "watch jobs by state", labels=["state"])
        for state in JOB_STATES:
            states.add_metric([state], sum(1 for j in jobs if j.state == state))
        yield states
        written = CounterMetricFamily(
            "montage_watch_outputs_written", "outputs the daemon put in place, over every job's life"
        )
        written.add_metric([], sum(j.writes for j in jobs))
        yield written
        failed = GaugeMetricFamily(
            "montage_watch_jobs_failed", "jobs whose latest run failed, by reason", labels=["reason"]
        )
        reasons: dict[str, int] = {}
        for job in jobs:
            if job.state == "failed":
                label = failure_reason(job.error)
                reasons[label] = reasons.get(label, 0) + 1
        for label, _ in FAILURE_REASONS:
            reasons.setdefault(label, 0)
        reasons.setdefault("other", 0)
        for label, count in sorted(reasons.items()):
            failed.add_metric([label], count)
        yield failed
        resolve = GaugeMetricFamily("montage_watch_resolve", "written jobs by Resolve state", labels=["state"])
        for state in RESOLVE_STATES:
            resolve.add_metric([state], sum(1 for j in jobs if j.resolve_state == state))
        yield resolve
        finished = [j for j in jobs if j.state in ("written", "failed") and j.total_seconds is not None]
        yield _histogram(
            "montage_watch_job_duration_seconds",
            "wall time of each job's latest run, by outcome",
            {s: [j.total_seconds for j in finished if j.state == s] for s in ("written", "failed")},
        )
        yield _histogram(
            "montage_watch_analysis_duration_seconds",
            "analysis time of each written job's latest run",
            {"written": [j.analysis_seconds for j in jobs if j.state == "written" and j.analysis_seconds]},
        )
        frames = seconds = 0.0
        for job in jobs:
            if job.state == "written" and job.analysis_seconds and job.output:
                counted = self._frames_of(Path(job.output))
                if counted:
                    frames += counted
                    seconds += job.analysis_seconds
        fps = GaugeMetricFamily(
            "montage_watch_analysis_fps", "video frames analyzed per second of analysis, over the written jobs"
        )
        fps.add_metric([], frames / seconds if seconds > 0 else 0.0)
        yield fps
        total_frames = GaugeMetricFamily(
            "montage_watch_analyzed_frames", "video frames in the written jobs' footage (their latest runs)"
        )
        total_frames.add_metric([], frames)
        yield total_frames

    def _frames_of(self, folder: Path) -> int:
        report = folder / "report.json"
        try:
            mtime = report.stat().st_mtime_ns
        except OSError:
            return 0
        cached = self._frames.get(report)
        if cached and cached[0] == mtime:
            return cached[1]
        try:
            clips = json.loads(report.read_text(encoding="utf-8")).get("clips") or []
            frames = sum(int(c.get("frames") or 0) for c in clips if isinstance(c, dict))
        except (OSError, ValueError, AttributeError, TypeError):
            frames = 0
        self._frames[report] = (mtime, frames)
        return frames


def _histogram(name: str, doc: str, samples: dict[str, list[float | None]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["outcome"])
    for outcome, values in samples.items():
        clean = [float(v) for v in values if v is not None]
        buckets = [(_le(b), float(sum(1 for v in clean if v <= b))) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", float(len(clean))))
        family.add_metric([outcome], buckets, sum(clean))
    return family


def _le(bound: float) -> str:
    return str(float(bound))


class CacheCollector(Collector):
    """The analysis cache's size on disk (``size()`` is whatever the dashboard measured last)."""

    def __init__(self, size) -> None:  # type: ignore[no-untyped-def]
        self._size = size

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        data = self._size()
        gauge = GaugeMetricFamily("montage_analysis_cache_bytes", "bytes in the analysis cache folder")
        gauge.add_metric([], float(data.get("bytes", 0)))
        yield gauge
        files = GaugeMetricFamily("montage_analysis_cache_files", "files in the analysis cache folder")
        files.add_metric([], float(data.get("files", 0)))
        yield files
