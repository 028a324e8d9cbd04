"""Shared logic of the Workspace ▸ Scripts ▸ Montage Bridge entries (scripts/resolve/Utility/).

Each menu script is a few lines that find the package and call :func:`run_menu` with its own
globals. Standard library only: this runs inside Resolve's Python. Heavy work (analysis,
planning) runs in-process when that Python has our dependencies, otherwise in a subprocess of
the user's environment (``python -m resolve_bridge.menu_worker``); placing clips and markers
always happens here, through the live ``resolve`` object. A menu script is a child of Resolve
that must finish its work before returning (resolve_api.md §1.1), so everything is synchronous.

Progress and errors go to the Console (``[Montage Bridge] …`` lines) and, where Fusion's
UIManager is available, to a small dialog at the end.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kernel.errors import MontageError
from kernel.paths import exports_dir
from resolve_bridge.apply import BuildResult, apply_spec, current_project, import_spec_file
from resolve_bridge.capabilities import Capabilities
from resolve_bridge.connect import connect
from resolve_bridge.pool_raw import read_pool
from resolve_bridge.spec import MARKER_COLORS, BuildSpec

PREFIX = "[Montage Bridge]"
EXPORT_DIR_ENV = "MONTAGE_BRIDGE_EXPORT_DIR"
GPU_OP_ENV = "MONTAGE_BRIDGE_GPU_OP"
# Timeline.Export types for the Export entry: (label, constant, subtype constant, file name suffix).
EXPORTS = (
    ("OTIO", "EXPORT_OTIO", None, ".otio"),
    ("FCPXML 1.10", "EXPORT_FCPXML_1_10", None, ".fcpxmld"),
    ("FCP 7 XML", "EXPORT_FCP_7_XML", None, ".xml"),
    ("EDL", "EXPORT_EDL", "EXPORT_NONE", ".edl"),
)


class MenuError(MontageError):
    """A menu action that cannot go on; shown in the Console and the dialog."""


def say(message: str) -> None:
    print(f"{PREFIX} {message}", flush=True)


def deps_available(python: str | None = None) -> bool:
    """Whether this interpreter can run the analysis itself.

    Only when it *is* the recorded environment's Python (or none was recorded): Resolve's embedded
    interpreter may see that environment's site-packages through PACKAGE_ROOT, but compiled
    packages built for another Python version must not be imported into it.
    """
    if python and os.path.realpath(python) != os.path.realpath(sys.executable or ""):
        return False
    return all(importlib.util.find_spec(m) is not None for m in ("opentimelineio", "pydantic", "numpy", "av"))


def run_worker(
    action: str, request: dict[str, Any], *, python: str | None, in_process: bool, log: Callable[[str], None] = say
) -> dict[str, Any]:
    """Run ``menu_worker`` ACTION here or in a subprocess of ``python``; returns its JSON answer."""
    if in_process:
        from resolve_bridge.menu_worker import run_action

        answer = run_action(action, request)
    else:
        exe = python or os.environ.get("MONTAGE_BRIDGE_PYTHON")
        if not exe or not os.path.exists(exe):
            raise MenuError(
                "Resolve's Python lacks the analysis libraries and no Montage Bridge environment is recorded — "
                "run `montage-bridge resolve install` from the environment where montage-bridge is installed"
            )
        root = str(Path(__file__).resolve().parents[1])
        with tempfile.TemporaryDirectory(prefix="montage-bridge-") as tmp:
            request_path, answer_path = Path(tmp) / "request.json", Path(tmp) / "answer.json"
            request_path.write_text(json.dumps(request), encoding="utf-8")
            env = {
                **os.environ,
                "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
                "PYTHONIOENCODING": "utf-8",
            }
            cmd = [exe, "-m", "resolve_bridge.menu_worker", action, "--input", str(request_path)]
            cmd += ["--output", str(answer_path)]
            log(f"working in {exe} …")
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=env,
                cwd=root,
            )
            assert proc.stdout is not None
            tail: list[str] = []
            for line in proc.stdout:
                line = line.rstrip()
                if line.startswith("progress: "):
                    log(line.removeprefix("progress: "))
                elif line:
                    tail = (tail + [line])[-5:]
            proc.wait()
            if not answer_path.is_file():
                raise MenuError(f"the analysis process failed (exit {proc.returncode}): {' | '.join(tail)}")
            answer = json.loads(answer_path.read_text(encoding="utf-8"))
    if "error" in answer:
        raise MenuError(str(answer["error"]))
    return answer


# ---------------------------------------------------------------- actions


def auto_edit(resolve: Any, *, python: str | None, in_process: bool) -> list[str]:
    """Cut the current bin's footage to the music in it and build the timeline."""
    caps = Capabilities.of(resolve)
    records = read_pool(resolve)
    say(f"read {len(records)} clip(s) from the current bin")
    name = f"Montage - {records[0].get('bin') or 'Master'}"
    options: dict[str, Any] = {"name": name}
    if not caps.can_place_on_tracks:
        options["import_format"] = "otio" if caps.can_import_otio else "fcpxml"
        say(caps.limits()[0])
    answer = run_worker("auto_edit", {"records": records, "options": options}, python=python, in_process=in_process)
    spec = BuildSpec.from_dict(answer["spec"], "analysis answer")
    result: BuildResult
    if "import_file" in answer:
        result = import_spec_file(resolve, spec, answer["import_file"], log=say)
    else:
        result = apply_spec(resolve, spec, log=say)
    return result.lines()


def analyze_pool(resolve: Any, *, python: str | None, in_process: bool) -> list[str]:
    """Add shot-cut markers to the current bin's video clips and beat markers to its music."""
    records = read_pool(resolve)
    say(f"analyzing {len(records)} clip(s) from the current bin")
    answer = run_worker("analyze", {"records": records}, python=python, in_process=in_process)
    pool = current_project(resolve).GetMediaPool()
    from resolve_bridge.pool_raw import walk_bin

    items = {str(i.GetUniqueId()): i for i, _ in walk_bin(pool.GetCurrentFolder(), "", True)}
    added = refused = 0
    for uid, markers in answer["markers"].items():
        item = items.get(uid)
        if item is None:
            continue
        # Re-running replaces our own markers and never touches the editor's.
        for frame, info in list((item.GetMarkers() or {}).items()):
            if str(info.get("customData", "")).startswith("montage-bridge:"):
                item.DeleteMarkerAtFrame(frame)
        for m in markers:
            color = m["color"] if m["color"] in MARKER_COLORS else "Blue"
            if item.AddMarker(m["frame"], color, m["name"], m["note"], 1, m["custom"]):
                added += 1
            else:
                refused += 1
    lines = [f"added {added} marker(s) to {len(answer['markers'])} clip(s)"]
    if refused:
        lines.append(f"{refused} marker(s) refused (a marker already sits on that frame)")
    lines += [f"skipped: {s}" for s in answer.get("skipped", [])]
    return lines


def export_timeline(resolve: Any, *, out_dir: Path | None = None) -> list[str]:
    """Export the current timeline as OTIO, FCPXML 1.10, FCP 7 XML and EDL through Resolve itself."""
    project = current_project(resolve)
    timeline = project.GetCurrentTimeline()
    if not timeline:
        raise MenuError("no timeline is open — open the timeline to export")
    folder = out_dir or Path(os.environ.get(EXPORT_DIR_ENV) or exports_dir())
    folder.mkdir(parents=True, exist_ok=True)
    stem = "".join(ch if ch.isalnum() or ch in "-_ " else "_" for ch in str(timeline.GetName())).strip() or "timeline"
    lines = []
    for label, constant, subtype, suffix in EXPORTS:
        # Constants must come from the live object (their values are undocumented); a build without
        # one answers None — or raises in strict fakes.
        kind = _constant(resolve, constant)
        sub = _constant(resolve, subtype) if subtype else None
        if kind is None or (subtype and sub is None):
            lines.append(f"{label}: not available in {Capabilities.of(resolve).label}")
            continue
        target = folder / f"{stem}{suffix}"
        ok = timeline.Export(str(target), kind, sub) if subtype else timeline.Export(str(target), kind)
        # Export can report success without writing; trust only the file (resolve_api.md §3 item 10).
        written = target.is_dir() and (target / "Info.fcpxml").is_file() if suffix == ".fcpxmld" else target.is_file()
        lines.append(f"{label}: {target}" if ok and written else f"{label}: Resolve did not write {target}")
    return lines


def _constant(resolve: Any, name: str) -> Any:
    try:
        return getattr(resolve, name)
    except AttributeError:
        return None


def send_to_gpu(resolve: Any, *, python: str | None, op: str | None = None) -> list[str]:
    """Submit the selected clips (or the current bin) to the GPU worker via `montage-bridge gpu submit`."""
    caps = Capabilities.of(resolve)
    records = read_pool(resolve, selected=caps.can_read_selection) if caps.can_read_selection else read_pool(resolve)
    files = [r["File Path"] for r in records if r.get("File Path")]
    if not files:
        raise MenuError("none of the chosen clips has a media file to send")
    operation = op or os.environ.get(GPU_OP_ENV, "stabilize")
    exe = python or os.environ.get("MONTAGE_BRIDGE_PYTHON") or sys.executable
    cmd = [exe, "-m", "montage_bridge", "gpu", "submit", operation, *files]
    say(f"sending {len(files)} clip(s) to the GPU worker ({operation})")
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        raise MenuError(f"could not run `montage-bridge gpu submit` with {exe}: {exc}") from exc
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 and ("No such command" in output or "No module named" in output):
        raise MenuError(
            "this Montage Bridge install has no GPU worker client (`montage-bridge gpu submit`) — update it "
            "(pip install -U 'montage-bridge[worker]') or set up the worker first"
        )
    if proc.returncode != 0:
        last = output.splitlines()[-1] if output else f"exit code {proc.returncode}"
        raise MenuError(f"GPU submit failed: {last}")
    return [f"submitted {len(files)} clip(s) for {operation}", *output.splitlines()[-5:]]


# ---------------------------------------------------------------- entry point


def show_dialog(script_globals: Mapping[str, Any], resolve: Any, title: str, lines: list[str]) -> bool:
    """A small UIManager window with the outcome (Fusion's UI; absent outside Resolve → False)."""
    fusion = script_globals.get("fusion") or (resolve.Fusion() if resolve is not None else None)
    bmd = script_globals.get("bmd")
    ui = getattr(fusion, "UIManager", None) if fusion is not None else None
    dispatcher_factory = getattr(bmd, "UIDispatcher", None) if bmd is not None else None
    if ui is None or not callable(dispatcher_factory):
        return False
    dispatcher = dispatcher_factory(ui)
    window = dispatcher.AddWindow(
        {"ID": "MontageBridge", "WindowTitle": title, "Geometry": [200, 200, 520, 60 + 18 * len(lines)]},
        ui.VGroup(
            [
                ui.Label({"ID": "Body", "Text": "\n".join(lines), "WordWrap": True}),
                ui.Button({"ID": "OK", "Text": "OK"}),
            ]
        ),
    )

    def close(_event: Any) -> None:
        dispatcher.ExitLoop()

    window.On.OK.Clicked = close
    window.On.MontageBridge.Close = close
    window.Show()
    dispatcher.RunLoop()
    window.Hide()
    return True


TITLES = {
    "auto_edit": "Auto Edit selected bin",
    "analyze": "Analyze media pool",
    "export": "Export current timeline",
    "gpu": "Send selected clips to GPU worker",
}


def run_menu(
    action: str,
    script_globals: Mapping[str, Any],
    *,
    python: str | None = None,
    in_process: bool | None = None,
    dialog: bool = True,
) -> int:
    """Run a menu action with the script's globals; 0 on success, 1 on a reported failure."""
    title = f"Montage Bridge — {TITLES[action]}"
    say(f"{TITLES[action]} …")
    resolve = None
    try:
        connection = connect(script_globals)
        resolve = connection.resolve
        say(f"connected to {connection.capabilities.label} ({connection.mode})")
        local = deps_available(python) if in_process is None else in_process
        if action == "auto_edit":
            lines = auto_edit(resolve, python=python, in_process=local)
        elif action == "analyze":
            lines = analyze_pool(resolve, python=python, in_process=local)
        elif action == "export":
            lines = export_timeline(resolve)
        elif action == "gpu":
            lines = send_to_gpu(resolve, python=python)
        else:
            raise MenuError(f"unknown menu action {action!r}")
        status = 0
    except MontageError as exc:
        lines, status = [f"error: {exc}"], 1
    except Exception as exc:  # a menu script must never die with a bare traceback in the Console
        say("".join(traceback.format_exception(exc)).rstrip())
        lines, status = [f"internal error: {exc.__class__.__name__}: {exc} (please report it)"], 1
    for line in lines:
        say(line)
    if dialog:
        try:
            show_dialog(script_globals, resolve, title, lines)
        except Exception as exc:  # the dialog is a courtesy; the Console already has the outcome
            say(f"(no dialog: {exc})")
    return status
