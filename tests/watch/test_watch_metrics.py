"""`watch --metrics-port`: the daemon's own /metrics, parsed with prometheus_client's text parser,
with counters that move as real jobs are written and fail (and keep counting across them)."""

from __future__ import annotations

import re
import shutil
import socket
import threading
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.watch.conftest import make_job, start_daemon, stop, wait_for, write_config


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200, resp.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def test_daemon_metrics_count_real_jobs(tiny_media: dict, tmp_path: Path, daemon_procs: list) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    config = write_config(tmp_path / "watch.toml", workers=1)
    proc = start_daemon(inbox, outbox, config, "--metrics-port", "0")
    daemon_procs.append(proc)
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    wait_for(lambda: any("metrics on" in line for line in log), 30, "the metrics line", proc)
    url = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", "".join(log))[1]  # type: ignore[index]
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as other:  # loopback only: nothing listens on the machine's other addresses
        other.settimeout(2)
        outside = socket.gethostbyname(socket.gethostname())
        if not outside.startswith("127."):
            assert other.connect_ex((outside, port)) != 0

    start = scrape(url)
    assert start[("montage_watch_outputs_written_total", ())] == 0
    assert start[("montage_watch_jobs_failed_total", (("reason", "no_music"),))] == 0
    assert start[("montage_watch_job_duration_seconds_count", (("outcome", "written"),))] == 0

    make_job(inbox, "good", tiny_media, [0, 1])
    silent = inbox / "silent"
    silent.mkdir()
    shutil.copy(tiny_media["clips"][2], silent / "clip2.mp4")  # no music: fails
    wait_for(
        lambda: (
            scrape(url)[("montage_watch_outputs_written_total", ())] == 1
            and scrape(url)[("montage_watch_jobs_failed_total", (("reason", "no_music"),))] == 1
        ),
        120,
        "one written and one failed job counted",
        proc,
    )
    first = scrape(url)
    assert first[("montage_watch_job_duration_seconds_count", (("outcome", "written"),))] == 1
    assert first[("montage_watch_job_duration_seconds_count", (("outcome", "failed"),))] == 1
    assert first[("montage_watch_job_duration_seconds_sum", (("outcome", "written"),))] > 0
    assert first[("montage_watch_analysis_duration_seconds_count", (("outcome", "written"),))] == 1
    assert first[("montage_watch_analyzed_frames_total", ())] == 100  # two 2-second clips at 25 fps
    assert (
        first[("montage_watch_analysis_fps", ())]
        == first[("montage_watch_analyzed_frames_total", ())] / (first[("montage_watch_analysis_seconds_total", ())])
    )
    assert first[("montage_watch_jobs_running", ())] == 0 and first[("montage_watch_queue_depth", ())] == 0

    # Another job is written: the written counter moves on, the failure stays counted (a true
    # counter, not the journal's current state).
    make_job(inbox, "later", tiny_media, [2, 3])
    wait_for(
        lambda: scrape(url)[("montage_watch_outputs_written_total", ())] == 2,
        120,
        "the second write",
        proc,
    )
    second = scrape(url)
    assert second[("montage_watch_jobs_failed_total", (("reason", "no_music"),))] == 1
    assert second[("montage_watch_job_duration_seconds_count", (("outcome", "written"),))] == 2
    assert second[("montage_watch_analyzed_frames_total", ())] == 200
    assert stop(proc) == 0
    reader.join(timeout=10)


def test_metrics_are_off_by_default_and_a_taken_port_is_one_line(tmp_path: Path, daemon_procs: list) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = write_config(tmp_path / "watch.toml")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start_daemon(inbox, tmp_path / "outbox", config, "--metrics-port", str(port), "--once")
        daemon_procs.append(proc)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and f"--metrics-port {port}: cannot serve on 127.0.0.1" in err
    proc = start_daemon(inbox, tmp_path / "outbox", config, "--once")
    daemon_procs.append(proc)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "metrics on" not in err
