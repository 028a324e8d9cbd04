"""The watch daemon's own Prometheus ``/metrics`` (``watch --metrics-port N``; off by default, 127.0.0.1).

Counted as the daemon reaps each job, so these are true counters since the daemon started (a
restart starts them at 0, which Prometheus' ``rate()``/``increase()`` handle); the dashboard's
``/metrics`` reads the journal instead and shows the jobs as they stand. Names follow the
dashboard's (dashboard/metrics.py) where the meaning is the same, with ``_total`` for counters:

- ``montage_watch_outputs_written_total``: jobs written (outputs put in place);
- ``montage_watch_jobs_failed_total{reason}``: failed runs, by the dashboard's reason labels;
- ``montage_watch_jobs_paused_total``: runs a full disk stopped (they run again when space is back);
- ``montage_watch_job_duration_seconds{outcome}``: wall time of each run (histogram, written/failed);
- ``montage_watch_analysis_duration_seconds{outcome}``: analysis time of each written run (histogram);
- ``montage_watch_analyzed_frames_total`` and ``montage_watch_analysis_seconds_total``: video frames
  analyzed and the analysis seconds they took (``rate(frames) / rate(seconds)`` is fps over a window);
- ``montage_watch_analysis_fps``: frames per analysis second over every written run since start;
- ``montage_watch_jobs_running``, ``montage_watch_queue_depth``: jobs running and waiting now.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from dashboard.metrics import DURATION_BUCKETS, FAILURE_REASONS, failure_reason

DEFAULT_HOST = "127.0.0.1"


def frames_in_report(folder: Path) -> int:
    """Video frames of the clips a written job's ``report.json`` lists (0 when it cannot be read)."""
    try:
        clips = json.loads((folder / "report.json").read_text(encoding="utf-8")).get("clips") or []
        return sum(int(c.get("frames") or 0) for c in clips if isinstance(c, dict))
    except (OSError, ValueError, AttributeError, TypeError):
        return 0


class DaemonMetrics:
    """The daemon's metrics in their own registry; :meth:`observe` takes each reaped job outcome."""

    def __init__(
        self,
        running: Callable[[], int] = lambda: 0,
        queued: Callable[[], int] = lambda: 0,
        registry: Optional[CollectorRegistry] = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.written = Counter("montage_watch_outputs_written", "jobs the daemon wrote since it started", registry=r)
        self.failed = Counter(
            "montage_watch_jobs_failed",
            "job runs that failed since the daemon started, by reason",
            ["reason"],
            registry=r,
        )
        self.paused = Counter("montage_watch_jobs_paused", "job runs a full disk stopped (they run again)", registry=r)
        self.duration = Histogram(
            "montage_watch_job_duration_seconds",
            "wall time of each job run, by outcome",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.analysis = Histogram(
            "montage_watch_analysis_duration_seconds",
            "analysis time of each written job run",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.frames = Counter("montage_watch_analyzed_frames", "video frames in the written jobs' footage", registry=r)
        self.analysis_seconds = Counter(
            "montage_watch_analysis_seconds", "analysis seconds of the written jobs", registry=r
        )
        self.fps = Gauge(
            "montage_watch_analysis_fps", "video frames analyzed per analysis second, since start", registry=r
        )
        Gauge("montage_watch_jobs_running", "jobs running now", registry=r).set_function(running)
        Gauge("montage_watch_queue_depth", "jobs waiting for a free worker", registry=r).set_function(queued)
        for label, _ in FAILURE_REASONS:  # every reason is present from the start, at 0
            self.failed.labels(reason=label)
        self.failed.labels(reason="other")
        for outcome in ("written", "failed"):
            self.duration.labels(outcome=outcome)
        self.analysis.labels(outcome="written")
        self._lock = threading.Lock()
        self._frames = 0
        self._seconds = 0.0

    def observe(self, outcome: Any) -> None:
        """Count one reaped :class:`~montage_bridge.watch.runner.JobOutcome` (Resolve-only retries are not runs)."""
        if getattr(outcome, "resolve_only", False):
            return
        if outcome.state == "paused":
            self.paused.inc()
            return
        if outcome.state == "written":
            self.written.inc()
            self.duration.labels(outcome="written").observe(outcome.total_seconds or 0.0)
            seconds = outcome.analysis_seconds or 0.0
            if seconds > 0:
                self.analysis.labels(outcome="written").observe(seconds)
                frames = frames_in_report(Path(outcome.output)) if outcome.output else 0
                if frames:
                    with self._lock:
                        self._frames += frames
                        self._seconds += seconds
                        self.fps.set(self._frames / self._seconds)
                    self.frames.inc(frames)
                    self.analysis_seconds.inc(seconds)
            return
        self.failed.labels(reason=failure_reason(outcome.error)).inc()
        self.duration.labels(outcome="failed").observe(outcome.total_seconds or 0.0)


class MetricsServer:
    """``/metrics`` of ``metrics`` over HTTP on ``host:port`` (port 0: any free one; see ``port``)."""

    def __init__(self, metrics: DaemonMetrics, port: int, host: str = DEFAULT_HOST) -> None:
        self._httpd, self._thread = start_http_server(port, addr=host, registry=metrics.registry)
        self.host = host
        self.port = int(self._httpd.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def serve_daemon_metrics(daemon: Any, port: int, host: str = DEFAULT_HOST) -> MetricsServer:
    """Count ``daemon``'s job outcomes (its ``on_outcome`` hook) and serve them; ``close()`` when it stops."""
    metrics = DaemonMetrics(
        running=lambda: len(getattr(daemon, "_running", ())),
        queued=lambda: len(getattr(daemon, "_queue", ())),
    )
    daemon.on_outcome = metrics.observe
    return MetricsServer(metrics, port, host)


__all__ = ["DEFAULT_HOST", "DaemonMetrics", "MetricsServer", "frames_in_report", "serve_daemon_metrics"]
