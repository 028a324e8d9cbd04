"""Checks shared by the progress tests: parse ``--progress json`` lines, find terminal control codes."""

from __future__ import annotations

import json
import re

from montage_bridge.progress import ENDED, SCHEMA

KEYS = {
    "schema",
    "command",
    "task",
    "phase",
    "item",
    "state",
    "done",
    "total",
    "unit",
    "fraction",
    "elapsed_s",
    "eta_s",
    "message",
    "time",
}
# ESC (colours, cursor moves), carriage return (bar redraws), and the other C0 controls but tab/newline.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def progress_lines(stderr: str, command: str) -> list[dict]:
    """Every stderr line that is a progress object, each checked against the documented schema."""
    lines = []
    for raw in stderr.splitlines():
        if not raw.startswith("{"):
            continue
        line = json.loads(raw)
        assert set(line) == KEYS, raw
        assert line["schema"] == SCHEMA and line["command"] == command
        assert line["state"] == "running" or line["state"] in ENDED
        assert line["elapsed_s"] >= 0 and (line["eta_s"] is None or line["eta_s"] >= 0)
        if line["total"] is not None and line["total"] > 0:
            assert line["fraction"] == round(min(1.0, line["done"] / line["total"]), 4)
        lines.append(line)
    return lines


def by_task(lines: list[dict]) -> dict[str, list[dict]]:
    tasks: dict[str, list[dict]] = {}
    for line in lines:
        tasks.setdefault(line["task"], []).append(line)
    return tasks


def assert_no_control_characters(*texts: str) -> None:
    for text in texts:
        found = CONTROL.search(text)
        assert found is None, f"control character {found.group()!r} in {text[max(0, found.start() - 40) :][:120]!r}"
