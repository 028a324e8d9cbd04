"""edit.html and edit.png: written by `auto` and `plan` beside the timeline, opened by `show`, and
checked in a real headless browser (no console errors, no network, untrusted text shown as text)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from dashboard.edit_html import render_html
from dashboard.edit_view import build_view
from dashboard.picture import write_edit_picture
from planner.models import SetAsideShot
from tests.conftest import run_cli

HOSTILE = "<script>alert(1)</script>"
HOSTILE_REASON = '"><img src=x onerror=alert(2)> on the downbeat & more'
HOSTILE_WARNING = "<b>bold</b> warning"


def test_auto_writes_the_picture_beside_the_timeline(auto_result) -> None:
    out = auto_result.files[0].parent
    assert auto_result.picture == [out / "edit.html", out / "edit.png"]
    assert not [w for w in auto_result.warnings if "picture" in w]
    png = cv2.imdecode(np.frombuffer((out / "edit.png").read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert png is not None and png.shape[1] == 1600 and png.shape[0] > 200
    # Not a blank canvas: thumbnails and the music make many distinct colours.
    assert len(np.unique(png.reshape(-1, 3), axis=0)) > 200
    page = (out / "edit.html").read_text(encoding="utf-8")
    for path in auto_result.files:
        if path.suffix in (".otio", ".fcpxml", ".xml", ".edl"):
            assert path.name in page


def _hostile_copy(auto_result):  # type: ignore[no-untyped-def]
    """The run's plan and analysis with the first used clip renamed to a script tag, HTML in a reason,
    a warning and a set-aside shot."""
    plan, analysis = auto_result.plan, auto_result.analysis
    victim = plan.cuts[0].clip_id
    clips = []
    for clip in analysis.clips:
        if clip.id == victim:
            media = clip.media.model_copy(update={"name": HOSTILE})
            clip = clip.model_copy(update={"id": HOSTILE, "media": media})
        clips.append(clip)
    analysis = analysis.model_copy(update={"clips": clips})
    cuts = [
        c.model_copy(update={"clip_id": HOSTILE, "reason": HOSTILE_REASON}) if c.clip_id == victim else c
        for c in plan.cuts
    ]
    unused = next(c for c in analysis.clips if c.id not in {cut.clip_id for cut in cuts})
    aside = [SetAsideShot(clip_id=unused.id, shot=0, reason=f"blurry {HOSTILE}")]
    plan = plan.model_copy(update={"cuts": cuts, "set_aside": aside, "warnings": [HOSTILE_WARNING]})
    return plan, analysis, unused


def test_edit_page_in_a_real_browser(auto_result, watched, tmp_path: Path) -> None:
    plan, analysis, unused = _hostile_copy(auto_result)
    html_path, png_path = write_edit_picture(
        tmp_path, plan, analysis, timeline=auto_result.timeline, files=auto_result.files, warnings=plan.warnings
    )
    page = watched.page
    page.goto(html_path.as_uri())
    page.wait_for_load_state("load")

    video_cuts = [c for c in plan.cuts if c.kind == "video"]
    assert page.locator("#edit-svg g.track[data-track='V1'] g.cut").count() == len(video_cuts)
    # Every cut has its thumbnail, and every picture on the page decoded.
    assert page.locator("#edit-svg g.cut image").count() == len(video_cuts)
    broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
    assert broken == 0
    # Untrusted text is shown as text, never run or parsed.
    assert watched.dialogs == []
    assert HOSTILE in page.inner_text("#cuts") and HOSTILE_REASON in page.inner_text("#cuts")
    assert HOSTILE_WARNING in page.inner_text("#warnings")
    assert page.locator("#warnings b").count() == 0 and page.locator("img[src='x']").count() == 0
    assert page.evaluate("document.scripts.length") == 1  # only the page's own
    # Set aside and unused clips, with why.
    left = page.inner_text("#left-out")
    assert f"blurry {HOSTILE}" in left and unused.media.name in left
    # The music: beats, downbeats and the energy curve inside the timeline.
    assert page.locator("#music line.beat, #music line.downbeat").count() >= 4
    assert page.locator("#music line.downbeat").count() >= 1
    assert page.locator("#music polygon.energy").count() == 1
    # The loss report of each written format.
    formats = page.eval_on_selector_all("#losses .format", "els => els.map(e => e.dataset.format)")
    assert sorted(formats) == ["edl", "fcpxml", "otio", "xml"]
    # Hovering a cut says why it was chosen.
    page.hover(f"#edit-svg g.cut[data-clip='{HOSTILE}']")
    tip = page.locator("#tip")
    assert tip.is_visible() and HOSTILE_REASON in tip.inner_text()
    page.screenshot(path=str(tmp_path / "edit-page-screenshot.png"), full_page=True)
    assert (tmp_path / "edit-page-screenshot.png").stat().st_size > 10_000
    # Self-contained: nothing but the file itself and data: URIs was requested.
    assert [u for u in watched.requests if not u.startswith(("file://", "data:"))] == []
    assert watched.errors == []
    assert png_path.is_file()


def test_a_plan_without_music_files_or_set_aside_list(auto_result) -> None:
    plan = auto_result.plan.model_copy(update={"music": None, "set_aside": [], "markers": []})
    analysis = auto_result.analysis.model_copy(update={"music": None})
    view = build_view(plan, analysis)
    page = render_html(view)
    assert view.music is None and view.losses == []
    assert "No timeline files were written" in page
    unused = [c for c in analysis.clips if c.id not in {cut.clip_id for cut in plan.cuts}]
    assert len([r for r in view.left_out if r.shot is None]) == len(unused)
    assert all("no reason" in r.reason for r in view.left_out)


def test_plan_command_draws_beside_the_plan(auto_result, tmp_path: Path) -> None:
    analysis_file = tmp_path / "analysis.json"
    analysis_file.write_text(auto_result.analysis.model_dump_json())
    target = tmp_path / "plans" / "cut.plan.json"
    target.parent.mkdir()
    proc = run_cli("plan", str(analysis_file), "-o", str(target), "--duration", "3")
    assert proc.returncode == 0, proc.stderr
    assert (target.parent / "edit.html").is_file() and (target.parent / "edit.png").is_file()
    plan = json.loads(target.read_text())
    page = (target.parent / "edit.html").read_text()
    assert page.count('class="cut"') == sum(1 for c in plan["cuts"] if c["kind"] == "video")


def test_show_prints_or_refuses(auto_result, tmp_path: Path) -> None:
    out = auto_result.files[0].parent
    for target in (out, auto_result.files[0]):
        proc = run_cli("show", str(target), "--no-open")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == str((out / "edit.html").resolve())
    proc = run_cli("show", str(tmp_path), "--no-open")
    assert proc.returncode == 2 and "no edit.html here" in proc.stderr
    proc = run_cli("show", str(tmp_path / "missing"), "--no-open")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_png_draws_the_music(auto_result) -> None:
    from dashboard.edit_png import render_png

    with_music = cv2.imdecode(
        np.frombuffer(render_png(build_view(auto_result.plan, auto_result.analysis)), np.uint8), 1
    )
    plan = auto_result.plan.model_copy(update={"music": None})
    without = cv2.imdecode(
        np.frombuffer(render_png(build_view(plan, auto_result.analysis.model_copy(update={"music": None}))), np.uint8),
        1,
    )
    assert with_music.shape[0] > without.shape[0]  # the music row
