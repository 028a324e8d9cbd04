"""`montage-bridge render` progress: --json gives the report on stdout and progress lines on stderr."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.progress.checks import assert_no_control_characters, progress_lines
from tests.render.test_render_cli import short_timeline, write_otio


def test_render_json_progress_reaches_the_timelines_length(coded, tmp_path) -> None:
    source = write_otio(short_timeline(coded), tmp_path / "cut.otio")
    proc = run_cli("render", str(source), "-o", str(tmp_path / "cut.mp4"), "--json", "--no-check")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)["result"]  # stdout holds the report alone
    lines = progress_lines(proc.stderr, "render")
    assert {line["task"] for line in lines} == {"render"}
    assert lines[0]["item"] == "cut.mp4" and lines[0]["unit"] == "seconds"
    assert lines[-1]["state"] == "done" and lines[-1]["eta_s"] == 0
    assert abs(lines[-1]["done"] - report["seconds"]) < 0.05  # 48 frames at 24 fps
    fractions = [line["fraction"] for line in lines if line["fraction"] is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert_no_control_characters(proc.stdout, proc.stderr)


def test_render_on_a_pipe_has_no_bar_and_no_control_characters(coded, tmp_path) -> None:
    source = write_otio(short_timeline(coded, 24), tmp_path / "cut.otio")
    proc = run_cli("render", str(source), "-o", str(tmp_path / "cut.mp4"), "--no-check", "--loudness", "off")
    assert proc.returncode == 0, proc.stderr
    assert "Rendered" in proc.stdout and "schema" not in proc.stderr
    assert_no_control_characters(proc.stdout, proc.stderr)
