"""`montage-bridge auto --progress json`: a task per phase a user waits on, each ending done, for scripts."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from tests.progress.checks import assert_no_control_characters, by_task, progress_lines


def test_auto_json_progress_has_every_phase_in_order(sample_media: Path, tmp_path: Path) -> None:
    footage = sample_media / "footage"
    proc = run_cli(
        "auto",
        str(footage),
        "--music",
        str(sample_media / "music.wav"),
        "--duration",
        "8",
        "--formats",
        "otio",
        "-o",
        str(tmp_path / "out"),
        "--progress",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    tasks = by_task(progress_lines(proc.stderr, "auto"))
    assert list(tasks) == ["analysis", "beats", "planning", "writing"]
    analysis = tasks["analysis"]
    clips = len([p for p in footage.iterdir() if p.is_file()])
    assert analysis[0]["unit"] == "files" and analysis[-1]["total"] == clips
    assert analysis[-1]["state"] == "done" and analysis[-1]["done"] == clips
    assert {line["item"] for line in analysis} - {None} <= {p.name for p in footage.iterdir()}
    assert all(lines[-1]["state"] == "done" for lines in tasks.values())
    assert "cuts on beat" in proc.stdout  # the summary still goes to stdout
    assert_no_control_characters(proc.stdout, proc.stderr)
