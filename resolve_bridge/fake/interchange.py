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
from typing import TYPE_CHECKING, Any, NamedTuple

import opentimelineio as otio

from kernel.atomic_io import write_text_atomic
from kernel.media_url import url_to_path as path_of
from kernel.timebase import format_rate, frames_to_timecode, parse_rate, rate_from_float, rescale_frames
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


class _Placement(NamedTuple):
    """One source clip conformed to a pool item: where it goes and which frames of the item it plays."""

    kind: str  # "video" / "audio"
    track: int  # 1-based
    item: FakeMediaPoolItem
    record: int  # timeline frames from the timeline's start
    duration: int  # timeline frames
    source_in: int  # media frames from the item's first frame
    clip: otio.schema.Clip


def _frames(time: otio.opentime.RationalTime, rate: Fraction) -> int:
    """``time`` in whole frames at ``rate``, rounded as the fake always has (Python's ``round``)."""
    return int(round(time.rescaled_to(float(rate)).value))


def import_timeline(pool: FakeMediaPool, file_path: str, options: dict[str, Any]) -> FakeTimeline | None:
    """``MediaPool.ImportTimelineFromFile`` for the fake (see module docstring for the rules)."""
    state = pool._state
    path = _timeline_file(file_path)
    if path is None:
        return None
    suffix = path.suffix.lower()
    name = str(options.get("timelineName") or path.stem)
    if suffix == ".otio" and state.version < (19, 1):
        return None  # OTIO import is documented from 19.1
    if any(t._name == name for t in pool._project._timelines):
        state.import_refusals.append(f"a timeline named {name!r} exists")
        return None  # "succeeded once and returned None twice" (MCP-LOOP)
    if suffix == ".otio" and not _shaped_as_resolve_writes(path, state):
        return None  # Resolve imports only OTIO shaped as it writes it: anything else is a silent None (MCP-LIM)
    source = _read_timeline(path)
    if source is None:
        return None  # Resolve reports nothing useful either; the bridge explains
    rate, drop = _timeline_rate(source)
    try:
        rate_name = resolve_rate_name(rate, drop)
    except Exception:
        return None
    placements = _conform(pool, source, rate, strict=suffix == ".otio", options=options)
    if placements is None:
        return None
    timeline = pool._project._new_timeline(name, rate_name)
    if timeline is None:
        return None
    _lay_out(timeline, source, placements, rate, drop)
    if state.switches.import_sets_current:
        pool._project._current_timeline = timeline
    return timeline


def _timeline_file(file_path: str) -> Path | None:
    """The file to read (``Info.fcpxml`` inside an ``.fcpxmld`` bundle), or None for what Resolve cannot import."""
    path = Path(file_path)
    if path.is_dir() and path.suffix.lower() == ".fcpxmld":
        path = path / "Info.fcpxml"
    if not path.is_file() or path.suffix.lower() not in _SUFFIXES:
        return None
    return path


def _shaped_as_resolve_writes(path: Path, state: Any) -> bool:
    """OTIO in the shape Resolve writes (resolve_otio.resolve_import_problems); why not goes to the refusals."""
    try:
        problems = resolve_import_problems(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        problems = [str(exc)]
    state.import_refusals.extend(problems)
    return not problems


def _read_timeline(path: Path) -> otio.schema.Timeline | None:
    try:
        source = otio.adapters.read_from_file(str(path))
    except Exception:
        return None
    if isinstance(source, otio.schema.SerializableCollection):
        source = next(iter(source.find_children(descended_from_type=otio.schema.Timeline)), None)
    if not isinstance(source, otio.schema.Timeline) or source.tracks is None:
        return None  # a timeline without a stack ("tracks": null) crashes OTIO's video_tracks()
    return source


def _conform(
    pool: FakeMediaPool, source: otio.schema.Timeline, rate: Fraction, *, strict: bool, options: dict[str, Any]
) -> list[_Placement] | None:
    """Each clip of ``source`` matched to a pool item (found, imported, or an offline stand-in).

    ``strict`` (OTIO import): a clip whose media is missing or whose source range lies outside its
    media's timecode space refuses the whole import (None), as Resolve does.
    """
    state = pool._state
    media = _MediaFinder(pool, options)
    placements: list[_Placement] = []
    for kind, tracks in (("video", source.video_tracks()), ("audio", source.audio_tracks())):
        for index, track in enumerate(tracks, 1):
            for clip in track.find_clips():
                url = getattr(clip.media_reference, "target_url", None)
                if not url:
                    continue
                wanted = path_of(url)
                found = _locate(wanted, media.search_root)
                if found is None and strict:
                    state.import_refusals.append(f"{wanted}: media not found")
                    return None  # OTIO import dies when media moved (MCP-LOOP)
                item = media.item_for(clip, found, wanted, rate)
                source_in = _frames(clip.source_range.start_time, item._rate) - item._start_frame
                duration = _frames(clip.source_range.duration, rate)
                length = rescale_frames(duration, rate, item._rate)
                if strict and (source_in < 0 or (item._frames and source_in + length > item._frames)):
                    state.import_refusals.append(f"{clip.name}: source range outside its media's timecode space")
                    return None  # range outside the media's timecode space (MCP-LIM)
                record = _frames(track.range_of_child(clip).start_time, rate)
                placements.append(_Placement(kind, index, item, record, duration, max(source_in, 0), clip))
    return placements


class _MediaFinder:
    """The pool item for a clip's media: one already in the pool, else imported (``importSourceClips``),
    else one of the ``sourceClipsFolders`` clips, else an offline clip."""

    def __init__(self, pool: FakeMediaPool, options: dict[str, Any]) -> None:
        self.pool = pool
        self.import_clips = bool(options.get("importSourceClips", True))
        self.search_root: str | None = options.get("sourceClipsPath")
        self.folders = options.get("sourceClipsFolders") or [pool.GetCurrentFolder()]
        self.known = {os.path.normpath(i.GetClipProperty("File Path")): i for i in pool._all_items()}

    def item_for(self, clip: otio.schema.Clip, found: str | None, wanted: str, rate: Fraction) -> FakeMediaPoolItem:
        local = os.path.normpath(found or wanted)
        item = self.known.get(local)
        if item is None and self.import_clips and found:
            item = self.pool._import_path(found)
        elif item is None and not self.import_clips:
            item = next(
                (c for f in self.folders for c in f.GetClipList() if c.GetClipProperty("File Path") == local), None
            )
        if item is None:
            item = self.pool.add_media(_offline_props(clip, local, rate))
        self.known[local] = item
        return item


def _lay_out(
    timeline: FakeTimeline, source: otio.schema.Timeline, placements: list[_Placement], rate: Fraction, drop: bool
) -> None:
    """Start timecode, tracks, the clips with their markers, then the timeline's own markers."""
    if source.global_start_time is not None:
        timeline.SetStartTimecode(frames_to_timecode(_frames(source.global_start_time, rate), rate, drop))
    while timeline.GetTrackCount("video") < len(source.video_tracks()):
        timeline.AddTrack("video")
    while timeline.GetTrackCount("audio") < len(source.audio_tracks()):
        timeline.AddTrack("audio", "stereo")
    base = timeline.GetStartFrame()
    for p in placements:
        length = rescale_frames(p.duration, rate, p.item._rate)
        placed = timeline._place(
            p.item, p.kind, p.track, base + p.record, p.source_in, p.source_in + length, p.duration
        )
        if placed is None:
            continue
        for marker in p.clip.markers:
            offset = marker.marked_range.start_time - p.clip.source_range.start_time
            _add_marker(placed._markers, marker, _frames(offset, rate), rate, str(our_meta(marker).get("kind", "")))
    for marker in source.tracks.markers:
        _add_marker(timeline._markers, marker, _frames(marker.marked_range.start_time, rate), rate, "")


def _add_marker(markers: Any, marker: otio.schema.Marker, frame: int, rate: Fraction, custom: str) -> None:
    color = _RESOLVE_COLORS.get(marker.color, "Blue")
    markers.add(frame, color, marker.name, "", max(1, _frames(marker.marked_range.duration, rate)), custom)


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
