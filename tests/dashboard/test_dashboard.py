"""The dashboard in a real headless browser: the journal's written, failed and running jobs, live
updates when a job changes, retry, links to each edit; and who may see and act on it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

from dashboard.app import COOKIE, DashboardConfig, create_app
from montage_bridge.watch.journal import Journal
from tests.conftest import run_cli
from tests.dashboard.servers import running_dashboard

HOSTILE_JOB = "<img src=x onerror=alert(1)>"
HOSTILE_ERROR = "<script>alert(2)</script> no music: put one audio file in the job folder"
ACTION = {"X-Montage-Dashboard": "1"}


@pytest.fixture
def outbox(tmp_path: Path, auto_result) -> Path:
    """A journal with a written job (its output folder holds a real edit), a failed and a running one."""
    box = tmp_path / "outbox"
    box.mkdir()
    written = box / "written-job"
    shutil.copytree(auto_result.files[0].parent, written)
    (written / "report.json").write_text(json.dumps({"job": "written-job", "clips": [{"frames": 50}]}))
    journal = Journal(box / ".montage-watch.sqlite")
    journal.start_job("written-job", "fp1")
    journal.finish_written("written-job", "fp1", str(written), analysis_seconds=1.5, total_seconds=3.0)
    journal.start_job(HOSTILE_JOB, "fp2")
    journal.finish_failed(HOSTILE_JOB, "fp2", HOSTILE_ERROR, total_seconds=0.4)
    journal.start_job("running-job", "fp3")
    journal.close()
    return box


def _config(outbox: Path, **kwargs) -> DashboardConfig:
    return DashboardConfig(journal=outbox / ".montage-watch.sqlite", cache_dir=outbox.parent / "no-cache", **kwargs)


def test_jobs_show_and_update_live_in_a_real_browser(outbox: Path, watched, tmp_path: Path) -> None:
    with running_dashboard(_config(outbox)) as url:
        page = watched.page
        page.goto(url + "/")
        page.wait_for_selector("#live.on")
        rows = page.locator("#watch-jobs tbody tr")
        rows.first.wait_for()
        states = dict(
            page.eval_on_selector_all("#watch-jobs tbody tr", "rs => rs.map(r => [r.dataset.job, r.dataset.state])")
        )
        assert states == {"written-job": "written", HOSTILE_JOB: "failed", "running-job": "analyzing"}
        assert HOSTILE_JOB in page.inner_text("#watch-jobs") and HOSTILE_ERROR in page.inner_text("#watch-jobs")
        assert page.locator("img[src='x']").count() == 0 and watched.dialogs == []
        # The written job links to its picture, served sandboxed.
        link = page.locator("tr[data-job='written-job'] a", has_text="picture")
        href = link.get_attribute("href")
        assert href == "/jobs/written-job/files/edit.html"
        served = requests.get(url + href, timeout=5)
        assert served.status_code == 200 and "sandbox" in served.headers["content-security-policy"]
        assert "<svg" in served.text
        # Live: the daemon finishes the running job; the row changes without a reload.
        journal = Journal(outbox / ".montage-watch.sqlite")
        journal.set_state("running-job", "planned")
        page.wait_for_selector("tr[data-job='running-job'][data-state='planned']", timeout=5000)
        journal.finish_written("running-job", "fp3", str(outbox / "running-job"), analysis_seconds=1, total_seconds=2)
        page.wait_for_selector("tr[data-job='running-job'][data-state='written']", timeout=5000)
        journal.close()
        # Retry the failed job from the page: the journal forgets the failure, the row follows.
        page.locator("tr[data-state='failed'] button[data-action='retry']").click()
        page.wait_for_selector("#watch-jobs tr[data-state='seen']", timeout=5000)
        journal = Journal(outbox / ".montage-watch.sqlite")
        assert journal.job(HOSTILE_JOB).state == "seen"
        journal.close()
        assert "no-cache" in page.inner_text("#cache-note")
        page.screenshot(path=str(tmp_path / "dashboard-screenshot.png"), full_page=True)
        assert watched.errors == [] and watched.dialogs == []
        assert all(u.startswith(url) or u.startswith("data:") for u in watched.requests), watched.requests


def test_loopback_only_without_a_token(outbox: Path) -> None:
    with running_dashboard(_config(outbox)) as url:
        assert requests.get(url + "/api/state", timeout=5).status_code == 200
        # DNS rebinding: a page on evil.example that resolves to 127.0.0.1.
        assert requests.get(url + "/api/state", headers={"Host": "evil.example"}, timeout=5).status_code == 403
        retry = f"{url}/api/watch/jobs/running-job/retry"
        assert requests.post(retry, timeout=5).status_code == 403  # no action header: a cross-site form
        assert requests.post(retry, headers={**ACTION, "Origin": "http://evil.example"}, timeout=5).status_code == 403
        assert requests.post(retry, headers=ACTION, timeout=5).status_code == 200
        for path in (
            "/jobs/written-job/files/..%2F.montage-watch.sqlite",
            "/jobs/..%2Foutbox/files/x",
            "/jobs/x/files/.hidden",
        ):
            assert requests.get(url + path, timeout=5).status_code == 404, path
        xml = requests.get(
            url + "/jobs/written-job/files/" + next(p.name for p in (outbox / "written-job").glob("*.xml"))
        )
        assert (
            xml.headers["content-type"].startswith("text/plain") and "sandbox" in xml.headers["content-security-policy"]
        )
    # A client that is not on this machine is refused (TestClient's peer is "testclient").
    assert TestClient(create_app(_config(outbox))).get("/").status_code == 403


def test_token_mode_never_sends_a_secret_to_the_page(outbox: Path) -> None:
    secret, worker_secret = "dash-secret-7c1e", "worker-secret-99ab"
    config = _config(outbox, token=secret, worker_url="http://user:pw-in-url@127.0.0.1:9/", worker_token=worker_secret)
    client = TestClient(create_app(config))
    assert client.get("/").status_code == 401
    assert client.get("/?token=wrong").status_code == 401
    login = client.get(f"/?token={secret}", follow_redirects=False)
    assert login.status_code == 303 and secret not in login.headers["set-cookie"]
    assert COOKIE in client.cookies
    page, state = client.get("/"), client.get("/api/state")
    assert page.status_code == state.status_code == 200
    for text in (page.text, state.text):
        assert secret not in text and worker_secret not in text and "pw-in-url" not in text
    assert state.json()["worker"]["error"].startswith("unreachable")
    bearer = TestClient(create_app(config))
    assert bearer.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_dashboard_command_refuses_beyond_loopback_without_a_token(outbox: Path) -> None:
    proc = run_cli("dashboard", "--outbox", str(outbox), "--host", "0.0.0.0", "--no-open")
    assert proc.returncode == 2 and "--token" in proc.stderr
    proc = run_cli("dashboard", "--outbox", str(outbox / "nothing-here"), "--no-open")
    assert proc.returncode == 2 and "no watch journal" in proc.stderr


def test_running_job_gets_an_eta_from_the_finished_ones(outbox: Path) -> None:
    from dashboard.app import State

    time.sleep(0.05)
    jobs = {j["name"]: j for j in State(_config(outbox)).watch()["jobs"]}
    running = jobs["running-job"]
    assert running["running"] and running["elapsed"] > 0 and 0 <= running["eta_s"] <= 3.0
    assert jobs["written-job"]["links"]["picture"] == "/jobs/written-job/files/edit.html"
