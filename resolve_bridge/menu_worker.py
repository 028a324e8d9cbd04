"""The heavy half of the Scripts-menu entries, run in the user's own Python environment.

Resolve's interpreter usually lacks numpy, PyAV, OpenTimelineIO and pydantic, so the menu
script (``menu.py``, standard library only) reads the pool, writes the clip records to a JSON
file and runs ``python -m resolve_bridge.menu_worker ACTION --input IN --output OUT`` with the
Python the package was installed into. This module does the analysis and planning and writes a
JSON answer (a build spec, or markers) that the menu script then applies through the API.
When Resolve's Python does have the dependencies, ``menu.py`` calls :func:`run_action` directly.

Progress goes to stdout as ``progress: STAGE DONE/TOTAL`` lines, which the menu shows in the Console.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kernel.atomic_io import write_text_atomic
from kernel.errors import MontageError
from kernel.paths import state_dir
from resolve_bridge.spec import BuildSpec


def _progress(stage: str, done: int, total: int) -> None:
    print(f"progress: {stage} {done}/{total}", flush=True)


def auto_edit(request: dict[str, Any]) -> dict[str, Any]:
    """Clip records of a bin → a build spec (and, if asked, an import file for old Resolve builds)."""
    from nle_adapters.write_files import WriteError
    from resolve_bridge.auto_edit import plan_from_pool
    from resolve_bridge.media_pool import scan_records
    from resolve_bridge.timeline_builder import spec_from_otio, write_import_file

    scan = scan_records(request.get("records", []))
    options = request.get("options", {})
    music = Path(options["music"]) if options.get("music") else None
    plan, _, timeline = plan_from_pool(
        scan,
        music=music,
        duration_seconds=options.get("duration"),
        name=str(options.get("name") or "Montage"),
        progress=_progress,
    )
    spec = spec_from_otio(timeline)
    spec.warnings[:0] = scan.skipped + plan.warnings
    answer: dict[str, Any] = {"spec": spec.to_dict()}
    if options.get("import_format"):
        folder = Path(options.get("work_dir") or state_dir() / "resolve-import")
        try:
            path = write_import_file(timeline, spec, options["import_format"], folder)
        except WriteError as exc:
            if options["import_format"] != "fcpxml":
                raise
            # Every Resolve imports FCP 7 XML; use it when the FCPXML writer cannot hold this timeline.
            spec.warnings.append(f"FCPXML could not be written ({exc}); imported FCP 7 XML instead")
            answer["spec"] = spec.to_dict()
            path = write_import_file(timeline, spec, "xml", folder)
        answer["import_file"] = str(path)
    return answer


def analyze(request: dict[str, Any]) -> dict[str, Any]:
    """Clip records → shot-cut markers for video clips, beat markers for music, by unique id.

    Marker frames are relative to the clip's first frame (how MediaPoolItem markers count).
    """
    from analysis.beats import analyze_music
    from analysis.engine import analyze_media_items
    from kernel.timebase import seconds_to_frames
    from resolve_bridge.media_pool import scan_records

    scan = scan_records(request.get("records", []))
    markers: dict[str, list[dict[str, Any]]] = {}
    analyses = analyze_media_items([c.media for c in scan.clips if Path(c.media.path).is_file()], progress=_progress)
    by_path = {str(a.media.path): a for a in analyses}
    for clip in scan.clips:
        analysis = by_path.get(str(clip.media.path))
        if analysis is None:
            continue
        markers[clip.unique_id] = [
            {
                "frame": s.start,
                "color": "Green",
                "name": f"shot {n}",
                "note": "shot cut",
                "custom": "montage-bridge:shot",
            }
            for n, s in enumerate(analysis.shots[1:], 2)
        ]
    for n, clip in enumerate(scan.audio, 1):
        _progress(f"beats: {clip.media.name}", n - 1, len(scan.audio))
        music = analyze_music(clip.media.path)
        down = set(music.beat_grid.downbeats)
        markers[clip.unique_id] = [
            {
                "frame": seconds_to_frames(t, clip.media.rate),
                "color": "Red" if t in down else "Blue",
                "name": "downbeat" if t in down else "beat",
                "note": f"{music.beat_grid.tempo_bpm:.1f} BPM",
                "custom": "montage-bridge:beat",
            }
            for t in music.beat_grid.beats
        ]
    return {"markers": markers, "skipped": scan.skipped}


ACTIONS = {"auto_edit": auto_edit, "analyze": analyze}


def run_action(action: str, request: dict[str, Any]) -> dict[str, Any]:
    """Run one action; a MontageError becomes ``{"error": message}`` so the menu can show it."""
    try:
        answer = ACTIONS[action](request)
    except MontageError as exc:
        return {"error": str(exc)}
    if "spec" in answer:
        BuildSpec.from_dict(answer["spec"])  # what we hand Resolve must pass the same checks
    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resolve_bridge.menu_worker")
    parser.add_argument("action", choices=sorted(ACTIONS))
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        request = json.loads(args.input.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        answer: dict[str, Any] = {"error": f"{args.input}: cannot read the request ({exc})"}
    else:
        answer = run_action(args.action, request)
    write_text_atomic(args.output, json.dumps(answer))
    return 1 if "error" in answer else 0


if __name__ == "__main__":
    sys.exit(main())
