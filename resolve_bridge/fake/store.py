"""A disk "project database" for the fake Resolve, so its projects outlive one process.

Real Resolve keeps projects in its database; a separate process (the watch daemon, a second CLI
call) connects and finds the projects, bins and timelines an earlier one saved. The fake lives in
one process, so ``MONTAGE_RESOLVE_DB=FILE`` (read by ``connect.fake_from_env``) gives it the same
life: projects are loaded from FILE at connect, and ``ProjectManager.SaveProject()`` writes the
whole database back to FILE atomically, as Resolve's own save does. Unsaved changes are lost when
the process ends, as they would be if Resolve quit without saving.

What is kept: per project its settings, bin tree (clip properties, metadata, colour, flags) and
timelines (settings, start timecode, tracks with their items: source range, record frame,
duration, name, colour, flags, enabled, links), timeline and item markers. Not kept: selection,
playhead, mark in/out, the call log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kernel.atomic_io import write_text_atomic
from resolve_bridge.errors import ResolveConnectionError
from resolve_bridge.fake.objects import FakeMediaPoolItem, FakeProject, FakeTimeline, FakeTimelineItem, _Track

FORMAT = "montage-fake-resolve-db/1"


def _markers(markers: Any) -> list[dict[str, Any]]:
    return [{"frame": frame, **info} for frame, info in sorted(markers.by_frame.items())]


def _load_markers(markers: Any, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        info = dict(row)
        markers.by_frame[int(info.pop("frame"))] = info


def _folder(folder: Any, clip_ids: dict[int, int]) -> dict[str, Any]:
    clips = []
    for item in folder._clips:
        clip_ids[id(item)] = len(clip_ids)
        clips.append(
            {
                "props": item._props,
                "metadata": item._metadata,
                "color": item._color,
                "flags": item._flags,
                "markers": _markers(item._markers),
            }
        )
    return {"name": folder._name, "clips": clips, "bins": [_folder(sub, clip_ids) for sub in folder._subfolders]}


def _timeline(timeline: Any, clip_ids: dict[int, int]) -> dict[str, Any]:
    item_ids: dict[int, int] = {}
    tracks: dict[str, list[dict[str, Any]]] = {}
    for kind, kind_tracks in timeline._tracks.items():
        tracks[kind] = []
        for track in kind_tracks:
            rows = []
            for placed in track.items:
                item_ids[id(placed)] = len(item_ids)
                rows.append(
                    {
                        "clip": clip_ids.get(id(placed._item)),
                        "start": placed._start,
                        "duration": placed._duration,
                        "source_start": placed._source_start,
                        "source_end": placed._source_end,
                        "name": placed._name,
                        "color": placed._color,
                        "flags": placed._flags,
                        "enabled": placed._enabled,
                        "markers": _markers(placed._markers),
                    }
                )
            tracks[kind].append(
                {
                    "subtype": track.subtype,
                    "name": track.name,
                    "enabled": track.enabled,
                    "locked": track.locked,
                    "items": rows,
                }
            )
    all_items = [placed for kind_tracks in timeline._tracks.values() for t in kind_tracks for placed in t.items]
    links = sorted(
        {tuple(sorted((item_ids[id(a)], item_ids[id(b)]))) for a in all_items for b in a._linked if id(b) in item_ids}
    )
    return {
        "name": timeline._name,
        "settings": timeline._settings,
        "start_tc": timeline._start_tc,
        "tracks": tracks,
        "links": [list(pair) for pair in links],
        "markers": _markers(timeline._markers),
    }


def dump(resolve: Any) -> dict[str, Any]:
    """The fake's saved state as JSON-ready data (every project except the scratch 'Untitled Project')."""
    manager = resolve._manager
    projects = []
    for project in manager._projects.values():
        if project._name == "Untitled Project":
            continue
        clip_ids: dict[int, int] = {}
        bins = _folder(project._pool._root, clip_ids)
        projects.append(
            {
                "name": project._name,
                "settings": project._settings,
                "bins": bins,
                "timelines": [_timeline(t, clip_ids) for t in project._timelines],
                "current_timeline": project._timelines.index(project._current_timeline)
                if project._current_timeline in project._timelines
                else None,
            }
        )
    return {"format": FORMAT, "projects": projects}


def save(resolve: Any, path: Path) -> None:
    """Write the fake's projects to ``path`` atomically (what ``SaveProject`` does with a database)."""
    write_text_atomic(path, json.dumps(dump(resolve), indent=1) + "\n")


def _restore_folder(pool: Any, folder: Any, data: dict[str, Any], clips: list[Any]) -> None:
    for row in data.get("clips", []):
        item = FakeMediaPoolItem(pool._state, dict(row["props"]))
        item._metadata = dict(row.get("metadata", {}))
        item._color = row.get("color", "")
        item._flags = list(row.get("flags", []))
        _load_markers(item._markers, row.get("markers", []))
        folder._clips.append(item)
        clips.append(item)
    for sub in data.get("bins", []):
        child = pool.AddSubFolder(folder, sub["name"])
        _restore_folder(pool, child, sub, clips)


def _restore_timeline(project: Any, data: dict[str, Any], clips: list[Any]) -> None:
    timeline = FakeTimeline(project._state, project, data["name"], data["settings"]["timelineFrameRate"])
    timeline._settings = dict(data["settings"])
    timeline._start_tc = data["start_tc"]
    placed_items: list[Any] = []
    for kind, tracks in data["tracks"].items():
        timeline._tracks[kind] = []
        for index, row in enumerate(tracks, start=1):
            track = _Track(kind, index, row.get("subtype", ""), timeline)
            track.name, track.enabled, track.locked = row["name"], row["enabled"], row["locked"]
            for entry in row["items"]:
                if entry["clip"] is None:
                    raise ValueError(f"timeline '{data['name']}' has an item whose clip is not in the media pool")
                placed = FakeTimelineItem(
                    project._state,
                    clips[entry["clip"]],
                    track,
                    entry["start"],
                    entry["duration"],
                    entry["source_start"],
                    entry["source_end"],
                )
                placed._name, placed._color = entry["name"], entry["color"]
                placed._flags, placed._enabled = list(entry["flags"]), entry["enabled"]
                _load_markers(placed._markers, entry.get("markers", []))
                track.items.append(placed)
                placed_items.append(placed)
            timeline._tracks[kind].append(track)
    for a, b in data.get("links", []):
        placed_items[a]._linked.append(placed_items[b])
        placed_items[b]._linked.append(placed_items[a])
    _load_markers(timeline._markers, data.get("markers", []))
    timeline._playhead = timeline.GetStartFrame()
    project._timelines.append(timeline)


def load(resolve: Any, path: Path) -> None:
    """Add the projects saved in ``path`` to a fresh fake (a missing file is an empty database)."""
    if not path.exists():
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        manager = resolve._manager
        for row in data["projects"]:
            project = FakeProject(manager._state, resolve, row["name"])
            project._settings = dict(row["settings"])
            clips: list[Any] = []
            _restore_folder(project._pool, project._pool._root, row["bins"], clips)
            for timeline in row["timelines"]:
                _restore_timeline(project, timeline, clips)
            current = row.get("current_timeline")
            project._current_timeline = project._timelines[current] if current is not None else None
            manager._projects[project._name] = project
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ResolveConnectionError(
            "bad_fake", f"{path}: the fake Resolve's project database cannot be read ({exc}) — delete it to start empty"
        ) from exc
