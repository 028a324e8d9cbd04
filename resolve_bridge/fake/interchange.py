"""The fake Resolve's ``ImportTimelineFromFile`` and ``Timeline.Export``, through our own readers/writers.

Import reads any timeline file OpenTimelineIO can read (``otio.adapters.read_from_file`` picks
the adapter by suffix, so whichever OTIO/FCPXML/xmeml/EDL adapters the project registers are the
ones exercised). Export turns the fake timeline into an OTIO timeline and writes it with
``nle_adapters.write_files.serialize_timeline``. Behaviour mirrors resolve_api.md §4.3 items 7–8:
None on a duplicate timeline name, on OTIO that is not shaped as Resolve writes it
(``nle_adapters.resolve_otio.resolve_import_problems``: Clip.2 with a ``media_references`` map,
``available_range`` on each reference, bare-path ``target_url``, source ranges in the media's
timecode space), on an OTIO source range outside the pool clip's media, or on OTIO media that
cannot be found (each refusal's reason is kept in ``FakeResolve.import_refusals``, not API);
``EXPORT_FCPXML_1_10`` writes a ``.fcpxmld`` bundle with ``Info.fcpxml``.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import opentimelineio as otio

from kernel.atomic_io import write_text_atomic
from kernel.media_url import url_to_path as path_of
from kernel.timebase import format_rate, rate_from_float, rescale_frames
from nle_adapters.plan_to_otio import META, media_reference
from nle_adapters.resolve_otio import resolve_import_problems
from nle_adapters.timeline_facts import our_meta
from nle_adapters.write_files import WriteError, serialize_timeline
from resolve_bridge.fake.constants import EXPORT_CONSTANTS, EXPORT_FORMATS
from resolve_bridge.spec import resolve_rate_name

if TYPE_CHECKING:
    from resolve_bridge.fake.objects import FakeMediaPool, FakeMediaPoolItem, FakeTimeline

_SUFFIXES = {".otio", ".fcpxml", ".xml", ".edl"}
_OTIO_COLORS = {
    "Blue": otio.schema.MarkerColor.BLUE,
    "Cyan": otio.schema.MarkerColor.CYAN,
    "Green": otio.schema.MarkerColor.GREEN,
    "Yellow": otio.schema.MarkerColor.YELLOW,
    "Red": otio.schema.MarkerColor.RED,
    "Pink": otio.schema.MarkerColor.PINK,
    "Purple": otio.schema.MarkerColor.PURPLE,
    "Fuchsia": otio.schema.MarkerColor.MAGENTA,
    "Cream": otio.schema.MarkerColor.WHITE,
    "Cocoa": otio.schema.MarkerColor.BLACK,
    "Sand": otio.schema.MarkerColor.ORANGE,
}
_RESOLVE_COLORS = {v: k for k, v in _OTIO_COLORS.items()}


def _locate(path: str, search_root: str | None) -> str | None:
    if os.path.isfile(path):
        return path
    if search_root and os.path.isdir(search_root):
        name = os.path.basename(path)
        for found in Path(search_root).rglob(name):
            if found.is_file():
                return str(found)
    return None


def _timeline_rate(timeline: otio.schema.Timeline) -> tuple[Fraction, bool]:
    meta = our_meta(timeline)
    if "rate" in meta:
        from kernel.timebase import parse_rate

        return parse_rate(str(meta["rate"])), bool(meta.get("drop_frame", False))
    if timeline.global_start_time is not None:
        return rate_from_float(timeline.global_start_time.rate), False
    for clip in timeline.find_clips():
        return rate_from_float(clip.source_range.duration.rate), False
    return Fraction(24), False


def _offline_props(clip: otio.schema.Clip, path: str, rate: Fraction) -> dict[str, str]:
    ref = clip.media_reference
    avail = getattr(ref, "available_range", None)
    media_rate = rate_from_float(avail.start_time.rate) if avail else rate
    start = int(round(avail.start_time.value)) if avail else 0
    frames = int(round(avail.duration.value)) if avail else 0
    from kernel.timebase import frames_to_timecode

    return {
        "Clip Name": os.path.basename(path) or clip.name,
        "File Name": os.path.basename(path),
        "File Path": path,
        "Type": "Video",
        "FPS": resolve_rate_name(media_rate),
        "Frames": str(frames),
        "Start TC": frames_to_timecode(start, media_rate),
        "Online Status": "Offline",
        "Audio Ch": "0",
    }


def import_timeline(pool: FakeMediaPool, file_path: str, options: dict[str, Any]) -> FakeTimeline | None:
    """``MediaPool.ImportTimelineFromFile`` for the fake (see module docstring for the rules)."""
    project = pool._project
    state = pool._state
    path = Path(file_path)
    if path.is_dir() and path.suffix.lower() == ".fcpxmld":
        path = path / "Info.fcpxml"
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in _SUFFIXES:
        return None
    if suffix == ".otio" and state.version < (19, 1):
        return None  # OTIO import is documented from 19.1
    name = str(options.get("timelineName") or path.stem)
    if any(t._name == name for t in project._timelines):
        state.import_refusals.append(f"a timeline named {name!r} exists")
        return None  # "succeeded once and returned None twice" (MCP-LOOP)
    if suffix == ".otio":
        # Resolve imports only OTIO shaped as it writes it; anything else is a silent None (MCP-LIM).
        try:
            problems = resolve_import_problems(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            problems = [str(exc)]
        if problems:
            state.import_refusals.extend(problems)
            return None
    try:
        source = otio.adapters.read_from_file(str(path))
    except Exception:
        return None  # Resolve reports nothing useful either; the bridge explains
    if isinstance(source, otio.schema.SerializableCollection):
        source = next(iter(source.find_children(descended_from_type=otio.schema.Timeline)), None)
    if not isinstance(source, otio.schema.Timeline):
        return None
    rate, drop = _timeline_rate(source)
    try:
        rate_name = resolve_rate_name(rate, drop)
    except Exception:
        return None
    import_clips = bool(options.get("importSourceClips", True))
    search_root = options.get("sourceClipsPath")
    folders = options.get("sourceClipsFolders") or [pool.GetCurrentFolder()]
    placements: list[tuple[str, int, FakeMediaPoolItem, int, int, int, otio.schema.Clip]] = []
    known = {os.path.normpath(i.GetClipProperty("File Path")): i for i in pool._all_items()}
    for kind, tracks in (("video", source.video_tracks()), ("audio", source.audio_tracks())):
        for index, track in enumerate(tracks, 1):
            for clip in track.find_clips():
                ref = clip.media_reference
                url = getattr(ref, "target_url", None)
                if not url:
                    continue
                wanted = path_of(url)
                found = _locate(wanted, search_root)
                if found is None and suffix == ".otio":
                    state.import_refusals.append(f"{wanted}: media not found")
                    return None  # OTIO import dies when media moved (MCP-LOOP)
                local = os.path.normpath(found or wanted)
                item = known.get(local)
                if item is None and import_clips and found:
                    item = pool._import_path(found)
                elif item is None and not import_clips:
                    item = next(
                        (c for f in folders for c in f.GetClipList() if c.GetClipProperty("File Path") == local), None
                    )
                if item is None:
                    item = pool.add_media(_offline_props(clip, local, rate))
                known[local] = item
                media_rate = item._rate
                avail_start = item._start_frame
                src = clip.source_range
                src_start = int(round(src.start_time.rescaled_to(float(media_rate)).value))
                first = src_start - avail_start
                duration = int(round(src.duration.rescaled_to(float(rate)).value))
                length = rescale_frames(duration, rate, media_rate)
                if suffix == ".otio" and (first < 0 or (item._frames and first + length > item._frames)):
                    state.import_refusals.append(f"{clip.name}: source range outside its media's timecode space")
                    return None  # range outside the media's timecode space (MCP-LIM)
                record = int(round(track.range_of_child(clip).start_time.rescaled_to(float(rate)).value))
                placements.append((kind, index, item, record, duration, max(first, 0), clip))
    timeline = project._new_timeline(name, rate_name)
    if timeline is None:
        return None
    if source.global_start_time is not None:
        from kernel.timebase import frames_to_timecode

        start = int(round(source.global_start_time.rescaled_to(float(rate)).value))
        timeline.SetStartTimecode(frames_to_timecode(start, rate, drop))
    n_video = len(source.video_tracks())
    n_audio = len(source.audio_tracks())
    while timeline.GetTrackCount("video") < n_video:
        timeline.AddTrack("video")
    while timeline.GetTrackCount("audio") < n_audio:
        timeline.AddTrack("audio", "stereo")
    base = timeline.GetStartFrame()
    for kind, index, item, record, duration, first, clip in placements:
        length = rescale_frames(duration, rate, item._rate)
        placed = timeline._place(item, kind, index, base + record, first, first + length, duration)
        if placed is None:
            continue
        for marker in clip.markers:
            offset = marker.marked_range.start_time - clip.source_range.start_time
            placed._markers.add(
                int(round(offset.rescaled_to(float(rate)).value)),
                _RESOLVE_COLORS.get(marker.color, "Blue"),
                marker.name,
                "",
                max(1, int(round(marker.marked_range.duration.rescaled_to(float(rate)).value))),
                str(our_meta(marker).get("kind", "")),
            )
    for marker in source.tracks.markers:
        timeline._markers.add(
            int(round(marker.marked_range.start_time.rescaled_to(float(rate)).value)),
            _RESOLVE_COLORS.get(marker.color, "Blue"),
            marker.name,
            "",
            max(1, int(round(marker.marked_range.duration.rescaled_to(float(rate)).value))),
            "",
        )
    if state.switches.import_sets_current:
        project._current_timeline = timeline
    return timeline


def to_otio(timeline: FakeTimeline) -> otio.schema.Timeline:
    """The fake timeline as an OTIO timeline in the project's conventions (plan_to_otio.py)."""
    rate, drop = timeline._rate
    out = otio.schema.Timeline(name=timeline.GetName())
    start = timeline.GetStartFrame()
    out.global_start_time = otio.opentime.RationalTime(start, float(rate))
    out.metadata[META] = {"rate": format_rate(rate), "start_timecode": timeline.GetStartTimecode(), "drop_frame": drop}

    def rt(frames: int, r: Fraction) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(frames, float(r))

    for kind, otio_kind in (("video", otio.schema.TrackKind.Video), ("audio", otio.schema.TrackKind.Audio)):
        for track in timeline._tracks[kind]:
            out_track = otio.schema.Track(name=track.name, kind=otio_kind)
            position = start
            for item in track.items:
                if item._start > position:
                    out_track.append(
                        otio.schema.Gap(
                            source_range=otio.opentime.TimeRange(rt(0, rate), rt(item._start - position, rate))
                        )
                    )
                media = item._item
                m_rate = media._rate
                clip = otio.schema.Clip(
                    name=item.GetName(),
                    media_reference=media_reference(
                        media.GetClipProperty("File Path"), media._start_frame, media._frames, m_rate
                    ),
                    source_range=otio.opentime.TimeRange(
                        rt(media._start_frame + item._source_start, m_rate), rt(item._duration, rate)
                    ),
                )
                for frame, info in item._markers.by_frame.items():
                    clip.markers.append(
                        otio.schema.Marker(
                            name=info["name"],
                            marked_range=otio.opentime.TimeRange(
                                clip.source_range.start_time + rt(frame, rate), rt(int(info["duration"]), rate)
                            ),
                            color=_OTIO_COLORS.get(info["color"], otio.schema.MarkerColor.BLUE),
                        )
                    )
                out_track.append(clip)
                position = item.GetEnd()
            out.tracks.append(out_track)
    for frame, info in timeline._markers.by_frame.items():
        out.tracks.markers.append(
            otio.schema.Marker(
                name=info["name"],
                marked_range=otio.opentime.TimeRange(rt(frame, rate), rt(int(info["duration"]), rate)),
                color=_OTIO_COLORS.get(info["color"], otio.schema.MarkerColor.BLUE),
            )
        )
    return out


def export_timeline(timeline: FakeTimeline, file_name: str, export_type: Any, export_subtype: Any) -> bool:
    """``Timeline.Export`` for the fake: False (and no file) for anything Resolve would refuse."""
    state = timeline._state
    by_value = {v: k for k, (v, since) in EXPORT_CONSTANTS.items() if state.version >= since}
    if isinstance(export_type, (str, bool)) or export_type not in by_value:
        return False  # a string instead of the enum is silently rejected (MCP-LIM)
    kind = by_value[export_type]
    subtype = by_value.get(export_subtype) if not isinstance(export_subtype, (str, bool)) else None
    if kind == "EXPORT_EDL" and subtype not in ("EXPORT_NONE", "EXPORT_CDL", "EXPORT_SDL", "EXPORT_MISSING_CLIPS"):
        return False
    if kind == "EXPORT_AAF" and subtype not in ("EXPORT_AAF_NEW", "EXPORT_AAF_EXISTING"):
        return False
    fmt = EXPORT_FORMATS.get(kind)
    if fmt is None:
        return False  # a format our writers do not produce (AAF, DRT, CSV, Dolby Vision…)
    target = Path(file_name)
    if not target.parent.is_dir():
        return False
    try:
        text = serialize_timeline(to_otio(timeline), fmt)
    except WriteError:
        return False
    if kind == "EXPORT_FCPXML_1_10":
        # Resolve writes a bundle directory with Info.fcpxml inside (MCP-LOOP).
        target.mkdir(exist_ok=True)
        write_text_atomic(target / "Info.fcpxml", text)
    else:
        write_text_atomic(target, text)
    return True
