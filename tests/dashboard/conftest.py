"""Fixtures for the dashboard and edit-picture tests: one real `auto` run on tiny media, and a real
headless browser (Playwright driving the system chromium; skipped with a reason when absent)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
from make_tiny_media import make_tiny_media  # noqa: E402


def chromium_path() -> str | None:
    """``$MONTAGE_CHROMIUM``, else Debian's chromium (``apt-get install chromium``)."""
    for candidate in (os.environ.get("MONTAGE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    for name in ("chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


# Package scope, not session: Playwright's sync API keeps an asyncio loop running on the main thread
# while it is open, and later packages' tests that call asyncio.run() would fail ("cannot be called
# from a running event loop") if the browser outlived this package.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[test]' (it drives the system chromium)")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium: apt-get install chromium (or set MONTAGE_CHROMIUM to a Chromium binary)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


class WatchedPage:
    """A fresh page that records console errors, uncaught exceptions, dialogs and every request."""

    def __init__(self, browser: object) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else 0)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("request", lambda r: self.requests.append(r.url))

        def dialog(d) -> None:  # type: ignore[no-untyped-def]
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: object) -> Iterator[WatchedPage]:
    page = WatchedPage(browser)
    try:
        yield page
    finally:
        page.close()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """4 tiny clips (64x36, 2 s) and a 4-second 120 BPM music.wav."""
    return make_tiny_media(tmp_path_factory.mktemp("dash-media"), clips=4)


@pytest.fixture(scope="session")
def auto_result(tiny: dict, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One real `auto` run (analysis, plan, all four formats, the picture), in-process."""
    from montage_bridge.pipeline import run_auto

    out = tmp_path_factory.mktemp("dash-auto") / "out"
    footage = Path(tiny["clips"][0]).parent
    return run_auto(footage, Path(tiny["music"]), out, save_plan=True)
