"""An in-process fake DaVinci Resolve for tests, demos and trying the bridge without Resolve.

It follows research/resolve_api.md §4: the same method names, argument shapes, return types and
*silent* failure modes as the real scripting API (README copy in tests/data/resolve/), backed by
plain Python data. What it encodes, each one a test oracle:

- frame model: ``timelineFrameRate`` strings (``"23.976"``, ``"29.97 DF"``); a timeline starts at
  01:00:00:00 → ``GetStartFrame()`` 86400 @24, 90000 @25, 108000 @29.97 NDF; the project rate is
  locked once a timeline exists (switch ``rate_lock``);
- ``AppendToTimeline``: current timeline only; clipInfo ``startFrame`` inclusive / ``endFrame``
  exclusive source frames; absolute ``recordFrame``; 1-based ``trackIndex``; ``mediaType`` 1/2;
  overlapping clipInfos silently dropped (earlier wins); the result list may be short; a
  mixed-rate clip's length is *floored* onto the timeline grid (MCP-LIM), or with switch
  ``mixed_rate_rounding="short"`` lands one frame short of its rounded-up length (the quirk of
  davinci-resolve-mcp PR #111, which floors to the same value except on exact multiples);
- clip properties are strings (``"FPS": "29.97"``, ``"Frames": "360"``, ``"Start TC"`` …);
- timeline markers are relative to the timeline start, item markers to the item;
- ``ImportTimelineFromFile`` reads through OpenTimelineIO (our adapters), ``Timeline.Export``
  writes through ``nle_adapters.write_files.serialize_timeline`` (FCPXML 1.10 as a ``.fcpxmld``
  bundle holding ``Info.fcpxml``);
- edition and version profiles (``"18.0"``, ``"18.5"``, ``"19"``, ``"20"``, ``"21"``, ``"21.1"``;
  free or Studio): methods a build lacks are missing from ``dir()`` and behave like unknown
  attributes (``None``, or ``AttributeError`` with ``strict=True``); 21.1 adds
  ``TimelineItem.AddTransition/SetSpeed/SetFades/GetFades`` (shapes from davinci-resolve-mcp's
  contributor-validated 21.1.0.14 notes: ``resolve211-native-transitions.md``,
  ``resolve211-speed-fades.md``);
- a call count: every Resolve method called from outside the fake is counted once
  (``api_calls``, a Counter by method name; calls the fake makes on itself are not), so tests
  can hold the bridge to a round-trip budget;
- failure switches (:class:`FakeSwitches`): dropped clips, import failures, refused markers…

Public helpers that are not Resolve API are lower-case (``add_media``, ``module``,
``menu_globals``); everything Resolve-shaped is CamelCase as in the README.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import types
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from kernel.timebase import (
    TimecodeError,
    format_rate,
    frames_to_timecode,
    rate_from_float,
    supports_drop_frame,
    timecode_to_frames,
)
from resolve_bridge.fake.constants import AUDIO_SUFFIXES, EXPORT_CONSTANTS, PROFILES, VIDEO_SUFFIXES
from resolve_bridge.spec import CLIP_COLORS, MARKER_COLORS, parse_resolve_rate, resolve_rate_name


@dataclass
class FakeSwitches:
    """Failure injection and behaviour switches (defaults: what the real Resolve does, as far as known)."""

    drop_clip_names: set[str] = field(default_factory=set)
    """AppendToTimeline silently skips clipInfos for media pool items with these names."""
    nudge_clip_names: set[str] = field(default_factory=set)
    """AppendToTimeline places these one frame later than asked (to prove verification catches it)."""
    import_media_fails: bool = False
    import_timeline_fails: bool = False
    export_fails: bool = False
    rate_lock: str = "timeline"
    """When the project rate stops being settable: "timeline" (once a timeline exists), "media", "never"."""
    marker_on_occupied_frame_fails: bool = True
    duplicate_timeline_name_returns_none: bool = True
    import_sets_current: bool = False
    not_running: bool = False
    external_scripting: str = "local"
    """Preferences ▸ General ▸ External scripting using: "none", "local" or "network"."""
    python_too_new: bool = False
    """The scripting library refuses this Python (e.g. 3.13 on an older build): import fails."""
    mixed_rate_rounding: str = "floor"
    """How a mixed-rate append's length lands on the timeline grid: "floor" (MCP-LIM, measured 19.1)
    or "short" (ceil − 1: one frame short even on exact multiples, PR #111's literal report)."""


class _State:
    """Shared by every object of one fake Resolve: version, edition, ids, switches, call log."""

    def __init__(self, version: tuple[int, ...], studio: bool, strict: bool, switches: FakeSwitches) -> None:
        self.version = version
        self.studio = studio
        self.strict = strict
        self.switches = switches
        self.next_id = 0
        self.calls: list[tuple[str, int]] = []
        self.api_calls: Counter[str] = Counter()
        self.import_refusals: list[str] = []  # why ImportTimelineFromFile answered None (Resolve never says)
        self.depth = 0  # > 0 while a Resolve method runs: calls the fake makes on itself are not counted

    def new_id(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}-{self.next_id:06d}"

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Run fake-internal code (loading a database, seeding a pool) without counting its calls."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1


def _counted(state: _State, name: str, method: Any) -> Any:
    """``method`` wrapped so one call from outside the fake counts once, whatever it calls inside."""

    def call(*args: Any, **kwargs: Any) -> Any:
        state.api_calls[name] += 1
        state.depth += 1
        try:
            return method(*args, **kwargs)
        finally:
            state.depth -= 1

    return call


class _Remote:
    """Base of every fake object: version-gated methods, Resolve-style unknown attributes, ids."""

    _since: dict[str, tuple[int, ...]] = {}

    def __init__(self, state: _State, prefix: str) -> None:
        object.__setattr__(self, "_state", state)
        object.__setattr__(self, "_id", state.new_id(prefix))

    def __getattribute__(self, name: str) -> Any:
        if name[:1].isupper():
            state = object.__getattribute__(self, "_state")
            since = type(self)._since.get(name)
            if since is not None and state.version < since:
                return object.__getattribute__(self, "_unknown")(name)
            value = object.__getattribute__(self, name)
            if state.depth == 0 and callable(value):
                return _counted(state, name, value)
            return value
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._unknown(name)

    def _unknown(self, name: str) -> Any:
        # Real objects answer any attribute with None (so hasattr() is always True); strict mode raises.
        if self._state.strict:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r} in Resolve {self._state.version}")
        return None

    def __dir__(self) -> Iterable[str]:
        names = [n for n in dir(type(self)) if n[:1].isupper() and callable(getattr(type(self), n, None))]
        return [n for n in names if self._state.version >= type(self)._since.get(n, (0,))]

    def GetUniqueId(self) -> str:
        return self._id

    def __repr__(self) -> str:
        return f"<Fake{type(self).__name__.removeprefix('Fake')} {self._id}>"


# ---------------------------------------------------------------- markers


class _Markers:
    """Marker storage shared by Timeline, TimelineItem and MediaPoolItem (frame → info)."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self.by_frame: dict[int, dict[str, Any]] = {}

    def add(self, frame: Any, color: str, name: str, note: str, duration: Any, custom: str = "") -> bool:
        try:
            f = int(frame)
            d = int(duration)
        except (TypeError, ValueError):
            return False
        if f < 0 or d < 1 or color not in MARKER_COLORS:
            return False
        if f in self.by_frame and self.state.switches.marker_on_occupied_frame_fails:
            return False
        self.by_frame[f] = {
            "color": color,
            "duration": float(d),
            "note": str(note),
            "name": str(name),
            "customData": str(custom),
        }
        return True

    def get(self) -> dict[float, dict[str, Any]]:
        return {float(f): dict(info) for f, info in sorted(self.by_frame.items())}

    def delete_at(self, frame: Any) -> bool:
        return self.by_frame.pop(int(frame), None) is not None

    def delete_by_color(self, color: str) -> bool:
        doomed = [f for f, i in self.by_frame.items() if color == "All" or i["color"] == color]
        for f in doomed:
            del self.by_frame[f]
        return bool(doomed)

    def by_custom(self, custom: str) -> dict[str, Any]:
        for _, info in sorted(self.by_frame.items()):
            if info["customData"] == custom:
                return dict(info)
        return {}

    def delete_by_custom(self, custom: str) -> bool:
        for f, info in sorted(self.by_frame.items()):
            if info["customData"] == custom:
                del self.by_frame[f]
                return True
        return False


class _MarkerMethods:
    """The README's marker family, identical on Timeline, TimelineItem and MediaPoolItem."""

    _markers: _Markers

    def AddMarker(self, frameId: Any, color: str, name: str, note: str, duration: Any, customData: str = "") -> bool:
        return self._markers.add(frameId, color, name, note, duration, customData)

    def GetMarkers(self) -> dict[float, dict[str, Any]]:
        return self._markers.get()

    def GetMarkerByCustomData(self, customData: str) -> dict[str, Any]:
        return self._markers.by_custom(customData)

    def UpdateMarkerCustomData(self, frameId: Any, customData: str) -> bool:
        info = self._markers.by_frame.get(int(frameId))
        if info is None:
            return False
        info["customData"] = str(customData)
        return True

    def GetMarkerCustomData(self, frameId: Any) -> str:
        return self._markers.by_frame.get(int(frameId), {}).get("customData", "")

    def DeleteMarkersByColor(self, color: str) -> bool:
        return self._markers.delete_by_color(color)

    def DeleteMarkerAtFrame(self, frameNum: Any) -> bool:
        return self._markers.delete_at(frameNum)

    def DeleteMarkerByCustomData(self, customData: str) -> bool:
        return self._markers.delete_by_custom(customData)


class _ColorAndFlagMethods:
    """Clip colour and flags, identical on MediaPoolItem and TimelineItem."""

    _color: str
    _flags: list[str]

    def GetClipColor(self) -> str:
        return self._color

    def SetClipColor(self, colorName: str) -> bool:
        if colorName not in CLIP_COLORS:
            return False
        self._color = colorName
        return True

    def ClearClipColor(self) -> bool:
        self._color = ""
        return True

    def AddFlag(self, color: str) -> bool:
        self._flags.append(color)
        return True

    def GetFlagList(self) -> list[str]:
        return list(self._flags)

    def ClearFlags(self, color: str) -> bool:
        self._flags = [] if color == "All" else [c for c in self._flags if c != color]
        return True


# ---------------------------------------------------------------- media pool


class FakeMediaPoolItem(_MarkerMethods, _ColorAndFlagMethods, _Remote):
    """A clip in the media pool: properties as strings, the way GetClipProperty returns them."""

    _since = {"GetMarkInOut": (19, 1), "SetMarkInOut": (19, 1), "ClearMarkInOut": (19, 1), "SetName": (20, 2)}

    def __init__(self, state: _State, props: dict[str, str]) -> None:
        super().__init__(state, "mpi")
        self._props = dict(props)
        self._metadata: dict[str, str] = {}
        self._markers = _Markers(state)
        self._color = ""
        self._flags: list[str] = []
        self._mark: dict[str, dict[str, int]] = {}

    # facts the fake itself needs, parsed back from the strings
    @property
    def _rate(self) -> Fraction:
        return parse_resolve_rate(self._props.get("FPS", "24"))[0]

    @property
    def _frames(self) -> int:
        return int(self._props.get("Frames", "0") or 0)

    @property
    def _has_video(self) -> bool:
        return "Video" in self._props.get("Type", "")

    @property
    def _has_audio(self) -> bool:
        return int(self._props.get("Audio Ch", "0") or 0) > 0

    @property
    def _start_frame(self) -> int:
        tc = self._props.get("Start TC", "00:00:00:00")
        return timecode_to_frames(tc, self._rate)

    def GetName(self) -> str:
        return self._props.get("Clip Name", "")

    def SetName(self, name: str) -> bool:
        self._props["Clip Name"] = str(name)
        return True

    def GetClipProperty(self, propertyName: str | None = None) -> Any:
        if not propertyName:
            return dict(self._props)
        return self._props.get(propertyName, "")

    def LinkProxyMedia(self, proxyMediaFilePath: str) -> bool:
        """README: links the proxy at an absolute clip path. The fake refuses a relative path or a
        missing file (UNVERIFIED how Resolve answers those) and reports the link in the read-only
        ``Proxy``/``Proxy Media Path`` properties (values UNVERIFIED: "On" and the path)."""
        path = str(proxyMediaFilePath or "")
        if not os.path.isabs(path) or not os.path.isfile(path) or not self._has_video:
            return False
        self._props["Proxy"] = "On"
        self._props["Proxy Media Path"] = path
        return True

    def UnlinkProxyMedia(self) -> bool:
        if not self._props.get("Proxy Media Path"):
            return False
        self._props["Proxy"] = "None"
        self._props["Proxy Media Path"] = ""
        return True

    def SetClipProperty(self, propertyName: str, propertyValue: str) -> bool:
        if propertyName not in ("Start TC", "Reel Name", "Comments", "Clip Name", "Slate TC"):
            return False
        self._props[propertyName] = str(propertyValue)
        return True

    def GetMetadata(self, metadataType: str | None = None) -> Any:
        if metadataType is None:
            return dict(self._metadata)
        return self._metadata.get(metadataType, "")

    def SetMetadata(self, metadataType: Any, metadataValue: str | None = None) -> bool:
        if isinstance(metadataType, dict):
            self._metadata.update({str(k): str(v) for k, v in metadataType.items()})
            return True
        self._metadata[str(metadataType)] = str(metadataValue)
        return True

    def GetMediaId(self) -> str:
        return f"media-{self._id}"

    def GetMarkInOut(self) -> dict[str, dict[str, int]]:
        return {k: dict(v) for k, v in self._mark.items()}

    def SetMarkInOut(self, mark_in: int, mark_out: int, type: str = "all") -> bool:  # noqa: A002 - README name
        for kind in ("video", "audio") if type == "all" else (type,):
            self._mark[kind] = {"in": int(mark_in), "out": int(mark_out)}
        return True

    def ClearMarkInOut(self, type: str = "all") -> bool:  # noqa: A002 - README name
        for kind in ("video", "audio") if type == "all" else (type,):
            self._mark.pop(kind, None)
        return True


class FakeFolder(_Remote):
    """A media pool bin."""

    _since = {"GetIsFolderStale": (18, 0), "Export": (18, 5)}

    def __init__(self, state: _State, name: str) -> None:
        super().__init__(state, "folder")
        self._name = name
        self._clips: list[FakeMediaPoolItem] = []
        self._subfolders: list[FakeFolder] = []

    def GetName(self) -> str:
        return self._name

    def GetClipList(self) -> list[FakeMediaPoolItem]:
        return list(self._clips)

    def GetSubFolderList(self) -> list[FakeFolder]:
        return list(self._subfolders)

    def GetIsFolderStale(self) -> bool:
        return False

    def _walk(self) -> list[FakeFolder]:
        out = [self]
        for sub in self._subfolders:
            out.extend(sub._walk())
        return out


def clip_properties(media: Any, project_rate: Fraction | None = None) -> dict[str, str]:
    """Clip properties as Resolve reports them (all strings) for an ``analysis.models.MediaItem``.

    Audio-only files get the project's timeline rate as FPS, frozen at import (MCP-LIM).
    """
    has_video = bool(media.has_video)
    if has_video:
        rate, frames, start = Fraction(media.rate), int(media.frames), int(media.start_frame)
        drop = bool(media.drop_frame)
    else:
        rate = project_rate or Fraction(24)
        frames = int(Fraction(str(media.duration_seconds)) * rate)
        start, drop = 0, False
    channels = int(media.audio_channels)
    kind = ("Video + Audio" if channels else "Video") if has_video else "Audio"
    path = Path(media.path)
    props = {
        "Clip Name": str(media.name),
        "File Name": path.name,
        "File Path": str(path),
        "Clip Directory": str(path.parent),
        "Type": kind,
        "FPS": resolve_rate_name(rate) if _is_resolve_rate(rate) else f"{float(rate):.3f}",
        "Frames": str(frames),
        "Start": str(start),
        "End": str(start + max(frames - 1, 0)),
        "Start TC": frames_to_timecode(start, rate, drop),
        "End TC": frames_to_timecode(start + frames, rate, drop),
        "Duration": frames_to_timecode(frames, rate, drop),
        "Drop frame": "1" if drop else "0",
        "Resolution": f"{media.width}x{media.height}" if has_video else "",
        "Audio Ch": str(channels),
        "Sample Rate": str(media.audio_sample_rate or ""),
        "Format": path.suffix.lstrip(".").upper(),
    }
    return props


def _is_resolve_rate(rate: Fraction) -> bool:
    try:
        resolve_rate_name(rate)
    except Exception:
        return False
    return True


class FakeMediaPool(_Remote):
    _since = {
        "GetSelectedClips": (19, 0, 2),
        "SetSelectedClip": (19, 0, 2),
        "ImportFolderFromFile": (18, 5),
        "DeleteTimelines": (18, 0),
    }

    def __init__(self, state: _State, project: FakeProject) -> None:
        super().__init__(state, "pool")
        self._project = project
        self._root = FakeFolder(state, "Master")
        self._current = self._root
        self._selected: list[FakeMediaPoolItem] = []

    # -- helpers (not API)
    def add_media(self, media: Any, folder: FakeFolder | None = None) -> FakeMediaPoolItem:
        """Put a clip described by an ``analysis.models.MediaItem`` (or a props dict) in ``folder``."""
        props = dict(media) if isinstance(media, dict) else clip_properties(media, self._project._rate()[0])
        item = FakeMediaPoolItem(self._state, props)
        (folder or self._current)._clips.append(item)
        return item

    def add_bin(self, path: str) -> FakeFolder:
        """Create (or find) bin ``"A/B"`` under the root."""
        folder = self._root
        with self._state.quiet():
            for part in [p for p in path.split("/") if p]:
                found = next((f for f in folder._subfolders if f._name == part), None)
                if found is None:
                    found = self.AddSubFolder(folder, part)
                if found is None:  # AddSubFolder refuses only a non-folder or an empty name
                    raise ValueError(f"the fake media pool cannot make bin {part!r} of {path!r}")
                folder = found
        return folder

    def _all_items(self) -> list[FakeMediaPoolItem]:
        return [c for f in self._root._walk() for c in f._clips]

    def _import_path(self, path: str) -> FakeMediaPoolItem | None:
        from kernel.errors import MediaError
        from kernel.probe import probe_media

        try:
            media = probe_media(path)
        except MediaError:
            return None  # Resolve returns fewer items, no error (media-pool-ingest kernel)
        return self.add_media(media)

    # -- README API
    def GetRootFolder(self) -> FakeFolder:
        return self._root

    def GetCurrentFolder(self) -> FakeFolder:
        return self._current

    def SetCurrentFolder(self, folder: Any) -> bool:
        if not isinstance(folder, FakeFolder) or folder not in self._root._walk():
            return False
        self._current = folder
        return True

    def AddSubFolder(self, folder: Any, name: str) -> FakeFolder | None:
        if not isinstance(folder, FakeFolder) or not name:
            return None
        sub = FakeFolder(self._state, str(name))
        folder._subfolders.append(sub)
        return sub

    def ImportMedia(self, items: Any) -> list[FakeMediaPoolItem]:
        if self._state.switches.import_media_fails or not isinstance(items, list):
            return []
        out = []
        for entry in items:
            path = entry.get("FilePath") if isinstance(entry, dict) else entry
            if not isinstance(path, str) or not os.path.isfile(path):
                continue
            item = self._import_path(path)
            if item is not None:
                out.append(item)
        return out

    def GetSelectedClips(self) -> list[FakeMediaPoolItem]:
        return list(self._selected)

    def SetSelectedClip(self, item: Any) -> bool:
        if not isinstance(item, FakeMediaPoolItem):
            return False
        self._selected = [item]
        return True

    def select(self, items: list[FakeMediaPoolItem]) -> None:
        """Select several clips (the UI can; the API selects one at a time)."""
        self._selected = list(items)

    def CreateEmptyTimeline(self, name: str) -> FakeTimeline | None:
        return self._project._new_timeline(str(name))

    def DeleteTimelines(self, timelines: list[Any]) -> bool:
        return self._project._delete_timelines(timelines)

    def DeleteClips(self, clips: list[Any]) -> bool:
        found = False
        for folder in self._root._walk():
            before = len(folder._clips)
            folder._clips = [c for c in folder._clips if c not in clips]
            found |= len(folder._clips) != before
        return found

    def MoveClips(self, clips: list[Any], targetFolder: Any) -> bool:
        if not isinstance(targetFolder, FakeFolder) or not self.DeleteClips(clips):
            return False
        targetFolder._clips.extend(clips)
        return True

    def AppendToTimeline(self, *args: Any) -> list[FakeTimelineItem] | bool:
        timeline = self._project._current_timeline
        entries = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        self._state.calls.append(("AppendToTimeline", len(entries)))
        if timeline is None:
            return [] if self._state.version >= (18,) else False
        out: list[FakeTimelineItem] = []
        for entry in entries:
            out.extend(timeline._append(entry))
        return out

    def CreateTimelineFromClips(self, name: str, *args: Any) -> FakeTimeline | None:
        timeline = self._project._new_timeline(str(name))
        if timeline is None:
            return None
        entries = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        for entry in entries:
            if isinstance(entry, dict):  # no track or media type in this form (MCP-LIM)
                entry = {k: v for k, v in entry.items() if k not in ("trackIndex", "mediaType")}
            timeline._append(entry)
        return timeline

    def ImportTimelineFromFile(self, filePath: str, importOptions: dict[str, Any] | None = None) -> Any:
        self._state.calls.append(("ImportTimelineFromFile", 1))
        if self._state.switches.import_timeline_fails:
            return None
        # Imported when used: it needs OpenTimelineIO, and the fake must load in a bare Python
        # (the Scripts-menu tests drive it from an interpreter without our dependencies).
        from resolve_bridge.fake.interchange import import_timeline

        return import_timeline(self, str(filePath), dict(importOptions or {}))

    def GetUniqueId(self) -> str:
        return self._id


# ---------------------------------------------------------------- timeline


# README "Looking up Timeline item properties": the transform keys the builder sets, with their
# documented ranges ("width"/"height": the timeline's); numbers are floats, the rest as listed.
_ITEM_PROPERTY_DEFAULTS: dict[str, Any] = {
    "Pan": 0.0,
    "Tilt": 0.0,
    "ZoomX": 1.0,
    "ZoomY": 1.0,
    "ZoomGang": True,
    "RotationAngle": 0.0,
    "AnchorPointX": 0.0,
    "AnchorPointY": 0.0,
    "Pitch": 0.0,
    "Yaw": 0.0,
    "FlipX": False,
    "FlipY": False,
    "CropLeft": 0.0,
    "CropRight": 0.0,
    "CropTop": 0.0,
    "CropBottom": 0.0,
    "Opacity": 100.0,
    "Scaling": 0,  # SCALE_USE_PROJECT
}
_ITEM_PROPERTY_RANGES: dict[str, tuple[str, float, float]] = {
    # key: (scale by "width" / "height" / "" , low, high)
    "Pan": ("width", -4.0, 4.0),
    "Tilt": ("height", -4.0, 4.0),
    "ZoomX": ("", 0.0, 100.0),
    "ZoomY": ("", 0.0, 100.0),
    "RotationAngle": ("", -360.0, 360.0),
    "AnchorPointX": ("width", -4.0, 4.0),
    "AnchorPointY": ("height", -4.0, 4.0),
    "Pitch": ("", -1.5, 1.5),
    "Yaw": ("", -1.5, 1.5),
    "CropLeft": ("width", 0.0, 1.0),
    "CropRight": ("width", 0.0, 1.0),
    "CropTop": ("height", 0.0, 1.0),
    "CropBottom": ("height", 0.0, 1.0),
    "Opacity": ("", 0.0, 100.0),
}
_ITEM_PROPERTY_CHOICES: dict[str, tuple[int, ...]] = {
    "Scaling": (0, 1, 2, 3, 4)
}  # USE_PROJECT, CROP, FIT, FILL, STRETCH


class FakeTimelineItem(_MarkerMethods, _ColorAndFlagMethods, _Remote):
    _since = {
        "GetTrackTypeAndIndex": (19,),
        "GetLinkedItems": (19,),
        "GetSourceStartFrame": (19, 0, 2),
        "GetSourceEndFrame": (19, 0, 2),
        "GetSourceStartTime": (19, 0, 2),
        "GetSourceEndTime": (19, 0, 2),
        "SetClipEnabled": (18, 5),
        "SetName": (20, 2),
        "AddTransition": (21, 1),
        "SetSpeed": (21, 1),
        "SetFades": (21, 1),
        "GetFades": (21, 1),
        "GetProperty": (18,),
        "SetProperty": (18,),
    }

    def __init__(
        self,
        state: _State,
        item: FakeMediaPoolItem,
        track: _Track,
        start: int,
        duration: int,
        source_start: int,
        source_end: int,
    ) -> None:
        super().__init__(state, "ti")
        self._item = item
        self._track = track
        self._start = start
        self._duration = duration
        self._source_start = source_start
        self._source_end = source_end
        self._markers = _Markers(state)
        self._color = ""
        self._enabled = True
        self._linked: list[FakeTimelineItem] = []
        self._properties: dict[str, Any] = dict(_ITEM_PROPERTY_DEFAULTS)
        self._name = item.GetName()
        self._flags: list[str] = []
        self._fades = {"FadeIn": 0, "FadeOut": 0}
        self._speed = 100.0

    def GetName(self) -> str:
        return self._name

    def SetName(self, name: str) -> bool:
        self._name = str(name)
        return True

    def GetStart(self, subframe_precision: bool = False) -> int:
        return self._start

    def GetEnd(self, subframe_precision: bool = False) -> int:
        return self._start + self._duration

    def GetDuration(self, subframe_precision: bool = False) -> int:
        return self._duration

    def GetLeftOffset(self, subframe_precision: bool = False) -> int:
        # = the clipInfo startFrame that was sent (MCP-LIM); in source frames
        return self._source_start

    def GetRightOffset(self, subframe_precision: bool = False) -> int:
        # UNVERIFIED interpretation (resolve_api.md §4.3): source frames left after endFrame
        return max(self._item._frames - self._source_end, 0)

    def GetSourceStartFrame(self) -> int:
        return self._source_start

    def GetSourceEndFrame(self) -> int:
        return self._source_end

    def GetSourceStartTime(self) -> float:
        return float((self._item._start_frame + self._source_start) / self._item._rate)

    def GetSourceEndTime(self) -> float:
        return float((self._item._start_frame + self._source_end) / self._item._rate)

    def GetProperty(self, propertyKey: str | None = None) -> Any:
        if not propertyKey:
            return dict(self._properties)
        return self._properties.get(propertyKey)

    def SetProperty(self, propertyKey: str, propertyValue: Any) -> bool:
        """The README's keys and ranges; anything else (or out of range) is refused with False."""
        key = str(propertyKey)
        if key in ("ZoomGang", "FlipX", "FlipY"):
            if not isinstance(propertyValue, bool):
                return False
            self._properties[key] = propertyValue
            return True
        if key in _ITEM_PROPERTY_CHOICES:
            if isinstance(propertyValue, bool) or propertyValue not in _ITEM_PROPERTY_CHOICES[key]:
                return False
            self._properties[key] = int(propertyValue)
            return True
        if key not in _ITEM_PROPERTY_RANGES or isinstance(propertyValue, bool):
            return False
        try:
            value = float(propertyValue)
        except (TypeError, ValueError):
            return False
        dimension, low, high = _ITEM_PROPERTY_RANGES[key]
        size = self._frame_size()[0 if dimension == "width" else 1] if dimension else 1.0
        if not math.isfinite(value) or not low * size <= value <= high * size:
            return False
        self._properties[key] = value
        if key in ("ZoomX", "ZoomY") and self._properties.get("ZoomGang"):
            self._properties["ZoomY" if key == "ZoomX" else "ZoomX"] = value
        return True

    def _frame_size(self) -> tuple[float, float]:
        timeline = self._track.timeline
        try:
            width = float(timeline.GetSetting("timelineResolutionWidth")) if timeline is not None else 1920.0
            height = float(timeline.GetSetting("timelineResolutionHeight")) if timeline is not None else 1080.0
        except (TypeError, ValueError):
            return 1920.0, 1080.0
        return width, height

    def GetMediaPoolItem(self) -> FakeMediaPoolItem:
        return self._item

    def GetTrackTypeAndIndex(self) -> list[Any]:
        return [self._track.kind, self._track.index]

    def GetLinkedItems(self) -> list[FakeTimelineItem]:
        return list(self._linked)

    def SetClipEnabled(self, enabled: bool) -> bool:
        self._enabled = bool(enabled)
        return True

    def GetClipEnabled(self) -> bool:
        return self._enabled

    # -- 21.1 (shapes: davinci-resolve-mcp resolve211-native-transitions.md / resolve211-speed-fades.md)
    def _right_handle(self) -> int:
        """Timeline frames of source left after this item's out point (what a transition may borrow)."""
        tl_rate = self._track.timeline._rate[0]
        left = max(self._item._frames - self._source_end, 0)
        return int(Fraction(left) * tl_rate / self._item._rate)

    def _left_handle(self) -> int:
        tl_rate = self._track.timeline._rate[0]
        return int(Fraction(self._source_start) * tl_rate / self._item._rate)

    def AddTransition(self, options: Any) -> FakeTransitionItem | None:
        """A transition at this item's start or end; None when the options or the handles do not allow it.

        Centred on the cut it needs half its frames of handle on each side (the incoming clip's
        source before its in point, the outgoing clip's source after its out point); "left" lies
        wholly before the cut, "right" wholly after. ``duration`` None → 8 frames (what 21.1.0.14
        chose for the measured fixture; UNVERIFIED as a default).
        """
        if not isinstance(options, dict) or set(options) - {"type", "category", "position", "alignment", "duration"}:
            return None
        kind, category = options.get("type"), options.get("category")
        position, alignment = options.get("position"), options.get("alignment")
        frames = options.get("duration", None)
        if not isinstance(kind, str) or not kind or category not in ("simple", "fusion", "ofx", "audio"):
            return None
        if position not in ("start", "end") or alignment not in ("left", "center", "right"):
            return None
        if frames is None:
            frames = 8
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
            return None
        track = self._track
        cut = self._start if position == "start" else self._start + self._duration
        outgoing = next((i for i in track.items if i._start + i._duration == cut), None)
        incoming = next((i for i in track.items if i._start == cut), None)
        if outgoing is None or incoming is None:
            return None  # modelled as a dissolve between two butt-joined clips only
        before = {"left": frames, "center": frames // 2, "right": 0}[alignment]
        after = frames - before
        # The incoming clip starts `before` frames early; the outgoing one runs `after` frames late.
        if incoming._left_handle() < before or outgoing._right_handle() < after:
            return None  # "zero outgoing/incoming handles returned failure and no transition"
        if any(t._start < cut + after and cut - before < t._start + t._duration for t in track.transitions):
            return None
        transition = FakeTransitionItem(self._state, track, kind, cut - before, frames)
        track.transitions.append(transition)
        track.transitions.sort(key=lambda t: t._start)
        return transition

    def SetFades(self, options: Any) -> bool:
        """``{"FadeIn": frames, "FadeOut": frames}`` (non-negative whole frames; partial dicts allowed)."""
        if not isinstance(options, dict) or not options or set(options) - {"FadeIn", "FadeOut"}:
            return False
        new = dict(self._fades)
        for key, value in options.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != int(value):
                return False  # fractional setter values are refused
            new[key] = int(value)
        if new["FadeIn"] + new["FadeOut"] > self._duration:
            return False
        self._fades = new
        return True

    def GetFades(self) -> dict[str, float]:
        return {k: float(v) for k, v in self._fades.items()}  # readback may be floats (MCP)

    def SetSpeed(self, options: Any) -> bool:
        """``{"Percentage": p, ...}``: the item plays its source at p %, so its length becomes
        source frames × 100 / p on the timeline grid (floored). False when that would run into the
        next item on the track (ripple is not modelled) or for p ≤ 0 (freeze is not modelled)."""
        allowed = {"Percentage", "PitchCorrection", "StretchKeyframesToFit", "RippleTimeline"}
        if not isinstance(options, dict) or "Percentage" not in options or set(options) - allowed:
            return False
        pct = options["Percentage"]
        if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not pct > 0:
            return False
        if any(not isinstance(options[k], bool) for k in options if k != "Percentage"):
            return False
        tl_rate = self._track.timeline._rate[0]
        frames = Fraction(self._source_end - self._source_start) * tl_rate / self._item._rate
        duration = int(frames * 100 / Fraction(str(pct)))
        if duration < 1:
            return False
        after = [i for i in self._track.items if i._start > self._start]
        if after and self._start + duration > min(i._start for i in after):
            return False
        self._duration = duration
        self._speed = float(pct)
        return True


class FakeTransitionItem(_Remote):
    """A transition as ``GetItemListInTrack`` lists it: a named item with a span and no media."""

    def __init__(self, state: _State, track: _Track, name: str, start: int, duration: int) -> None:
        super().__init__(state, "tr")
        self._track = track
        self._name = name
        self._start = start
        self._duration = duration

    def GetName(self) -> str:
        return self._name

    def GetStart(self, subframe_precision: bool = False) -> int:
        return self._start

    def GetEnd(self, subframe_precision: bool = False) -> int:
        return self._start + self._duration

    def GetDuration(self, subframe_precision: bool = False) -> int:
        return self._duration

    def GetMediaPoolItem(self) -> None:
        return None

    def GetProperty(self, propertyKey: str | None = None) -> Any:
        return {} if propertyKey is None else None  # "a transition returns an EMPTY dict" (MCP-LIM)


class _Track:
    def __init__(self, kind: str, index: int, subtype: str = "", timeline: Any = None) -> None:
        self.kind = kind
        self.index = index
        self.subtype = subtype
        self.timeline = timeline
        self.items: list[FakeTimelineItem] = []
        self.transitions: list[FakeTransitionItem] = []  # overlap clips, so kept apart from ``items``
        self.name = f"{'Video' if kind == 'video' else 'Audio'} {index}"
        self.enabled = True
        self.locked = False

    def end(self) -> int | None:
        return max((i._start + i._duration for i in self.items), default=None)

    def free(self, start: int, end: int) -> bool:
        """No item overlaps ``[start, end)``; items never overlap, so only the neighbours matter."""
        k = bisect.bisect_right(_StartView(self.items), start)
        if k > 0 and self.items[k - 1]._start + self.items[k - 1]._duration > start:
            return False
        return k >= len(self.items) or self.items[k]._start >= end

    def insert(self, item: FakeTimelineItem) -> None:
        k = bisect.bisect_right(_StartView(self.items), item._start)
        self.items.insert(k, item)


class _StartView:
    """A read-only sequence of the items' start frames, for bisect without building a list."""

    def __init__(self, items: list[FakeTimelineItem]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> int:
        return self.items[k]._start


class FakeTimeline(_MarkerMethods, _Remote):
    _since = {
        "AddTrack": (18, 5),
        "DeleteTrack": (18, 5),
        "SetTrackEnable": (18, 5),
        "GetIsTrackEnabled": (18, 5),
        "SetTrackLock": (18, 5),
        "GetIsTrackLocked": (18, 5),
        "DeleteClips": (18, 5),
        "SetClipsLinked": (18, 5),
        "GetTrackSubType": (19, 0, 1),
        "GetMediaPoolItem": (19, 1),
        "GetMarkInOut": (19, 1),
    }

    def __init__(self, state: _State, project: FakeProject, name: str, rate_name: str) -> None:
        super().__init__(state, "tl")
        self._project = project
        self._name = name
        self._settings = {"timelineFrameRate": rate_name, "useCustomSettings": "0"}
        rate, drop = parse_resolve_rate(rate_name)
        self._start_tc = "01:00:00;00" if drop else "01:00:00:00"
        # A new timeline has one video and one stereo audio track (default layout is UNVERIFIED).
        self._tracks: dict[str, list[_Track]] = {
            "video": [_Track("video", 1, "", self)],
            "audio": [_Track("audio", 1, "stereo", self)],
            "subtitle": [],
        }
        self._markers = _Markers(state)
        self._playhead = self.GetStartFrame()

    @property
    def _rate(self) -> tuple[Fraction, bool]:
        return parse_resolve_rate(self._settings["timelineFrameRate"])

    def _has_items(self) -> bool:
        return any(t.items for ts in self._tracks.values() for t in ts)

    def _track(self, kind: str, index: Any) -> _Track | None:
        tracks = self._tracks.get(kind)
        try:
            i = int(index)
        except (TypeError, ValueError):
            return None
        if not tracks or not 1 <= i <= len(tracks):
            return None
        return tracks[i - 1]

    def _place(
        self,
        item: FakeMediaPoolItem,
        kind: str,
        track_index: int,
        record: int | None,
        source_start: int,
        source_end: int,
        duration: int | None = None,
    ) -> FakeTimelineItem | None:
        track = self._track(kind, track_index)
        if track is None or track.locked:
            return None
        if duration is None:
            tl_rate = self._rate[0]
            exact = Fraction(source_end - source_start) * tl_rate / item._rate
            if tl_rate == item._rate:
                duration = source_end - source_start
            elif self._state.switches.mixed_rate_rounding == "short":
                duration = -(-exact // 1) - 1  # one frame short of the rounded-up length (PR #111)
            else:
                duration = int(exact)  # floored onto the timeline grid (MCP-LIM, measured 19.1)
            duration = int(duration)
        if duration < 1:
            return None
        if record is None:
            end = track.end()
            record = end if end is not None else self.GetStartFrame()
        if item.GetName() in self._state.switches.nudge_clip_names:
            record += 1
        if not track.free(record, record + duration):
            return None  # overlap: the earlier item wins, the later one is dropped silently (MCP-LIM)
        placed = FakeTimelineItem(self._state, item, track, record, duration, source_start, source_end)
        track.insert(placed)
        return placed

    def _append(self, entry: Any) -> list[FakeTimelineItem]:
        """One clipInfo (or bare MediaPoolItem) of AppendToTimeline."""
        old_build = self._state.version < (18, 5)
        if isinstance(entry, FakeMediaPoolItem):
            entry = {"mediaPoolItem": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("mediaPoolItem"), FakeMediaPoolItem):
            return []
        item: FakeMediaPoolItem = entry["mediaPoolItem"]
        if item.GetName() in self._state.switches.drop_clip_names:
            return []
        frames = item._frames
        try:
            start = int(entry.get("startFrame", 0))
            end = int(entry.get("endFrame", frames))
            record = None if old_build or "recordFrame" not in entry else int(entry["recordFrame"])
            track_index = 1 if old_build else int(entry.get("trackIndex", 1))
            media_type = entry.get("mediaType")
        except (TypeError, ValueError):
            return []
        if start < 0 or end <= start or (frames and end > frames):
            return []
        out = []
        if media_type in (None, 1) and item._has_video:
            video = self._place(item, "video", track_index, record, start, end)
            if video is None:
                return []
            out.append(video)
        if media_type == 2 or (media_type is None and item._has_audio):
            audio_track = track_index if media_type == 2 else 1
            audio = self._place(item, "audio", audio_track, record if record is not None else None, start, end)
            if audio is not None:
                out.append(audio)
        if len(out) == 2:
            out[0]._linked, out[1]._linked = [out[1]], [out[0]]
        return out

    # -- README API
    def GetName(self) -> str:
        return self._name

    def SetName(self, timelineName: str) -> bool:
        if any(t._name == timelineName for t in self._project._timelines if t is not self):
            return False
        self._name = str(timelineName)
        return True

    def GetStartFrame(self) -> int:
        rate, drop = self._rate
        return timecode_to_frames(self._start_tc, rate, drop and supports_drop_frame(rate))

    def GetEndFrame(self) -> int:
        ends = [end for ts in self._tracks.values() for t in ts if (end := t.end()) is not None]
        return max(ends, default=self.GetStartFrame())

    def GetStartTimecode(self) -> str:
        return self._start_tc

    def SetStartTimecode(self, timecode: str) -> bool:
        rate, drop = self._rate
        try:
            timecode_to_frames(str(timecode), rate, drop)
        except TimecodeError:
            return False
        self._start_tc = str(timecode)
        return True

    def GetSetting(self, settingName: str | None = None) -> Any:
        merged = {**self._project._settings, **self._settings}
        if not settingName:
            return merged
        return merged.get(settingName, "")

    def SetSetting(self, settingName: str, settingValue: str) -> bool:
        value = str(settingValue)
        if settingName == "useCustomSettings" and value in ("0", "1"):
            self._settings[settingName] = value
            return True
        if settingName == "timelineFrameRate":
            # Per-timeline rate needs custom settings and an empty timeline (PYDAV map; UNVERIFIED beyond).
            if self._settings.get("useCustomSettings") != "1" or self._has_items():
                return value == self._settings["timelineFrameRate"]
            try:
                rate, _ = parse_resolve_rate(value)
                resolve_rate_name(rate)
            except Exception:
                return False
            self._settings[settingName] = value
            return True
        if settingName in self._project._settings:
            self._settings[settingName] = value
            return True
        return False

    def GetTrackCount(self, trackType: str) -> int:
        return len(self._tracks.get(trackType, []))

    def AddTrack(self, trackType: str, subTrackType: Any = None) -> bool:
        if trackType not in self._tracks:
            return False
        tracks = self._tracks[trackType]
        subtype = ""
        index = None
        if isinstance(subTrackType, dict):
            subtype = str(subTrackType.get("audioType", "mono")) if trackType == "audio" else ""
            index = subTrackType.get("index")
        elif trackType == "audio":
            subtype = str(subTrackType or "mono")
        track = _Track(trackType, len(tracks) + 1, subtype, self)
        if isinstance(index, int) and 1 <= index <= len(tracks):
            tracks.insert(index - 1, track)
        else:
            tracks.append(track)
        for i, t in enumerate(tracks, 1):
            t.index = i
        return True

    def DeleteTrack(self, trackType: str, trackIndex: int) -> bool:
        track = self._track(trackType, trackIndex)
        if track is None:
            return False
        self._tracks[trackType].remove(track)
        for i, t in enumerate(self._tracks[trackType], 1):
            t.index = i
        return True

    def GetTrackSubType(self, trackType: str, trackIndex: int) -> str:
        track = self._track(trackType, trackIndex)
        return track.subtype if track else ""

    def GetTrackName(self, trackType: str, trackIndex: int) -> str:
        track = self._track(trackType, trackIndex)
        return track.name if track else ""

    def SetTrackName(self, trackType: str, trackIndex: int, name: str) -> bool:
        track = self._track(trackType, trackIndex)
        if track is None:
            return False
        track.name = str(name)
        return True

    def SetTrackEnable(self, trackType: str, trackIndex: int, enabled: bool) -> bool:
        track = self._track(trackType, trackIndex)
        if track is None:
            return False
        track.enabled = bool(enabled)
        return True

    def GetIsTrackEnabled(self, trackType: str, trackIndex: int) -> bool:
        track = self._track(trackType, trackIndex)
        return bool(track and track.enabled)

    def SetTrackLock(self, trackType: str, trackIndex: int, locked: bool) -> bool:
        track = self._track(trackType, trackIndex)
        if track is None:
            return False
        track.locked = bool(locked)
        return True

    def GetIsTrackLocked(self, trackType: str, trackIndex: int) -> bool:
        track = self._track(trackType, trackIndex)
        return bool(track and track.locked)

    def GetItemListInTrack(self, trackType: str, index: int) -> list[Any] | None:
        track = self._track(trackType, index)
        if track is None:
            return None
        if not track.transitions:
            return list(track.items)
        # Transitions are listed among the clips (MCP-LIM, 21.0.4.5), in start order.
        return sorted([*track.items, *track.transitions], key=lambda i: (i._start, isinstance(i, FakeTimelineItem)))

    def DeleteClips(self, timelineItems: list[Any], ripple: bool = False) -> bool:
        if self._project._resolve._page == "fairlight":
            return False  # page-gated (MCP-LIM)
        removed = False
        for ts in self._tracks.values():
            for t in ts:
                before = len(t.items)
                t.items = [i for i in t.items if i not in timelineItems]
                removed |= len(t.items) != before
        return removed

    def SetClipsLinked(self, timelineItems: list[Any], linked: bool) -> bool:
        items = [i for i in timelineItems if isinstance(i, FakeTimelineItem)]
        for i in items:
            i._linked = [o for o in items if o is not i] if linked else []
        return bool(items)

    def GetCurrentTimecode(self) -> str:
        rate, drop = self._rate
        return frames_to_timecode(self._playhead, rate, drop)

    def SetCurrentTimecode(self, timecode: str) -> bool:
        rate, drop = self._rate
        try:
            self._playhead = timecode_to_frames(str(timecode), rate, drop)
        except TimecodeError:
            return False
        return True

    def DuplicateTimeline(self, timelineName: str | None = None) -> FakeTimeline | None:
        copy = self._project._new_timeline(timelineName or f"{self._name} copy", self._settings["timelineFrameRate"])
        if copy is None:
            return None
        copy._start_tc = self._start_tc
        copy._markers.by_frame = {f: dict(i) for f, i in self._markers.by_frame.items()}
        for kind, tracks in self._tracks.items():
            copy._tracks[kind] = []
            for t in tracks:
                nt = _Track(kind, t.index, t.subtype, copy)
                for i in t.items:
                    nt.insert(
                        FakeTimelineItem(
                            self._state, i._item, nt, i._start, i._duration, i._source_start, i._source_end
                        )
                    )
                copy._tracks[kind].append(nt)
        return copy

    def GetMediaPoolItem(self) -> Any:
        return None

    def Export(self, fileName: str, exportType: Any, exportSubtype: Any = None) -> bool:
        self._state.calls.append(("Export", 1))
        if self._state.switches.export_fails:
            return False
        from resolve_bridge.fake.interchange import export_timeline  # needs OTIO: see ImportTimelineFromFile

        return export_timeline(self, str(fileName), exportType, exportSubtype)


# ---------------------------------------------------------------- project, storage, resolve


_DEFAULT_SETTINGS = {
    "timelineFrameRate": "24",
    "timelinePlaybackFrameRate": "24",
    "timelineResolutionWidth": "1920",
    "timelineResolutionHeight": "1080",
    "timelineDropFrameTimecode": "0",
    "timelinePixelAspectRatio": "square",
    "timelineOutputResolutionWidth": "1920",
    "timelineOutputResolutionHeight": "1080",
    "videoMonitorFormat": "HD 1080p 24",
    "colorScienceMode": "davinciYRGB",
}


class FakeProject(_Remote):
    def __init__(self, state: _State, resolve: FakeResolve, name: str) -> None:
        super().__init__(state, "project")
        self._resolve = resolve
        self._name = name
        self._settings = dict(_DEFAULT_SETTINGS)
        self._timelines: list[FakeTimeline] = []
        self._current_timeline: FakeTimeline | None = None
        self._pool = FakeMediaPool(state, self)

    def _rate(self) -> tuple[Fraction, bool]:
        return parse_resolve_rate(self._settings["timelineFrameRate"])

    def _rate_locked(self) -> bool:
        mode = self._state.switches.rate_lock
        if mode == "timeline":
            return bool(self._timelines)
        if mode == "media":
            return bool(self._timelines) or bool(self._pool._all_items())
        return False

    def _new_timeline(self, name: str, rate_name: str | None = None) -> FakeTimeline | None:
        if not name or (
            any(t._name == name for t in self._timelines) and self._state.switches.duplicate_timeline_name_returns_none
        ):
            return None
        timeline = FakeTimeline(self._state, self, name, rate_name or self._settings["timelineFrameRate"])
        if rate_name and rate_name != self._settings["timelineFrameRate"]:
            timeline._settings["useCustomSettings"] = "1"
        self._timelines.append(timeline)
        if self._current_timeline is None:
            self._current_timeline = timeline
        return timeline

    def _delete_timelines(self, timelines: list[Any]) -> bool:
        doomed = [t for t in timelines if t in self._timelines]
        for t in doomed:
            self._timelines.remove(t)
            if self._current_timeline is t:
                self._current_timeline = self._timelines[0] if self._timelines else None
        return bool(doomed)

    def GetName(self) -> str:
        return self._name

    def SetName(self, projectName: str) -> bool:
        if projectName in self._resolve._manager._projects:
            return False
        self._resolve._manager._projects[projectName] = self._resolve._manager._projects.pop(self._name)
        self._name = projectName
        return True

    def GetMediaPool(self) -> FakeMediaPool:
        return self._pool

    def GetTimelineCount(self) -> int:
        return len(self._timelines)

    def GetTimelineByIndex(self, idx: int) -> FakeTimeline | None:
        try:
            i = int(idx)
        except (TypeError, ValueError):
            return None
        return self._timelines[i - 1] if 1 <= i <= len(self._timelines) else None

    def GetCurrentTimeline(self) -> FakeTimeline | None:
        return self._current_timeline

    def SetCurrentTimeline(self, timeline: Any) -> bool:
        if timeline not in self._timelines:
            return False
        self._current_timeline = timeline
        return True

    def GetSetting(self, settingName: str | None = None) -> Any:
        if not settingName:
            return dict(self._settings)
        return self._settings.get(settingName, "")

    def SetSetting(self, settingName: str, settingValue: str) -> bool:
        value = str(settingValue)
        if settingName not in self._settings or settingName == "timelinePlaybackFrameRate":
            return False  # playback rate cannot be set at all (MCP-LIM)
        if settingName == "timelineFrameRate":
            try:
                rate, drop = parse_resolve_rate(value)
                resolve_rate_name(rate)
            except Exception:
                return False
            if self._rate_locked():
                return value == self._settings[settingName]
            self._settings["timelineDropFrameTimecode"] = "1" if drop else "0"
            self._settings["timelinePlaybackFrameRate"] = value.split()[0]
        elif settingName in ("timelineResolutionWidth", "timelineResolutionHeight") and not value.isdigit():
            return False
        self._settings[settingName] = value
        return True


class FakeProjectManager(_Remote):
    def __init__(self, state: _State, resolve: FakeResolve) -> None:
        super().__init__(state, "pm")
        self._resolve = resolve
        self._projects: dict[str, FakeProject] = {}
        self._current = self._open_new("Untitled Project")

    def _open_new(self, name: str) -> FakeProject:
        project = FakeProject(self._state, self._resolve, name)
        self._projects[name] = project
        self._current = project
        return project

    def CreateProject(self, projectName: str, mediaLocationPath: str | None = None) -> FakeProject | None:
        if not projectName or projectName in self._projects:
            return None
        return self._open_new(projectName)

    def LoadProject(self, projectName: str) -> FakeProject | None:
        project = self._projects.get(projectName)
        if project is not None:
            self._current = project
        return project

    def GetCurrentProject(self) -> FakeProject | None:
        return self._current

    def SaveProject(self) -> bool:
        saved = self._current is not None and self._current._name != "Untitled Project"
        if saved and self._resolve.db_path is not None:
            from resolve_bridge.fake.store import save  # store builds fake objects: imported when used

            save(self._resolve, self._resolve.db_path)
        return saved

    def CloseProject(self, project: Any) -> bool:
        return project in self._projects.values()

    def GetProjectListInCurrentFolder(self) -> list[str]:
        return list(self._projects)

    def GetCurrentDatabase(self) -> dict[str, str]:
        return {"DbType": "Disk", "DbName": "Local Database"}


class FakeMediaStorage(_Remote):
    def __init__(self, state: _State, resolve: FakeResolve) -> None:
        super().__init__(state, "storage")
        self._resolve = resolve

    def GetMountedVolumeList(self) -> list[str]:
        return [os.path.abspath(os.sep)]

    def GetSubFolderList(self, folderPath: str) -> list[str]:
        p = Path(folderPath)
        return sorted(str(c) for c in p.iterdir() if c.is_dir()) if p.is_dir() else []

    def GetFileList(self, folderPath: str) -> list[str]:
        p = Path(folderPath)
        return sorted(str(c) for c in p.iterdir() if c.is_file()) if p.is_dir() else []

    def AddItemListToMediaPool(self, *items: Any) -> list[FakeMediaPoolItem]:
        entries = items[0] if len(items) == 1 and isinstance(items[0], list) else list(items)
        paths: list[str] = []
        for entry in entries:
            path = entry.get("media") if isinstance(entry, dict) else entry
            if isinstance(path, str) and os.path.isdir(path):
                paths.extend(self.GetFileList(path))
            elif isinstance(path, str):
                paths.append(path)
        return self._resolve._manager._current.GetMediaPool().ImportMedia(paths)


class FakeFusion(_Remote):
    """``resolve.Fusion()``: only identity here; the UIManager is not modelled."""

    def __init__(self, state: _State) -> None:
        super().__init__(state, "fusion")


class FakeResolve(_Remote):
    """The root object. ``FakeResolve(profile="19", studio=False, strict=True, switches=...)``."""

    def __init__(
        self,
        profile: str = "21",
        *,
        studio: bool = True,
        strict: bool = False,
        switches: FakeSwitches | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown Resolve profile {profile!r}; choose from {', '.join(PROFILES)}")
        state = _State(PROFILES[profile], studio, strict, switches or FakeSwitches())
        super().__init__(state, "resolve")
        self._page = "edit"
        self.db_path: Path | None = None
        """Where ``SaveProject`` writes the project database (see ``fake.store``); None: memory only."""
        self._manager = FakeProjectManager(state, self)
        self._storage = FakeMediaStorage(state, self)
        self._fusion = FakeFusion(state)
        self.switches = state.switches
        self.calls = state.calls
        """Notable calls in order: ``("AppendToTimeline", clipInfo count)``, ``("ImportTimelineFromFile", 1)``…"""
        self.api_calls = state.api_calls
        self.import_refusals = state.import_refusals
        """Every Resolve method called from outside the fake, by name (see :meth:`api_call_count`)."""

    def api_call_count(self) -> int:
        """How many Resolve API calls (round trips, on a real Resolve) were made so far."""
        return sum(self.api_calls.values())

    def reset_call_count(self) -> None:
        self.api_calls.clear()

    @classmethod
    def from_name(cls, name: str, **kwargs: Any) -> FakeResolve:
        """``"studio-21"``, ``"free-19"``, ``"18.0"`` (Studio implied) → a fake of that build."""
        text = (name or "studio-21").strip().lower()
        studio = not text.startswith("free")
        profile = text.split("-", 1)[1] if "-" in text else text
        if profile in ("", "studio", "free"):
            profile = "21"
        return cls(profile, studio=studio, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in EXPORT_CONSTANTS:
            value, since = EXPORT_CONSTANTS[name]
            if self._state.version >= since:
                return value
        return super().__getattr__(name)

    # -- helpers (not API)
    def use_database(self, path: str | Path) -> None:
        """Load the projects saved in ``path`` (if any) and save there on ``SaveProject``."""
        from resolve_bridge.fake.store import load  # store builds fake objects: imported when used

        self.db_path = Path(path)
        with self._state.quiet():
            load(self, self.db_path)

    @property
    def project(self) -> FakeProject:
        return self._manager._current

    @property
    def media_pool(self) -> FakeMediaPool:
        return self._manager._current._pool

    def module(self) -> types.ModuleType:
        """A stand-in ``DaVinciResolveScript`` module whose ``scriptapp`` obeys the switches."""
        module = types.ModuleType("DaVinciResolveScript")
        resolve = self

        def scriptapp(app_name: str, host: str | None = None, timeout: float | None = None) -> Any:
            sw = resolve.switches
            if app_name != "Resolve" or sw.not_running or sw.external_scripting == "none" or not resolve._state.studio:
                return None  # the real call also answers None, never an exception
            if host not in (None, "127.0.0.1", "localhost") and sw.external_scripting != "network":
                return None
            return resolve

        module.scriptapp = scriptapp  # type: ignore[attr-defined]
        return module

    def menu_globals(self) -> dict[str, Any]:
        """What a Workspace ▸ Scripts script finds in its globals: ``resolve``, ``app``, ``bmd``, ``fusion``."""
        resolve = self
        app = types.SimpleNamespace(GetResolve=lambda: resolve)
        bmd = types.SimpleNamespace(scriptapp=lambda name, *a: resolve if name == "Resolve" else None)
        return {"resolve": self, "app": app, "bmd": bmd, "fusion": self._fusion}

    def import_folder(self, folder: str | Path, bin_path: str = "") -> list[FakeMediaPoolItem]:
        """Import every media file under ``folder`` (sorted) into bin ``bin_path``: a seeded pool."""
        pool = self.media_pool
        with self._state.quiet():
            target = pool.add_bin(bin_path) if bin_path else pool.GetRootFolder()
            previous = pool.GetCurrentFolder()
            pool.SetCurrentFolder(target)
            files = sorted(
                str(p)
                for p in Path(folder).rglob("*")
                if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES | AUDIO_SUFFIXES and not p.name.startswith(".")
            )
            items = pool.ImportMedia(files)
            pool.SetCurrentFolder(previous)
        return items

    # -- README API
    def Fusion(self) -> FakeFusion:
        return self._fusion

    def GetMediaStorage(self) -> FakeMediaStorage:
        return self._storage

    def GetProjectManager(self) -> FakeProjectManager:
        return self._manager

    def OpenPage(self, pageName: str) -> bool:
        pages = {"media", "cut", "edit", "fusion", "color", "fairlight", "deliver"}
        if self._state.version >= (21,):
            pages.add("photo")
        if pageName not in pages:
            return False
        self._page = pageName
        return True

    def GetCurrentPage(self) -> str:
        return self._page

    def GetProductName(self) -> str:
        return "DaVinci Resolve Studio" if self._state.studio else "DaVinci Resolve"

    def GetVersion(self) -> list[Any]:
        return [*self._state.version, ""]

    def GetVersionString(self) -> str:
        return ".".join(str(v) for v in self._state.version)

    def Quit(self) -> None:
        self.switches.not_running = True


def media_rate_of(item: Any) -> Fraction:
    """Exact rate of a (fake or real) media pool item from its FPS property."""
    return parse_resolve_rate(str(item.GetClipProperty("FPS")))[0]


__all__ = [
    "PROFILES",
    "FakeResolve",
    "FakeSwitches",
    "clip_properties",
    "format_rate",
    "media_rate_of",
    "rate_from_float",
]
