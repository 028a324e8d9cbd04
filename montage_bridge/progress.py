"""One progress display for every command a user waits on (`auto`, `render`, `proxies`, `gpu submit --wait`).

Three ways to show it, chosen by ``--progress`` (or ``MONTAGE_PROGRESS``):

- ``bar``: rich bars on stderr with elapsed time and ETA;
- ``json``: one JSON object per line on stderr, for scripts (schema below);
- ``off``: nothing.

``auto`` (the default) is ``bar`` when stderr is a terminal and ``off`` otherwise, so a pipe or a log
file never receives cursor movements or carriage returns. A command's ``--json`` (its result as JSON
on stdout) turns its progress into JSON lines too.

JSON line schema, ``"schema": "montage-bridge.progress/1"`` (one line per change, at most about four
a second per task, always the first and the last)::

    schema     "montage-bridge.progress/1"
    command    the command: "auto", "render", "proxies", "gpu submit"
    task       a stable id within the run ("analysis", "render", "a_cam.mov", a GPU job id, ...)
    phase      what kind of work: "analysis", "beats", "planning", "remote", "writing", "reframe",
               "render", "proxy", "gpu"
    item       what is being worked on (a file or clip name), or null
    state      "running" while it goes, then "done", "failed", "skipped", "canceled" (the task's end)
    done       work done so far, in `unit` (a number)
    total      all the work, in `unit`, or null while unknown
    unit       "files", "clips", "seconds", "frames", "fraction" or "steps"
    fraction   done / total (0..1), or null while the total is unknown
    elapsed_s  seconds since the task started
    eta_s      seconds left, estimated from the task's speed so far, or null while unknown
    message    a short human description (e.g. a GPU job's stage), or null
    time       Unix time of the line
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Annotated, Any

import typer

SCHEMA = "montage-bridge.progress/1"
MODES = ("auto", "bar", "json", "off")
ENDED = ("done", "failed", "skipped", "canceled")
_MIN_INTERVAL = 0.25  # seconds between two JSON lines of one task (ends and changes always go out)

ProgressOpt = Annotated[
    str,
    typer.Option(
        "--progress",
        envvar="MONTAGE_PROGRESS",
        help="Progress on stderr: auto (bars on a terminal, nothing otherwise), bar, json (one object a line), off.",
    ),
]


def resolve_mode(mode: str, *, as_json: bool = False, stream: IO[str] | None = None) -> str:
    """The mode to use: ``bar``, ``json`` or ``off``. ``as_json`` (the command's own ``--json``) makes
    ``auto`` mean ``json``; ``auto`` is otherwise ``bar`` only when ``stream`` is a terminal."""
    mode = (mode or "auto").strip().lower()
    if mode not in MODES:
        raise typer.BadParameter(f"{mode!r}: choose {', '.join(MODES)}", param_hint="--progress")
    if mode != "auto":
        return mode
    if as_json:
        return "json"
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() and os.environ.get("TERM") != "dumb" else "off"


@dataclass
class _Task:
    key: str
    phase: str
    item: str | None
    unit: str
    total: float | None
    done: float = 0.0
    state: str = "running"
    message: str | None = None
    started: float = field(default_factory=lambda: time.monotonic())
    last_sent: float = -1e9
    sent_signature: tuple = ()
    bar_id: Any = None


def eta_seconds(done: float, total: float | None, elapsed: float) -> float | None:
    """Seconds left at the speed so far, or None when it cannot be told yet."""
    if total is None or total <= 0 or done <= 0 or elapsed <= 0:
        return None
    if done >= total:
        return 0.0
    return elapsed * (total - done) / done


class ProgressReporter:
    """Tasks with a total and a count done, shown as bars, JSON lines, or not at all. Thread-safe.

    Use as a context manager; ``start`` a task, ``update`` it, ``end`` it."""

    def __init__(
        self,
        command: str,
        mode: str = "auto",
        *,
        as_json: bool = False,
        stream: IO[str] | None = None,
        transient: bool = True,
    ) -> None:
        self.command = command
        self._stream = stream
        self.mode = resolve_mode(mode, as_json=as_json, stream=stream)
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.RLock()
        self._bar = None
        if self.mode == "bar":
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            from montage_bridge.console import err

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=err,
                transient=transient,
            )

    # -- context ---------------------------------------------------------------------------------
    def __enter__(self) -> ProgressReporter:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            for task in list(self._tasks.values()):
                if task.state == "running" and exc[0] is not None:
                    self.end(task.key, "failed")
        if self._bar is not None:
            self._bar.stop()

    # -- tasks -----------------------------------------------------------------------------------
    def start(
        self,
        key: str,
        phase: str,
        *,
        item: str | None = None,
        total: float | None = None,
        unit: str = "steps",
        message: str | None = None,
    ) -> str:
        """Begin (or restart) task ``key``."""
        with self._lock:
            old = self._tasks.get(key)
            task = _Task(key, phase, item, unit, total, message=message)
            self._tasks[key] = task
            if self._bar is not None:
                if old is not None and old.bar_id is not None:
                    task.bar_id = old.bar_id
                    self._bar.reset(task.bar_id, total=total, description=self._label(task), detail=self._detail(task))
                else:
                    task.bar_id = self._bar.add_task(self._label(task), total=total, detail=self._detail(task))
            self._emit(task, force=True)
            return key

    def update(
        self,
        key: str,
        *,
        done: float | None = None,
        total: float | None = None,
        item: str | None = None,
        message: str | None = None,
    ) -> None:
        with self._lock:
            task = self._tasks.get(key)
            if task is None:
                return
            if total is not None:
                task.total = total
            if done is not None:
                task.done = done
            if item is not None:
                task.item = item
            if message is not None:
                task.message = message
            self._show(task)
            self._emit(task)

    def end(self, key: str, state: str = "done", *, message: str | None = None, hide: bool = False) -> None:
        """Finish task ``key`` (``state`` one of done/failed/skipped/canceled); ``hide`` drops its bar."""
        if state not in ENDED:
            raise ValueError(f"{state!r}: not one of {ENDED}")
        with self._lock:
            task = self._tasks.get(key)
            if task is None or task.state != "running":
                return
            task.state = state
            if message is not None:
                task.message = message
            if state == "done" and task.total is not None:
                task.done = task.total
            elif state == "done" and task.total is None:
                task.total = task.done = task.done or 1.0
            self._show(task, visible=not hide)
            self._emit(task, force=True)

    # -- adapters ----------------------------------------------------------------------------------
    def stages(self, unit_of: Callable[[str], str] | None = None) -> Callable[[str, int, int], None]:
        """A ``progress(stage, done, total)`` callback (what the pipeline and reframe call) that makes
        one task per phase: "analysis: a.mov" is phase "analysis", item "a.mov". A new phase ends the
        one before it."""
        current: list[str] = []

        def report(stage: str, done: int, total: int) -> None:
            phase, _, item = stage.partition(":")
            phase = {"remote processing": "remote"}.get(phase.strip(), phase.strip())
            item_name = item.strip() or None
            with self._lock:
                if not current or current[0] != phase:
                    if current:
                        self.end(current[0], hide=True)
                        current.clear()
                    current.append(phase)
                    unit = unit_of(phase) if unit_of else "steps"
                    self.start(phase, phase, item=item_name, total=total or None, unit=unit)
                self.update(phase, done=done, total=total or None, item=item_name)

        def finish() -> None:
            with self._lock:
                if current:
                    self.end(current[0], hide=True)
                    current.clear()

        report.finish = finish  # type: ignore[attr-defined]
        return report

    # -- output ------------------------------------------------------------------------------------
    @staticmethod
    def _label(task: _Task) -> str:
        return f"{task.phase}: {task.item}" if task.item and task.item != task.phase else task.phase

    @staticmethod
    def _detail(task: _Task) -> str:
        parts = []
        if task.unit in ("files", "clips", "steps") and task.total:
            parts.append(f"{int(task.done)}/{int(task.total)}")
        if task.message:
            parts.append(task.message)
        if task.state != "running":
            parts.append(task.state)
        return " ".join(parts)

    def _show(self, task: _Task, visible: bool = True) -> None:
        if self._bar is None or task.bar_id is None:
            return
        self._bar.update(
            task.bar_id,
            completed=task.done,
            total=task.total,
            description=self._label(task),
            detail=self._detail(task),
            visible=visible,
        )

    def line(self, task: _Task) -> dict[str, Any]:
        elapsed = time.monotonic() - task.started
        fraction = None
        if task.total:
            fraction = round(min(1.0, max(0.0, task.done / task.total)), 4)
        eta = eta_seconds(task.done, task.total, elapsed) if task.state == "running" else 0.0
        return {
            "schema": SCHEMA,
            "command": self.command,
            "task": task.key,
            "phase": task.phase,
            "item": task.item,
            "state": task.state,
            "done": round(task.done, 3),
            "total": None if task.total is None else round(task.total, 3),
            "unit": task.unit,
            "fraction": fraction,
            "elapsed_s": round(elapsed, 3),
            "eta_s": None if eta is None else round(eta, 2),
            "message": task.message,
            "time": round(time.time(), 3),
        }

    def _emit(self, task: _Task, force: bool = False) -> None:
        if self.mode != "json":
            return
        now = time.monotonic()
        finished_count = task.total is not None and task.done >= task.total
        signature = (task.state, task.item, task.message, task.total, finished_count)
        if not force and signature == task.sent_signature and now - task.last_sent < _MIN_INTERVAL:
            return
        task.last_sent = now
        task.sent_signature = signature
        stream = self._stream if self._stream is not None else sys.stderr
        stream.write(json.dumps(self.line(task), separators=(",", ":")) + "\n")
        stream.flush()


__all__ = ["ENDED", "MODES", "SCHEMA", "ProgressOpt", "ProgressReporter", "eta_seconds", "resolve_mode"]
