"""Lua Scripts-menu launchers: rendering them, and the CLI side they talk to (``resolve menu-run``).

A Lua entry (``lua_template.LUA_TEMPLATE``) gathers clip records through the API, writes them to
``records.json`` and runs ``montage-bridge resolve menu-run ACTION --records FILE --out DIR``;
:func:`menu_run` does the analysis and planning and writes ``DIR/answer.tsv``, one fact a line,
tab-separated, because Lua 5.1 has no JSON reader:

- ``error	MESSAGE`` — nothing else follows; the entry shows MESSAGE;
- ``import_file	PATH``, ``timeline_name	NAME``, ``source_clips_path	DIR`` — what to import;
- ``clip	KIND	INDEX	RECORD	DURATION	SOURCE_IN	LABEL`` — one expected timeline item
  (absolute record frame, timeline frames, source frames into the file), exactly the facts
  ``apply.verify`` checks, so both paths verify from the same expectations;
- ``marker	FRAME	COLOR	NAME	NOTE	DURATION	CUSTOM`` — a timeline marker (frame from the
  timeline start) for Auto Edit, or ``marker	UNIQUE_ID	FRAME	COLOR	NAME	NOTE	CUSTOM`` — a media
  pool clip marker for Analyze;
- ``note	TEXT`` / ``skipped	TEXT`` — lines for the report.

Standard library only at import time (the installer renders launchers from any environment).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kernel.atomic_io import write_text_atomic
from kernel.errors import MontageError
from resolve_bridge.capabilities import OTIO_IMPORT
from resolve_bridge.lua_template import LUA_TEMPLATE

ANSWER_NAME = "answer.tsv"


def lua_string(text: str) -> str:
    """``text`` as a Lua 5.1 double-quoted string literal."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32:
            out.append(f"\\{ord(ch):03d}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render_lua(title: str, action: str, description: str, command: list[str] | None = None) -> str:
    """The Lua entry for menu ``title`` running ``action``; ``command`` = argv of the montage-bridge CLI
    (``None`` → ``montage-bridge`` found on PATH, what the repository copies use)."""
    words = command or ["montage-bridge"]
    return (
        LUA_TEMPLATE.replace("__MB_COMMAND__", "{ " + ", ".join(lua_string(w) for w in words) + " }")
        .replace("__MB_ACTION__", action)
        .replace("__MB_TITLE__", title.removeprefix("Montage Bridge - "))
        .replace("__MB_DESCRIPTION__", description)
    )


def _field(value: Any) -> str:
    """One tab-separated field: tabs and line breaks would split the line, so they become spaces."""
    return " ".join(str(value).replace("\t", " ").splitlines())


def answer_lines(rows: list[tuple[Any, ...]]) -> str:
    return "".join("\t".join(_field(v) for v in row) + "\n" for row in rows)


def parse_version(text: str) -> tuple[int, ...]:
    """``"21.1.0.8"`` → ``(21, 1, 0, 8)``; anything unreadable → ``()``."""
    parts = []
    for part in str(text or "").split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def auto_edit_answer(
    request: dict[str, Any], version: tuple[int, ...], out_dir: Path
) -> tuple[list[tuple[Any, ...]], Any]:
    """Plan the bin's records, write the import file into ``out_dir``: (answer rows, the BuildSpec)."""
    from resolve_bridge.menu_worker import auto_edit
    from resolve_bridge.spec import BuildSpec
    from resolve_bridge.timeline_builder import _source_root

    records = request.get("records", [])
    bin_name = str(records[0].get("bin") or "Master") if records else "Master"
    # OTIO where Resolve imports it (19.1+), FCPXML before; unknown version: FCPXML, which every build reads.
    fmt = "otio" if version and version >= OTIO_IMPORT else "fcpxml"
    options = {"name": f"Montage - {bin_name}", "import_format": fmt, "work_dir": str(out_dir)}
    answer = auto_edit({"records": records, "options": options})
    spec = BuildSpec.from_dict(answer["spec"], "analysis answer")
    rows: list[tuple[Any, ...]] = [
        ("import_file", answer["import_file"]),
        ("timeline_name", spec.name),
        ("source_clips_path", _source_root(spec) or ""),
    ]
    rate, drop = spec.exact_rate, spec.drop_frame
    from kernel.timebase import frames_to_timecode

    for c in spec.clips:
        where = (
            f"{c.name} on {c.track_type[0].upper()}{c.track_index} at {frames_to_timecode(c.record_frame, rate, drop)}"
        )
        rows.append(("clip", c.track_type, c.track_index, c.record_frame, c.duration, c.start_frame, where))
    for m in spec.markers:
        rows.append(("marker", m.frame, m.color, m.name, m.note, max(1, m.duration), m.custom_data))
    rows += [("note", w) for w in spec.warnings]
    return rows, spec


def _analyze_rows(request: dict[str, Any]) -> list[tuple[Any, ...]]:
    from resolve_bridge.menu_worker import analyze
    from resolve_bridge.spec import MARKER_COLORS

    answer = analyze(request)
    rows: list[tuple[Any, ...]] = []
    for uid, markers in answer["markers"].items():
        for m in markers:
            color = m["color"] if m["color"] in MARKER_COLORS else "Blue"
            rows.append(("marker", uid, m["frame"], color, m["name"], m["note"], m["custom"]))
    rows += [("skipped", s) for s in answer.get("skipped", [])]
    return rows


def menu_run(action: str, records_path: Path, out_dir: Path, *, resolve_version: str = "") -> int:
    """Answer a Lua entry: read its records, do the work, write ``out_dir/answer.tsv``; 0 ok, 1 error.

    Errors (bad records, no footage, analysis failures) become an ``error`` line the entry shows,
    never a traceback: the user sees it in Resolve, not in a terminal.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ANSWER_NAME
    try:
        try:
            records = json.loads(records_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MontageError(f"{records_path}: cannot read the clip records ({exc})") from exc
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise MontageError(f"{records_path}: expected a JSON list of clip records")
        request = {"records": records}
        if action == "auto_edit":
            rows, _ = auto_edit_answer(request, parse_version(resolve_version), out_dir)
        elif action == "analyze":
            rows = _analyze_rows(request)
        else:
            raise MontageError(f"unknown menu action {action!r}; use auto_edit or analyze")
    except MontageError as exc:
        write_text_atomic(target, answer_lines([("error", str(exc))]))
        return 1
    write_text_atomic(target, answer_lines(rows))
    return 0


def default_command() -> list[str]:
    """argv that runs this environment's CLI from anywhere (no PATH lookup inside Resolve)."""
    import sys

    return [os.path.abspath(sys.executable), "-m", "montage_bridge"]
