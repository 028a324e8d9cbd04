"""Place a :class:`~resolve_bridge.spec.BuildSpec` in Resolve and check what Resolve actually built.

Standard library only: the Scripts-menu entries run this inside Resolve's own Python.

Resolve's API almost never raises; it returns None, False or a short list (research/resolve_api.md
§3). So every call's result is checked, and after placing clips the tracks are read back and
compared with the spec item by item (record start, duration, source in): anything Resolve
dropped or moved is reported by clip name and timecode, never assumed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from analysis.timebase import format_rate, frames_to_timecode, rescale_frames
from resolve_bridge.capabilities import Capabilities
from resolve_bridge.errors import ResolveBuildError, ResolveRateLockedError
from resolve_bridge.spec import BuildSpec, ClipPlacement, parse_resolve_rate, source_length_for

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class BuildResult:
    """What was built and how it compares with the spec."""

    timeline_name: str
    method: str
    expected: int
    placed: int = 0
    append_calls: int = 0
    markers_expected: int = 0
    markers_added: int = 0
    dropped: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.dropped and not self.mismatched and self.placed == self.expected

    def lines(self) -> list[str]:
        """Human summary, one fact per line (Console output, CLI, dialog)."""
        out = [
            f"timeline '{self.timeline_name}' ({self.method}): {self.placed}/{self.expected} clips placed, "
            f"{self.markers_added}/{self.markers_expected} markers"
        ]
        out += [f"dropped: {d}" for d in self.dropped]
        out += [f"wrong: {m}" for m in self.mismatched]
        out += [f"note: {w}" for w in self.warnings]
        return out


# ---------------------------------------------------------------- project, names, timeline setup


def current_project(resolve: Any) -> Any:
    manager = resolve.GetProjectManager()
    project = manager.GetCurrentProject() if manager else None
    if not project:
        raise ResolveBuildError("Resolve has no project open — open or create a project and run again")
    return project


def timeline_names(project: Any) -> list[str]:
    """Names of every timeline in the project (Resolve finds timelines only by index)."""
    count = int(project.GetTimelineCount() or 0)
    names = []
    for i in range(1, count + 1):
        timeline = project.GetTimelineByIndex(i)
        if timeline:
            names.append(str(timeline.GetName()))
    return names


def unique_timeline_name(project: Any, wanted: str) -> str:
    """``wanted``, or ``wanted 2``, ``wanted 3``…: an existing timeline is never overwritten."""
    taken = set(timeline_names(project))
    name, n = wanted, 2
    while name in taken:
        name, n = f"{wanted} {n}", n + 1
    return name


def find_timeline(project: Any, name: str) -> Any:
    count = int(project.GetTimelineCount() or 0)
    for i in range(1, count + 1):
        timeline = project.GetTimelineByIndex(i)
        if timeline and timeline.GetName() == name:
            return timeline
    return None


def _set_project_format(project: Any, spec: BuildSpec, log: Log) -> bool:
    """Set rate and resolution before the timeline exists; False when the rate is locked elsewhere."""
    want_rate = spec.resolve_rate
    current = str(project.GetSetting("timelineFrameRate") or "")
    rate_ok = current == want_rate or bool(project.SetSetting("timelineFrameRate", want_rate))
    for key, value in (("timelineResolutionWidth", spec.width), ("timelineResolutionHeight", spec.height)):
        if str(project.GetSetting(key)) != str(value) and not project.SetSetting(key, str(value)):
            log(f"could not set the project's {key} to {value}; the timeline keeps the project's resolution")
    return rate_ok


def create_timeline(resolve: Any, spec: BuildSpec, name: str, log: Log = _quiet) -> Any:
    """Create an empty timeline at the spec's rate, resolution and start timecode, with its tracks."""
    project = current_project(resolve)
    pool = project.GetMediaPool()
    rate_ok = _set_project_format(project, spec, log)
    timeline = pool.CreateEmptyTimeline(name)
    if not timeline:
        raise ResolveBuildError(f"Resolve refused to create timeline '{name}' (CreateEmptyTimeline returned nothing)")
    if not rate_ok:
        # The project rate is fixed once it has timelines; a per-timeline custom rate is the way round.
        custom = timeline.SetSetting("useCustomSettings", "1") and timeline.SetSetting(
            "timelineFrameRate", spec.resolve_rate
        )
        if not custom or parse_resolve_rate(str(timeline.GetSetting("timelineFrameRate"))) != (
            spec.exact_rate,
            spec.drop_frame,
        ):
            locked = project.GetSetting("timelineFrameRate")
            pool.DeleteTimelines([timeline])
            raise ResolveRateLockedError(
                f"project '{project.GetName()}' is locked at {locked} fps (it already has timelines) and the plan "
                f"is {spec.resolve_rate} fps — create a new project (File ▸ New Project) and run again, "
                f"or re-plan at {locked} fps (e.g. `--rate {locked.split()[0]}`)"
            )
        log(f"project is at {project.GetSetting('timelineFrameRate')} fps; timeline uses custom {spec.resolve_rate}")
    try:
        if not project.SetCurrentTimeline(timeline):
            raise ResolveBuildError(f"Resolve would not make '{name}' the current timeline")
        tc = spec.start_timecode
        if str(timeline.GetStartTimecode()) != tc and not timeline.SetStartTimecode(tc):
            log(f"could not set the start timecode to {tc}")
        if int(timeline.GetStartFrame()) != spec.start_frame:
            raise ResolveBuildError(
                f"timeline '{name}' starts at frame {timeline.GetStartFrame()} but the plan starts at "
                f"{spec.start_frame} ({tc}); check the project's drop-frame setting"
            )
        _ensure_tracks(timeline, "video", spec.video_tracks)
        _ensure_tracks(timeline, "audio", spec.audio_tracks)
    except ResolveBuildError:
        pool.DeleteTimelines([timeline])  # never leave a half-made timeline behind
        raise
    return timeline


def _ensure_tracks(timeline: Any, kind: str, wanted: int) -> None:
    while int(timeline.GetTrackCount(kind) or 0) < wanted:
        before = int(timeline.GetTrackCount(kind) or 0)
        ok = timeline.AddTrack(kind, "stereo") if kind == "audio" else timeline.AddTrack(kind)
        if not ok or int(timeline.GetTrackCount(kind) or 0) <= before:
            raise ResolveBuildError(f"Resolve would not add {kind} track {before + 1} (AddTrack failed)")


# ---------------------------------------------------------------- media pool


def _norm(path: str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(str(path))))


def walk_folders(folder: Any) -> list[Any]:
    """The folder and all its sub-folders, pre-order."""
    out = [folder]
    for sub in folder.GetSubFolderList() or []:
        out.extend(walk_folders(sub))
    return out


def pool_items_by_path(pool: Any) -> dict[str, Any]:
    """Every media pool clip with a file behind it, by normalised file path (first one wins)."""
    found: dict[str, Any] = {}
    for folder in walk_folders(pool.GetRootFolder()):
        for item in folder.GetClipList() or []:
            path = item.GetClipProperty("File Path")
            if path:
                found.setdefault(_norm(path), item)
    return found


def ensure_bin(pool: Any, name: str) -> Any:
    root = pool.GetRootFolder()
    for sub in root.GetSubFolderList() or []:
        if sub.GetName() == name:
            return sub
    folder = pool.AddSubFolder(root, name)
    if not folder:
        raise ResolveBuildError(f"Resolve would not create the media pool bin '{name}'")
    return folder


def pool_items_for(resolve: Any, paths: list[str], bin_name: str, log: Log = _quiet) -> dict[str, Any]:
    """Media pool items for ``paths``, importing the missing files into bin ``bin_name``."""
    pool = current_project(resolve).GetMediaPool()
    items = pool_items_by_path(pool)
    missing = sorted({_norm(p) for p in paths} - set(items))
    if missing:
        previous = pool.GetCurrentFolder()
        # ImportMedia lands in the *current* folder only (resolve_api.md §3 item 24).
        pool.SetCurrentFolder(ensure_bin(pool, bin_name))
        log(f"importing {len(missing)} file(s) into bin '{bin_name}'")
        imported = pool.ImportMedia(missing) or []
        if previous:
            pool.SetCurrentFolder(previous)
        for item in imported:
            path = item.GetClipProperty("File Path")
            if path:
                items.setdefault(_norm(path), item)
        still = [p for p in missing if p not in items]
        if still:
            raise ResolveBuildError(
                f"Resolve did not import {len(still)} file(s), first {still[0]} — check the file exists and "
                "is a format Resolve reads"
            )
    return {p: items[_norm(p)] for p in paths}


# ---------------------------------------------------------------- placing and checking


def clip_info(placement: ClipPlacement, item: Any) -> dict[str, Any]:
    return {
        "mediaPoolItem": item,
        "startFrame": placement.start_frame,
        "endFrame": placement.end_frame,
        "mediaType": placement.media_type,
        "trackIndex": placement.track_index,
        "recordFrame": placement.record_frame,
    }


def tracks_of(spec: BuildSpec) -> dict[tuple[str, int], list[ClipPlacement]]:
    by_track: dict[tuple[str, int], list[ClipPlacement]] = {}
    for clip in spec.clips:
        by_track.setdefault((clip.track_type, clip.track_index), []).append(clip)
    for clips in by_track.values():
        clips.sort(key=lambda c: c.record_frame)
    return by_track


def conform_to_pool(spec: BuildSpec, items: dict[str, Any], result: BuildResult) -> None:
    """Re-express source frames at the rate Resolve gave each clip.

    Resolve freezes an audio file's FPS at the project rate current when it was imported
    (MCP-LIM), so a WAV planned at 23.976 may be a "24 fps" clip in this project; its startFrame
    and endFrame must then be counted at 24.
    """
    rate = spec.exact_rate
    for clip in spec.clips:
        fps = str(items[clip.path].GetClipProperty("FPS") or "")
        try:
            pool_rate = parse_resolve_rate(fps)[0]
        except ValueError:
            continue
        if pool_rate == parse_resolve_rate(clip.media_rate)[0]:
            continue
        start = rescale_frames(clip.start_frame, parse_resolve_rate(clip.media_rate)[0], pool_rate)
        n, made = source_length_for(clip.duration, rate, pool_rate)
        clip.start_frame, clip.end_frame, clip.media_rate = start, start + n, format_rate(pool_rate)
        if made != clip.duration:
            result.warnings.append(
                f"{clip.name}: at its pool rate {fps} fps it runs {made} frames, not {clip.duration}"
            )
            clip.duration = made


def append_clips(resolve: Any, timeline: Any, spec: BuildSpec, items: dict[str, Any], log: Log = _quiet) -> int:
    """One batched ``AppendToTimeline`` per track; returns the number of calls made."""
    pool = current_project(resolve).GetMediaPool()
    calls = 0
    for (kind, index), clips in sorted(tracks_of(spec).items()):
        infos = [clip_info(c, items[c.path]) for c in clips]
        log(f"placing {len(infos)} clip(s) on {kind} track {index}")
        result = pool.AppendToTimeline(infos)
        calls += 1
        if not result or len(result) < len(infos):
            log(f"Resolve returned {len(result or [])} of {len(infos)} items for {kind} track {index}")
    return calls


def _tc(spec: BuildSpec, frame: int) -> str:
    return frames_to_timecode(frame, spec.exact_rate, spec.drop_frame)


def verify(timeline: Any, spec: BuildSpec, result: BuildResult) -> None:
    """Read the tracks back and compare every item with the spec (count, start, duration, source in)."""
    placed = 0
    for (kind, index), clips in sorted(tracks_of(spec).items()):
        actual = timeline.GetItemListInTrack(kind, index) or []
        by_start: dict[int, Any] = {}
        for item in actual:
            by_start.setdefault(int(item.GetStart()), item)
        for clip in clips:
            where = f"{clip.name} on {kind[0].upper()}{index} at {_tc(spec, clip.record_frame)}"
            item = by_start.pop(clip.record_frame, None)
            if item is None:
                result.dropped.append(where)
                continue
            problems = []
            if int(item.GetDuration()) != clip.duration:
                problems.append(f"duration {item.GetDuration()} ≠ {clip.duration}")
            if int(item.GetLeftOffset()) != clip.start_frame:
                problems.append(f"source in {item.GetLeftOffset()} ≠ {clip.start_frame}")
            if problems:
                result.mismatched.append(f"{where}: " + ", ".join(problems))
            else:
                placed += 1
        for start, item in sorted(by_start.items()):
            result.mismatched.append(
                f"unexpected item {item.GetName()} on {kind[0].upper()}{index} at {_tc(spec, start)}"
            )
    result.placed = placed


def add_markers(timeline: Any, spec: BuildSpec, result: BuildResult) -> None:
    """Timeline markers (frames relative to the timeline start); ones already there are kept."""
    existing = {int(float(k)) for k in (timeline.GetMarkers() or {})}
    result.markers_expected = len(spec.markers)
    added = 0
    failed: list[int] = []
    for marker in spec.markers:
        if marker.frame in existing:
            added += 1
            continue
        ok = timeline.AddMarker(
            marker.frame, marker.color, marker.name, marker.note, max(1, marker.duration), marker.custom_data
        )
        if ok:
            added += 1
            existing.add(marker.frame)
        else:
            failed.append(marker.frame)
    result.markers_added = added
    if failed:
        result.warnings.append(
            f"{len(failed)} marker(s) were refused by Resolve, first at {_tc(spec, spec.start_frame + failed[0])}"
        )


def color_flagged(timeline: Any, spec: BuildSpec, result: BuildResult) -> None:
    """Colour timeline items whose clip carries a flag (e.g. shaky, soft) so the editor sees them."""
    for (kind, index), clips in tracks_of(spec).items():
        wanted = {c.record_frame: c for c in clips if c.clip_color}
        if not wanted:
            continue
        for item in timeline.GetItemListInTrack(kind, index) or []:
            clip = wanted.get(int(item.GetStart()))
            if clip and not item.SetClipColor(clip.clip_color):
                result.warnings.append(f"could not colour {clip.name} ({', '.join(clip.flags)})")


def apply_spec(resolve: Any, spec: BuildSpec, *, bin_name: str = "Montage Bridge", log: Log = _quiet) -> BuildResult:
    """Append path: create the timeline, place each track in one batched call, verify, add markers."""
    caps = Capabilities.of(resolve)
    if not caps.can_place_on_tracks:
        raise ResolveBuildError(caps.limits()[0])
    project = current_project(resolve)
    name = unique_timeline_name(project, spec.name)
    result = BuildResult(timeline_name=name, method="append", expected=len(spec.clips), warnings=list(spec.warnings))
    if name != spec.name:
        result.warnings.append(f"a timeline named '{spec.name}' exists; built '{name}' beside it")
    items = pool_items_for(resolve, [c.path for c in spec.clips], bin_name, log)
    conform_to_pool(spec, items, result)
    timeline = create_timeline(resolve, spec, name, log)
    result.append_calls = append_clips(resolve, timeline, spec, items, log)
    finish(timeline, spec, result, log)
    return result


def finish(timeline: Any, spec: BuildSpec, result: BuildResult, log: Log = _quiet) -> None:
    """Shared tail of both paths: verify, markers, flag colours."""
    verify(timeline, spec, result)
    add_markers(timeline, spec, result)
    color_flagged(timeline, spec, result)


def import_spec_file(
    resolve: Any,
    spec: BuildSpec,
    timeline_file: str,
    *,
    source_clips_path: str | None = None,
    log: Log = _quiet,
) -> BuildResult:
    """Import path: ``ImportTimelineFromFile`` on a file we wrote, then the same verification."""
    project = current_project(resolve)
    pool = project.GetMediaPool()
    name = unique_timeline_name(project, spec.name)
    result = BuildResult(timeline_name=name, method="import", expected=len(spec.clips), warnings=list(spec.warnings))
    if name != spec.name:
        result.warnings.append(f"a timeline named '{spec.name}' exists; built '{name}' beside it")
    _set_project_format(project, spec, log)
    options: dict[str, Any] = {"timelineName": name, "importSourceClips": True}
    if source_clips_path:
        options["sourceClipsPath"] = source_clips_path
    log(f"importing {os.path.basename(timeline_file)} as '{name}'")
    timeline = pool.ImportTimelineFromFile(timeline_file, options)
    if not timeline:
        raise ResolveBuildError(
            f"Resolve could not import {timeline_file} (ImportTimelineFromFile returned nothing): a source file may "
            "have moved, or a source range lies outside its media — check the media paths, or use the append path"
        )
    project.SetCurrentTimeline(timeline)
    rate = parse_resolve_rate(str(timeline.GetSetting("timelineFrameRate") or spec.resolve_rate))
    if rate != (spec.exact_rate, spec.drop_frame):
        result.warnings.append(
            f"imported timeline runs at {timeline.GetSetting('timelineFrameRate')} fps, the plan at {spec.resolve_rate}"
        )
    if int(timeline.GetStartFrame()) != spec.start_frame:
        result.mismatched.append(f"timeline starts at frame {timeline.GetStartFrame()}, plan at {spec.start_frame}")
    finish(timeline, spec, result, log)
    return result
