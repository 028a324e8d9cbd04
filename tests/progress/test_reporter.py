"""montage_bridge.progress: the JSON line schema, throttling, ETA, the stage adapter and mode choice."""

from __future__ import annotations

import io

import pytest
import typer

from montage_bridge import progress as progress_module
from montage_bridge.progress import ProgressReporter, eta_seconds, resolve_mode
from tests.progress.checks import by_task, progress_lines


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_modes_bars_only_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    assert resolve_mode("auto", stream=io.StringIO()) == "off"
    assert resolve_mode("auto", stream=_Tty()) == "bar"
    assert resolve_mode("auto", as_json=True, stream=_Tty()) == "json"
    assert resolve_mode("off", as_json=True) == "off"
    assert resolve_mode("JSON") == "json"
    monkeypatch.setenv("TERM", "dumb")
    assert resolve_mode("auto", stream=_Tty()) == "off"
    with pytest.raises(typer.BadParameter, match="choose auto, bar, json, off"):
        resolve_mode("loud")


def test_json_lines_follow_a_task_to_its_end(monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    with ProgressReporter("render", "json", stream=stream) as bar:
        bar.start("render", "render", item="cut.mp4", unit="seconds")
        for second in range(1, 11):
            clock[0] += 0.5
            bar.update("render", done=second, total=10)
        bar.end("render")
    lines = progress_lines(stream.getvalue(), "render")
    assert lines[0]["state"] == "running" and lines[0]["total"] is None and lines[0]["eta_s"] is None
    # The total arrives with the first update; then one line per 0.5 s step (over the 0.25 s floor).
    assert [ln["done"] for ln in lines[1:-1]] == list(range(1, 11))
    third = lines[3]
    assert third["done"] == 3 and third["fraction"] == 0.3 and third["elapsed_s"] == 1.5
    assert third["eta_s"] == pytest.approx(3.5)  # 1.5 s for 3 of 10 seconds: 7 more at that speed
    assert lines[-1]["state"] == "done" and lines[-1]["fraction"] == 1.0 and lines[-1]["eta_s"] == 0


def test_fast_updates_are_thinned_but_changes_and_ends_always_go_out(monkeypatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    bar = ProgressReporter("proxies", "json", stream=stream)
    bar.start("a.mov", "proxy", item="a.mov", total=1000, unit="frames")
    for frame in range(1000):
        clock[0] += 0.001  # a second in all: a line at most every 0.25 s
        bar.update("a.mov", done=frame)
    bar.update("a.mov", message="almost")
    bar.end("a.mov", "failed", message="disk full")
    bar.end("a.mov")  # already ended: nothing more
    lines = progress_lines(stream.getvalue(), "proxies")
    assert 4 <= len(lines) <= 8
    assert lines[-2]["message"] == "almost"
    assert lines[-1]["state"] == "failed" and lines[-1]["message"] == "disk full" and lines[-1]["done"] == 999


def test_stage_callback_makes_one_task_per_phase() -> None:
    stream = io.StringIO()
    with ProgressReporter("auto", "json", stream=stream) as bar:
        report = bar.stages(lambda phase: "files" if phase == "analysis" else "steps")
        report("analysis: a.mov", 0, 2)
        report("analysis: b.mov", 1, 2)
        report("analysis: b.mov", 2, 2)
        report("planning", 0, 1)
        report("remote processing", 0, 1)
        report.finish()
    tasks = by_task(progress_lines(stream.getvalue(), "auto"))
    assert list(tasks) == ["analysis", "planning", "remote"]
    analysis = tasks["analysis"]
    assert analysis[0]["unit"] == "files" and analysis[0]["item"] == "a.mov"
    assert analysis[-1]["state"] == "done" and analysis[-1]["done"] == analysis[-1]["total"] == 2
    assert all(task[-1]["state"] == "done" for task in tasks.values())


def test_an_exception_ends_running_tasks_failed() -> None:
    stream = io.StringIO()
    with pytest.raises(RuntimeError), ProgressReporter("render", "json", stream=stream) as bar:
        bar.start("render", "render", total=4, unit="seconds")
        raise RuntimeError("ffmpeg died")
    assert progress_lines(stream.getvalue(), "render")[-1]["state"] == "failed"


def test_off_writes_nothing() -> None:
    stream = io.StringIO()
    with ProgressReporter("render", "off", stream=stream) as bar:
        bar.start("render", "render", total=4)
        bar.update("render", done=2)
        bar.end("render")
    assert stream.getvalue() == ""


def test_eta() -> None:
    assert eta_seconds(0, 10, 5) is None
    assert eta_seconds(5, None, 5) is None
    assert eta_seconds(5, 10, 5) == 5
    assert eta_seconds(10, 10, 5) == 0
