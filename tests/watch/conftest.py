"""Fixtures for the watch-daemon tests: tiny media made once per session, and a daemon runner."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
from make_tiny_media import make_tiny_media  # noqa: E402


@pytest.fixture(scope="session")
def tiny_media(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """4 tiny clips (64x36, 2 s, 25 fps, different patterns) and a 4-second 120 BPM music.wav."""
    return make_tiny_media(tmp_path_factory.mktemp("tiny-media"), clips=4)


def write_config(path: Path, **values: object) -> Path:
    """A watch config with short test timings; ``values`` override or add top-level keys."""
    base: dict[str, object] = {
        "quiet_seconds": 0.3,
        "probe_retry_seconds": 0.6,
        # Long: new files must be found through filesystem events, not by the periodic rescan.
        "rescan_seconds": 120.0,
        "workers": 2,
        "formats": ["otio", "xml", "edl"],
        "shutdown_grace_seconds": 20.0,
    }
    base.update(values)
    lines = []
    for key, value in base.items():
        if isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        elif isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v).replace(chr(39), chr(34)) for v in value)}]")
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        else:
            lines.append(f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n")
    return path


def make_job(inbox: Path, name: str, media: dict, clips: list[int]) -> Path:
    """A job folder with the chosen clips and the music."""
    folder = inbox / name
    folder.mkdir(parents=True)
    for i in clips:
        shutil.copy(media["clips"][i], folder / f"clip{i}.mp4")
    shutil.copy(media["music"], folder / "music.wav")
    return folder


def start_daemon(inbox: Path, outbox: Path, config: Path, *extra: str) -> subprocess.Popen[str]:
    """`python -m montage_bridge watch INBOX --out OUTBOX --config FILE` as a user starts it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "montage_bridge", "watch", str(inbox), "--out", str(outbox), "--config", str(config)]
        + list(extra),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def jobs(outbox: Path) -> dict[str, dict]:
    """The journal's job rows by name (read-only; WAL lets us read while the daemon writes)."""
    path = outbox / ".montage-watch.sqlite"
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        db.row_factory = sqlite3.Row
        return {r["name"]: dict(r) for r in db.execute("SELECT * FROM jobs")}
    except sqlite3.OperationalError:  # schema not created yet
        return {}
    finally:
        db.close()


def files(outbox: Path) -> dict[str, dict]:
    """The journal's file rows by inbox-relative path."""
    path = outbox / ".montage-watch.sqlite"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        db.row_factory = sqlite3.Row
        return {r["path"]: dict(r) for r in db.execute("SELECT * FROM files")}
    finally:
        db.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    """Poll ``predicate`` every 20 ms; fail with ``what`` (and the daemon's output) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"daemon exited ({proc.returncode}) while waiting for {what}\n{out}\n{err}")
        time.sleep(0.02)
    detail = ""
    if proc is not None:
        stop(proc)
        out, err = proc.communicate()
        detail = f"\nstdout:\n{out}\nstderr:\n{err}"
    pytest.fail(f"timed out after {timeout} s waiting for {what}{detail}")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    """Send ``sig`` and wait for the exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"daemon did not exit within {timeout} s of signal {sig}")
        raise


@pytest.fixture
def daemon_procs() -> Iterator[list[subprocess.Popen]]:
    """Daemons a test starts; any still running at the end are killed (by their own pid)."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
