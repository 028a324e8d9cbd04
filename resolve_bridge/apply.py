"""Place a :class:`~resolve_bridge.spec.BuildSpec` in Resolve and check what Resolve actually built.

Standard library only: the Scripts-menu entries run this inside Resolve's own Python.

Resolve's API almost never raises; it returns None, False or a short list (research/resolve_api.md
§3). So every call's result is checked, and after placing clips the tracks are read back and
compared with the spec item by item: anything Resolve dropped or moved is reported by clip name
and timecode, never assumed.

Round trips are what a build costs on a real Resolve (every call on a remote object is one), so
the read-back is shaped to need about one per clip: each track is read once
(``GetItemListInTrack``), its item count compared with the plan, and each item's end frame read
and compared in memory. Resolve places an item at the ``recordFrame`` it was given or not at all
(overlaps are dropped), so a moved item moves its end and a short one ends early: the end and the
count catch every failure Resolve is known for. A track that shows any difference is read again
in full (start, duration, source in of every item) to say exactly what is wrong; the import path
also reads every source in, since that is where a file's timecode origin can go wrong. The
Lua launchers (``lua_launcher``) do the same, from the same expectations.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kernel.timebase import format_rate, frames_to_timecode, rescale_frames
from resolve_bridge.capabilities import Capabilities
from resolve_bridge.errors import ResolveBuildError, ResolveRateLockedError
from resolve_bridge.spec import (
    BuildSpec,
    ClipPlacement,
    TransitionSpec,
    exact_on_both_roundings,
    parse_resolve_rate,
    source_length_for,
)

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
    how: list[str] = field(default_factory=list)
    """What was placed how ("12 clips: AppendToTimeline, 4 calls", "2 dissolves: AddTransition"…)."""

    @property
    def ok(self) -> bool:
        return not self.dropped and not self.mismatched and self.placed == self.expected

    def lines(self) -> list[str]:
        """Human summary, one fact per line (Console output, CLI, dialog)."""
        out = [
            f"timeline '{self.timeline_name}' ({self.method}): {self.placed}/{self.expected} clips placed, "
            f"{self.markers_added}/{self.markers_expected} markers"
        ]
        out += [f"how: {h}" for h in self.how]
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


def tracks_of(spec: BuildSpec, clips: list[ClipPlacement] | None = None) -> dict[tuple[str, int], list[ClipPlacement]]:
    """Clips by (track type, index), each track in record order (``clips`` defaults to all of them)."""
    by_track: dict[tuple[str, int], list[ClipPlacement]] = {}
    for clip in spec.clips if clips is None else clips:
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
    fps_of: dict[str, str] = {}  # one read per file, not per clip: a file is cut many times
    for clip in spec.clips:
        if clip.path not in fps_of:
            fps_of[clip.path] = str(items[clip.path].GetClipProperty("FPS") or "")
        fps = fps_of[clip.path]
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


def append_clips(
    resolve: Any,
    timeline: Any,
    spec: BuildSpec,
    items: dict[str, Any],
    log: Log = _quiet,
    clips: list[ClipPlacement] | None = None,
) -> tuple[int, Any]:
    """One batched ``AppendToTimeline`` per track; returns (calls made, one placed item or None)."""
    pool = current_project(resolve).GetMediaPool()
    calls, first = 0, None
    for (kind, index), track_clips in sorted(tracks_of(spec, clips).items()):
        infos = [clip_info(c, items[c.path]) for c in track_clips]
        log(f"placing {len(infos)} clip(s) on {kind} track {index}")
        result = pool.AppendToTimeline(infos)
        calls += 1
        if result and first is None:
            first = result[0]
        if not result or len(result) < len(infos):
            log(f"Resolve returned {len(result or [])} of {len(infos)} items for {kind} track {index}")
    return calls, first


def place_speed_changes(
    resolve: Any,
    timeline: Any,
    spec: BuildSpec,
    items: dict[str, Any],
    methods: set[str],
    result: BuildResult,
    log: Log,
) -> int:
    """Append the clips with a planned speed, after the others (so ``dir()`` of a placed item says
    whether ``SetSpeed`` exists). With it, a slow clip is placed with the source frames it will
    stretch over and slowed afterwards (``apply_speeds``); without it, or for a faster clip (which
    would run into its neighbour before the change), it plays at 100 % for its planned length."""
    sped = [c for c in spec.clips if c.speed != 100.0]
    if not sped:
        return 0
    slow_ok = "SetSpeed" in methods
    for clip in sped:
        if slow_ok and clip.speed < 100.0:
            media_rate = parse_resolve_rate(clip.media_rate)[0]
            # source frames the slowed clip shows: planned length × speed, at the media's rate
            n = max(1, rescale_frames(clip.duration, spec.exact_rate, media_rate) * int(clip.speed * 1000) // 100000)
            clip.end_frame = clip.start_frame + n
            clip.speed_duration = clip.duration
            clip.duration = int(Fraction(n) * spec.exact_rate / media_rate)
    unapplied = [c for c in sped if not c.speed_duration]
    if unapplied:
        why = "this build has no TimelineItem.SetSpeed (21.1+)" if not slow_ok else "faster than 100 % is not placed"
        result.warnings.append(
            f"{len(unapplied)} clip(s) play at 100 % instead of their planned speed "
            f"(first {unapplied[0].name} at {unapplied[0].speed:g} %): {why}"
        )
    calls, _ = append_clips(resolve, timeline, spec, items, log, sped)
    return calls


def _tc(spec: BuildSpec, frame: int) -> str:
    return frames_to_timecode(frame, spec.exact_rate, spec.drop_frame)


Pairs = dict[tuple[str, int], list[tuple[ClipPlacement, Any]]]


def _where(spec: BuildSpec, clip: ClipPlacement) -> str:
    return f"{clip.name} on {clip.track_type[0].upper()}{clip.track_index} at {_tc(spec, clip.record_frame)}"


def verify(timeline: Any, spec: BuildSpec, result: BuildResult, *, check_source: bool = False) -> Pairs:
    """Read each track once and compare it with the spec (see module docstring); returns the
    (planned clip, timeline item) pairs that match, by track, for colouring and 21.1 features."""
    placed = 0
    pairs: Pairs = {}
    for (kind, index), clips in sorted(tracks_of(spec).items()):
        items = list(timeline.GetItemListInTrack(kind, index) or [])
        matched = _quick_check(clips, items, check_source) if len(items) == len(clips) else None
        if matched is None:
            matched = _full_check(spec, kind, index, clips, items, result, check_source)
        pairs[(kind, index)] = matched
        placed += len(matched)
    result.placed = placed
    return pairs


def _quick_check(clips: list[ClipPlacement], items: list[Any], check_source: bool) -> list | None:
    """One call per item (two with ``check_source``): every end frame (and source in) as planned, or None."""
    for clip, item in zip(clips, items):
        if int(item.GetEnd()) != clip.record_frame + clip.duration:
            return None
        if check_source and int(item.GetLeftOffset()) != clip.start_frame:
            return None
    return list(zip(clips, items))


def _full_check(
    spec: BuildSpec,
    kind: str,
    index: int,
    clips: list[ClipPlacement],
    items: list[Any],
    result: BuildResult,
    check_source: bool,
) -> list[tuple[ClipPlacement, Any]]:
    """Every item's start, duration and source in, to say which clip is missing, moved or wrong."""
    by_start: dict[int, Any] = {}
    for item in items:
        if item.GetMediaPoolItem() is None:
            continue  # a transition (imported with the file): listed among the clips, no media
        by_start.setdefault(int(item.GetStart()), item)
    matched = []
    for clip in clips:
        where = _where(spec, clip)
        item = by_start.pop(clip.record_frame, None)
        if item is None:
            result.dropped.append(where)
            continue
        problems = []
        duration = int(item.GetDuration())
        if duration != clip.duration:
            problems.append(f"duration {duration} ≠ {clip.duration}")
        if check_source or problems:
            left = int(item.GetLeftOffset())
            if left != clip.start_frame:
                problems.append(f"source in {left} ≠ {clip.start_frame}")
        if problems:
            result.mismatched.append(f"{where}: " + ", ".join(problems))
        else:
            matched.append((clip, item))
    for start, item in sorted(by_start.items()):
        result.mismatched.append(f"unexpected item {item.GetName()} on {kind[0].upper()}{index} at {_tc(spec, start)}")
    return matched


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


def color_flagged(pairs: Pairs, result: BuildResult) -> None:
    """Colour timeline items whose clip carries a flag (e.g. shaky, soft) so the editor sees them."""
    for matched in pairs.values():
        for clip, item in matched:
            if clip.clip_color and not item.SetClipColor(clip.clip_color):
                result.warnings.append(f"could not colour {clip.name} ({', '.join(clip.flags)})")


# ---------------------------------------------------------------- 21.1 features, by capability


def item_methods(pairs: Pairs) -> set[str]:
    """``probe_methods`` on the first verified item (the import path has no append result to probe)."""
    for matched in pairs.values():
        for _, item in matched:
            return probe_methods(item)
    return set()


def _transition_options(tr: TransitionSpec, alignment: str) -> dict[str, Any]:
    video = tr.track_type == "video"
    return {
        "type": "Cross Dissolve" if video else "Cross Fade 0 dB",
        "category": "simple" if video else "audio",
        "position": "end",
        "alignment": alignment,
        "duration": tr.frames,
    }


def add_transitions(spec: BuildSpec, pairs: Pairs, methods: set[str], result: BuildResult) -> None:
    """Planned dissolves with ``TimelineItem.AddTransition`` (21.1+), on the clip before each cut."""
    if not spec.transitions:
        return
    if "AddTransition" not in methods:
        result.warnings.append(
            f"{len(spec.transitions)} dissolve(s) are hard cuts in Resolve: this build has no "
            "TimelineItem.AddTransition (21.1+) — update, or build with --method import, which keeps them"
        )
        return
    ending = {(c.track_type, c.track_index, c.record_frame + c.duration): item for m in pairs.values() for c, item in m}
    added, refused = 0, []
    for tr in spec.transitions:
        item = ending.get((tr.track_type, tr.track_index, tr.cut_frame))
        alignment = tr.alignment
        where = f"{tr.track_type[0].upper()}{tr.track_index} at {_tc(spec, tr.cut_frame)}"
        if item is None or alignment is None:
            refused.append(f"{where} ({'its clip did not land' if item is None else 'uneven split'})")
            continue
        if item.AddTransition(_transition_options(tr, alignment)):
            added += 1
        else:
            refused.append(f"{where} (Resolve refused it: not enough source handle?)")
    if added:
        result.how.append(f"{added} dissolve(s): AddTransition")
    if refused:
        result.warnings.append(f"{len(refused)} dissolve(s) not added, first {refused[0]}")


def apply_fades(spec: BuildSpec, pairs: Pairs, methods: set[str], result: BuildResult) -> None:
    """Music fades and micro-fades with ``TimelineItem.SetFades`` (21.1+), else say where to add them."""
    faded = [(c, i) for m in pairs.values() for c, i in m if c.fade_in or c.fade_out]
    if not faded:
        return
    if "SetFades" not in methods:
        first = faded[0][0]
        result.warnings.append(
            f"{len(faded)} clip(s) need fades (first {first.name}: in {first.fade_in}, out {first.fade_out} "
            "frames) — this build has no TimelineItem.SetFades (21.1+): drag the fade handles in the Edit page"
        )
        return
    failed = [c.name for c, item in faded if not item.SetFades({"FadeIn": c.fade_in, "FadeOut": c.fade_out})]
    if len(faded) > len(failed):
        result.how.append(f"{len(faded) - len(failed)} fade(s): SetFades")
    if failed:
        result.warnings.append(f"Resolve refused the fades of {len(failed)} clip(s), first {failed[0]}")


def apply_speeds(spec: BuildSpec, pairs: Pairs, methods: set[str], result: BuildResult) -> None:
    """Speed changes with ``TimelineItem.SetSpeed`` (21.1+), each checked by reading the new length."""
    sped = [(c, i) for m in pairs.values() for c, i in m if c.speed_duration]
    if not sped or "SetSpeed" not in methods:
        return  # place_speed_changes already said which clips play at 100 %
    done = 0
    for clip, item in sped:
        if not item.SetSpeed({"Percentage": clip.speed}):
            result.mismatched.append(f"{_where(spec, clip)}: Resolve refused speed {clip.speed:g} %")
        elif int(item.GetDuration()) != clip.speed_duration:
            result.mismatched.append(
                f"{_where(spec, clip)}: at {clip.speed:g} % it runs {item.GetDuration()} frames, "
                f"planned {clip.speed_duration}"
            )
        else:
            done += 1
    if done:
        result.how.append(f"{done} speed change(s): SetSpeed")


def mixed_rate_note(spec: BuildSpec) -> str | None:
    """How many mixed-rate clips rely on Resolve flooring (exact multiples), for the report."""
    rate = spec.exact_rate
    risky = [
        c
        for c in spec.clips
        if not exact_on_both_roundings(c.end_frame - c.start_frame, rate, parse_resolve_rate(c.media_rate)[0])
    ]
    if not risky:
        return None
    return (
        f"{len(risky)} mixed-rate clip(s) (first {risky[0].name}) land exactly only where Resolve rounds lengths "
        "down rather than one frame short; each one's length was read back"
    )


def apply_spec(resolve: Any, spec: BuildSpec, *, bin_name: str = "Montage Bridge", log: Log = _quiet) -> BuildResult:
    """Append path: create the timeline, place each track in one batched call, verify, then markers,
    colours and the 21.1 features (dissolves, fades, speed) where this Resolve has them."""
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
    calls, first = append_clips(resolve, timeline, spec, items, log, [c for c in spec.clips if c.speed == 100.0])
    methods = probe_methods(first)
    calls += place_speed_changes(resolve, timeline, spec, items, methods, result, log)
    result.append_calls = calls
    result.how.append(f"{len(spec.clips)} clip(s): AppendToTimeline, {calls} call(s), one per track")
    note = mixed_rate_note(spec)
    if note:
        result.how.append(note)
    finish(timeline, spec, result, log, methods=methods, transitions=True)
    return result


def probe_methods(item: Any) -> set[str]:
    """The TimelineItem methods this Resolve has, from ``dir()`` of a placed item (one round trip).

    Capability, not version: the API changes per patch release and ``hasattr`` is always True on
    Resolve's objects (resolve_api.md §2.0), so ``dir()`` is the honest probe.
    """
    if item is None:
        return set()
    try:
        return {n for n in dir(item) if n[:1].isupper()}
    except Exception:  # a remote object that cannot list itself: assume the oldest surface
        return set()


def finish(
    timeline: Any,
    spec: BuildSpec,
    result: BuildResult,
    log: Log = _quiet,
    *,
    methods: set[str] | None = None,
    transitions: bool = False,
    check_source: bool = False,
    reframe: bool = True,
) -> None:
    """Shared tail of both paths: verify (each track read once), markers, flag colours, and the
    21.1 features by capability: dissolves (append path only: an imported file carries its own),
    fades, speed changes."""
    pairs = verify(timeline, spec, result, check_source=check_source)
    add_markers(timeline, spec, result)
    color_flagged(pairs, result)
    if methods is None:
        methods = item_methods(pairs)
    if transitions:
        add_transitions(spec, pairs, methods, result)
    apply_fades(spec, pairs, methods, result)
    apply_speeds(spec, pairs, methods, result)
    if reframe:
        apply_transforms(pairs, methods, result)
    link_proxies(pairs, result)


def apply_transforms(pairs: Pairs, methods: set[str], result: BuildResult) -> None:
    """Each reframed clip's Scaling/Zoom/Pan/Tilt with ``TimelineItem.SetProperty`` (18.0+), read back."""
    framed = [(clip, item) for matched in pairs.values() for clip, item in matched if clip.transform]
    if not framed:
        return
    if "SetProperty" not in methods:
        result.warnings.append(
            f"reframe of {len(framed)} clip(s) not applied: this build has no TimelineItem.SetProperty (18.0+) — "
            "import the FCPXML or FCP 7 XML for the crop"
        )
        return
    refused: list[str] = []
    for clip, item in framed:
        for key, value in clip.transform.items():
            if not item.SetProperty(key, value) or item.GetProperty(key) != value:
                refused.append(f"{clip.name} ({key} {value})")
                break
    if len(refused) < len(framed):
        result.how.append(f"{len(framed) - len(refused)} reframe(s): SetProperty Scaling, ZoomX/Y, Pan, Tilt")
    if refused:
        result.warnings.append(f"Resolve refused the reframe of {len(refused)} clip(s), first {refused[0]}")


def link_proxies(pairs: Pairs, result: BuildResult) -> None:
    """Link each placed original's pool item to its proxy (``MediaPoolItem.LinkProxyMedia``), once per file."""
    wanted: dict[str, tuple[str, Any]] = {}
    for matched in pairs.values():
        for clip, item in matched:
            if clip.proxy_path and clip.path not in wanted:
                wanted[clip.path] = (clip.proxy_path, item)
    if not wanted:
        return
    refused = []
    for original, (proxy, item) in wanted.items():
        pool_item = item.GetMediaPoolItem()
        if pool_item is None or not pool_item.LinkProxyMedia(proxy):
            refused.append(f"{os.path.basename(proxy)} (for {os.path.basename(original)})")
    if len(refused) < len(wanted):
        result.how.append(f"{len(wanted) - len(refused)} proxy link(s): LinkProxyMedia")
    if refused:
        result.warnings.append(
            f"Resolve did not link {len(refused)} proxy file(s), first {refused[0]}: the originals play instead"
        )


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
    result.how.append(f"{len(spec.clips)} clip(s): ImportTimelineFromFile ({os.path.basename(timeline_file)})")
    # FCPXML and FCP 7 XML carry the reframe keyframes themselves; an OTIO import does not.
    finish(timeline, spec, result, log, check_source=True, reframe=timeline_file.endswith(".otio"))
    return result
