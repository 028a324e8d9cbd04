"""Prometheus /metrics of the GPU worker and of the watch daemon (via the dashboard), parsed with
prometheus_client's own text parser; the counters move with real jobs."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import requests

pytest.importorskip("prometheus_client", reason="prometheus-client comes with the worker extra")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from gpu_remote.models import JobSpec  # noqa: E402
from tests.conftest import run_cli  # noqa: E402
from tests.dashboard.servers import running_dashboard  # noqa: E402
from tests.gpu_remote.conftest import TOKEN, start_worker  # noqa: E402

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def scrape(url: str, headers: dict | None = None) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from a /metrics page."""
    resp = requests.get(url, headers=headers or {}, timeout=10)
    assert resp.status_code == 200, resp.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def _wait(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_worker_metrics_move_with_real_jobs_and_the_dashboard_cancels(tmp_path: Path, watched) -> None:
    worker = start_worker(tmp_path / "worker", "--slots", "1")
    try:
        metrics = f"{worker.url}/metrics"
        assert requests.get(metrics, timeout=5).status_code == 401  # the token, like every route
        before = scrape(metrics, AUTH)
        assert before[("montage_worker_jobs_created_total", ())] == 0
        client = worker.client(tmp_path / "state")
        blob = tmp_path / "blob.bin"
        blob.write_bytes(b"x" * 123_457)
        client.upload(blob)
        spec = JobSpec(op="noop", params={"duration_s": 0.0, "steps": 1, "tag": "quick"})
        client.put_job("metrics-job-0001", spec)
        _wait(lambda: client.job("metrics-job-0001").state.value == "succeeded")
        after = scrape(metrics, AUTH)
        assert after[("montage_worker_upload_bytes_total", ())] == 123_457
        assert after[("montage_worker_jobs_created_total", ())] == 1
        assert after[("montage_worker_jobs", (("op", "noop"), ("state", "succeeded")))] == 1
        assert after[("montage_worker_job_duration_seconds_count", (("op", "noop"), ("state", "succeeded")))] == 1
        assert after[("montage_worker_blob_bytes", ())] >= 123_457
        # A long job: queued depth, then live progress and cancel from the dashboard page.
        long = JobSpec(op="noop", params={"duration_s": 30.0, "steps": 60, "tag": "long"})
        client.put_job("metrics-long-0001", long)
        client.put_job("metrics-wait-0001", JobSpec(op="noop", params={"duration_s": 30.0, "steps": 60, "tag": "w"}))
        _wait(lambda: client.job("metrics-long-0001").state.value == "running")
        assert scrape(metrics, AUTH)[("montage_worker_queue_depth", ())] == 1
        from dashboard.app import DashboardConfig

        config = DashboardConfig(worker_url=worker.url, worker_token=TOKEN, cache_dir=tmp_path / "cache")
        with running_dashboard(config) as url:
            page = watched.page
            page.goto(url + "/")
            row = "#worker-jobs tr[data-job='metrics-long-0001']"
            page.wait_for_selector(row + "[data-state='running']", timeout=10_000)
            _wait(lambda: page.eval_on_selector(row + " progress", "p => p.value") > 0, 10)  # live progress
            page.locator(row + " button[data-action='cancel']").click()
            page.wait_for_selector(row + "[data-state='canceled']", timeout=10_000)
            page.locator("#worker-jobs tr[data-job='metrics-wait-0001'] button[data-action='cancel']").click()
            page.wait_for_selector(
                "#worker-jobs tr[data-job='metrics-wait-0001'][data-state='canceled']", timeout=10_000
            )
            assert TOKEN not in page.content()
            page.screenshot(path=str(tmp_path / "dashboard-worker-screenshot.png"), full_page=True)
            assert watched.errors == []
        final = scrape(metrics, AUTH)
        assert final[("montage_worker_jobs", (("op", "noop"), ("state", "canceled")))] == 2
        assert final[("montage_worker_jobs_created_total", ())] == 3
    finally:
        worker.stop()


def test_daemon_metrics_move_with_real_watch_jobs(tiny: dict, tmp_path: Path) -> None:
    from dashboard.app import DashboardConfig

    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    good, silent = inbox / "good", inbox / "silent"
    good.mkdir(parents=True)
    silent.mkdir()
    for i in (0, 1):
        shutil.copy(tiny["clips"][i], good / f"clip{i}.mp4")
        shutil.copy(tiny["clips"][i], silent / f"clip{i}.mp4")
    shutil.copy(tiny["music"], good / "music.wav")
    config = tmp_path / "watch.toml"
    config.write_text('quiet_seconds = 0.2\nprobe_retry_seconds = 0.4\nformats = ["otio", "edl"]\n')
    proc = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once")
    assert proc.returncode == 1, proc.stderr  # one job failed
    assert (outbox / "good" / "edit.html").is_file() and (outbox / "good" / "edit.png").is_file()
    dash = DashboardConfig(journal=outbox / ".montage-watch.sqlite", cache_dir=tmp_path / "cache")
    with running_dashboard(dash) as url:
        first = scrape(url + "/metrics")
        assert first[("montage_watch_journal_up", ())] == 1
        assert first[("montage_watch_jobs", (("state", "written"),))] == 1
        assert first[("montage_watch_jobs", (("state", "failed"),))] == 1
        assert first[("montage_watch_jobs_failed", (("reason", "no_music"),))] == 1
        assert first[("montage_watch_outputs_written_total", ())] == 1
        assert first[("montage_watch_job_duration_seconds_count", (("outcome", "written"),))] == 1
        assert first[("montage_watch_analysis_fps", ())] > 0
        # The failed job gets its music: the next run writes it, and the counters move.
        shutil.copy(tiny["music"], silent / "music.wav")
        proc = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once")
        assert proc.returncode == 0, proc.stderr
        second = scrape(url + "/metrics")
        assert second[("montage_watch_jobs", (("state", "written"),))] == 2
        assert second[("montage_watch_jobs", (("state", "failed"),))] == 0
        assert second[("montage_watch_outputs_written_total", ())] == 2
        assert second[("montage_watch_job_duration_seconds_count", (("outcome", "written"),))] == 2
        assert second[("montage_analysis_cache_files", ())] >= 0


def test_alert_rules_and_grafana_name_only_metrics_we_export(tmp_path: Path) -> None:
    import json
    import re
    import types

    import yaml
    from prometheus_client import CollectorRegistry, generate_latest

    from dashboard.metrics import CacheCollector, WatchCollector
    from gpu_remote.db import Database
    from gpu_remote.metrics import WorkerCollector, _Counters
    from montage_bridge.watch.journal import Journal

    Journal(tmp_path / "j.sqlite").close()
    registry = CollectorRegistry()
    registry.register(WatchCollector(tmp_path / "j.sqlite"))
    registry.register(CacheCollector(lambda: {"bytes": 0, "files": 0}))
    worker = types.SimpleNamespace(db=Database(tmp_path / "jobs.sqlite3"))
    registry.register(WorkerCollector(worker, _Counters()))
    families = list(text_string_to_metric_families(generate_latest(registry).decode()))
    exported = {f.name + suffix for f in families for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    folder = Path(__file__).resolve().parents[2] / "scripts" / "monitoring"
    rules = yaml.safe_load((folder / "montage-bridge.rules.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    board = json.loads((folder / "grafana-dashboard.json").read_text())
    exprs += [t["expr"] for p in board["panels"] for t in p["targets"]]
    named = {m for e in exprs for m in re.findall(r"\bmontage_[a-z_]+", e)}
    assert named and named <= exported, named - exported
