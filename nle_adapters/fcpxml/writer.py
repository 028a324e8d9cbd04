"""OTIO timeline → FCPXML 1.8–1.11 (default 1.10), valid against Apple's DTD for that version.

Document shape (what FCP and Resolve import): ``fcpxml › resources › library › event › project ›
sequence › spine``. Resources hold one ``format`` per (rate, size), one ``asset`` per media file
(``start`` = the media's embedded start timecode, ``duration`` = its length, ``hasVideo`` and
``hasAudio`` from how the timeline uses it; ``media-rep`` from 1.9 on, ``asset@src`` in 1.8), and
one ``effect`` per transition kind.

Tracks: V1 is the primary storyline (``spine``); every other video track becomes connected items
on lane 1, 2, … and audio tracks on lane -1, -2, …. A stretch of a track without gaps that holds
one clip is written as a connected clip; a stretch with several clips or transitions as a
connected storyline (``spine`` with a lane). Each is anchored to the primary item under its
start; the primary storyline is padded with a gap so that everything has a parent.

Time: every value is an exact rational number of seconds built from integer frames. Record
positions and durations are timeline frames (multiples of the sequence frame duration, offsets
counted from ``tcStart``); a clip's ``start`` is its source in at the media rate (a multiple of
the media frame duration). Mixed-rate clips get ``conform-rate`` (docs/time.md).
"""

from __future__ import annotations

import bisect
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

import opentimelineio as otio

from kernel.errors import MontageError
from kernel.media_url import is_url, path_to_url
from nle_adapters.errors import UnsupportedFeature
from nle_adapters.fcpxml.common import (
    CROSS_DISSOLVE_UID,
    DEFAULT_WRITE_VERSION,
    FCPXML_META,
    WRITE_VERSIONS,
    frames_of,
    media_rate,
    timeline_rate,
)
from nle_adapters.fcpxml.time import conform_rate_name, format_time, frame_duration
from nle_adapters.mix import clip_mix, timeline_captions
from nle_adapters.reframe_meta import fcpxml_clip_elements as reframe_elements
from nle_adapters.timeline_facts import TimelineTime, drop_frame_rule, media_drop_frame, meta_view, stated_drop_frame

AUDIO_CROSSFADE_UID = "FFAudioTransition"
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class FcpxmlWriteError(MontageError):
    """A timeline that cannot be written as FCPXML (the message says which item and why)."""


def _text(value: object) -> str:
    """Attribute text without the control characters XML 1.0 cannot hold."""
    return _CONTROL_CHARS.sub("", str(value))


def _format_name(rate: Fraction, width: int, height: int) -> str | None:
    """FCP's name for a standard format (``FFVideoFormat1080p2398``), None for custom ones."""
    codes = {
        Fraction(24000, 1001): "2398",
        Fraction(24): "24",
        Fraction(25): "25",
        Fraction(30000, 1001): "2997",
        Fraction(30): "30",
        Fraction(50): "50",
        Fraction(60000, 1001): "5994",
        Fraction(60): "60",
    }
    code = codes.get(rate)
    if code is None:
        return None
    if (width, height) == (1920, 1080):
        return f"FFVideoFormat1080p{code}"
    if (width, height) == (1280, 720):
        return f"FFVideoFormat720p{code}"
    if (width, height) == (3840, 2160):
        return f"FFVideoFormat3840x2160p{code}"
    return None


def _file_url(url: str) -> str:
    """A ``file://`` URL for FCP: URLs pass through, bare paths (POSIX or Windows) are converted."""
    converted = path_to_url(url)
    if converted.startswith("file:") or is_url(converted):
        return converted
    return "file:" + path_to_url(url.replace("\\", "/"))  # relative: FCP wants the scheme all the same


def _positive_int(value: object) -> int | None:
    if not isinstance(value, (int, float, str, Fraction)):
        return None
    try:
        number = int(value)
    except (ValueError, OverflowError):  # "wide", inf
        return None
    return number if number > 0 else None


@dataclass
class _Asset:
    id: str
    url: str
    name: str
    rate: Fraction
    start: Fraction | None = None  # seconds, media time
    end: Fraction | None = None
    known_range: bool = False  # start/end come from available_range (not from usage)
    has_video: bool = False
    has_audio: bool = False
    width: int | None = None  # from reference metadata (montage_bridge.width/height), else the sequence's
    height: int | None = None
    audio_channels: int | None = None
    audio_rate: int | None = None


@dataclass
class _Entry:
    """One item of a track laid out on the timeline grid (frames from the timeline start)."""

    item: otio.core.Composable
    start: int
    duration: int
    cut_in: int = 0  # transitions: frames before the cut
    cut_out: int = 0  # transitions: frames after the cut
    track_enabled: bool = True  # FCP lanes cannot be switched off: a muted track's items are disabled

    @property
    def is_transition(self) -> bool:
        return isinstance(self.item, otio.schema.Transition)

    @property
    def is_gap(self) -> bool:
        return isinstance(self.item, otio.schema.Gap)


@dataclass
class _Layer:
    """One track of a sequence, laid out (a clip directly inside a stack is a layer of its own)."""

    kind: str
    entries: list[_Entry]


@dataclass
class _Primary:
    element: ET.Element
    start: int
    duration: int
    local_start: Fraction  # the element's own time at its first frame (seconds)
    anchored: list[ET.Element] = field(default_factory=list)
    markers: list[ET.Element] = field(default_factory=list)


class _Writer:
    def __init__(self, version: str) -> None:
        if version not in WRITE_VERSIONS:
            raise UnsupportedFeature(
                f"FCPXML version {version!r} cannot be written; choose one of {', '.join(WRITE_VERSIONS)}"
            )
        self.version = version
        self._next_id = 1
        self.formats: dict[tuple[Fraction, int | None, int | None], ET.Element] = {}
        self.effects: dict[str, ET.Element] = {}
        self.assets: dict[str, _Asset] = {}
        self.media: list[ET.Element] = []
        self.width = 1920
        self.height = 1080
        # The timeline's timecode facts, for each clip's own tcFormat (set by write_timeline).
        self.time = TimelineTime(Fraction(24), 0, False)
        self.drop_stated: bool | None = None
        self.captions: list[dict] = []  # record frames from the first frame (nle_adapters.mix)

    def _id(self) -> str:
        value = f"r{self._next_id}"
        self._next_id += 1
        return value

    # ---- resources -------------------------------------------------------------------------

    def format_id(self, rate: Fraction, width: int | None, height: int | None) -> str:
        key = (rate, width, height)
        if key not in self.formats:
            attrs = {"id": self._id()}
            name = _format_name(rate, width, height) if width and height else None
            if name:
                attrs["name"] = name
            attrs["frameDuration"] = frame_duration(rate)
            if width and height:
                attrs["width"] = str(width)
                attrs["height"] = str(height)
            self.formats[key] = ET.Element("format", attrs)
        return self.formats[key].get("id", "")

    def asset_format(self, asset: _Asset) -> str:
        return self.format_id(asset.rate, asset.width or self.width, asset.height or self.height)

    def effect_id(self, name: str, uid: str) -> str:
        if uid not in self.effects:
            self.effects[uid] = ET.Element("effect", {"id": self._id(), "name": name, "uid": uid})
        return self.effects[uid].get("id", "")

    def _media_key(self, clip: otio.schema.Clip) -> str | None:
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
            return _file_url(ref.target_url)
        if isinstance(ref, otio.schema.GeneratorReference):
            return None
        if isinstance(ref, otio.schema.ImageSequenceReference):
            raise UnsupportedFeature(f"clip {clip.name!r}: FCPXML cannot hold image sequences; render them to a movie")
        # A missing reference still gets an asset so the clip stays in place (offline) with its name.
        return path_to_url("/Missing Media/" + (clip.name or "clip"))

    def scan(self, stack: otio.schema.Stack, rate: Fraction) -> None:
        """First pass: one asset per media file, flagged with how the timeline uses it."""
        for track in stack:
            if isinstance(track, otio.schema.Clip):
                clips, video = [track], True
            elif isinstance(track, otio.core.Composition):
                clips = track.find_clips()
                video = getattr(track, "kind", otio.schema.TrackKind.Video) == otio.schema.TrackKind.Video
            else:
                continue
            for clip in clips:
                key = self._media_key(clip)
                if key is None:
                    continue
                mrate = media_rate(clip, rate)
                asset = self.assets.get(key)
                if asset is None:
                    ref = clip.media_reference
                    name = PurePosixPath(urlparse(key).path).stem or clip.name or "media"
                    asset = _Asset(self._id(), key, unquote(name), mrate)
                    avail = getattr(ref, "available_range", None)
                    if avail is not None:
                        asset.start = Fraction(frames_of(avail.start_time, mrate)) / mrate
                        asset.end = asset.start + Fraction(frames_of(avail.duration, mrate)) / mrate
                        asset.known_range = True
                    meta = meta_view(ref) if ref is not None else {}
                    # What the media really holds, when the pipeline recorded it (else: how it is used).
                    asset.has_video = bool(meta.get("has_video", False))
                    asset.has_audio = bool(meta.get("has_audio", False)) or bool(meta.get("audio_channels"))
                    asset.width = _positive_int(meta.get("width"))
                    asset.height = _positive_int(meta.get("height"))
                    asset.audio_channels = _positive_int(meta.get("audio_channels"))
                    asset.audio_rate = _positive_int(meta.get("audio_sample_rate") or meta.get("audio_rate"))
                    self.assets[key] = asset
                if video:
                    asset.has_video = True
                else:
                    asset.has_audio = True
                if not asset.known_range:
                    # No available range: the asset spans what the timeline uses of it.
                    try:
                        rng = clip.trimmed_range()
                    except Exception as exc:  # OTIO raises when neither range exists
                        raise FcpxmlWriteError(
                            f"clip {clip.name!r} on track {track.name!r} has neither a source range nor media "
                            f"with an available range ({exc}); give it a source range"
                        ) from exc
                    start = Fraction(frames_of(rng.start_time, mrate)) / mrate
                    end = start + Fraction(frames_of(rng.duration, rate)) / rate
                    asset.start = start if asset.start is None else min(asset.start, start)
                    asset.end = end if asset.end is None else max(asset.end, end)

    def asset_element(self, asset: _Asset) -> ET.Element:
        attrs = {"id": asset.id, "name": _text(asset.name)}
        if self.version == "1.8":
            attrs["src"] = asset.url
        start = asset.start or Fraction(0)
        attrs["start"] = format_time(start)
        attrs["duration"] = format_time((asset.end or start) - start)
        if asset.has_video:
            attrs["hasVideo"] = "1"
            attrs["format"] = self.asset_format(asset)
        else:
            # Audio-only media: a size-less format still records the rate the clip's times use.
            attrs["format"] = self.format_id(asset.rate, None, None)
        if asset.has_audio:
            attrs["hasAudio"] = "1"
            attrs["audioSources"] = "1"
            if asset.audio_channels:
                attrs["audioChannels"] = str(asset.audio_channels)
            if asset.audio_rate:
                attrs["audioRate"] = str(asset.audio_rate)
        element = ET.Element("asset", attrs)
        if self.version != "1.8":
            ET.SubElement(element, "media-rep", {"kind": "original-media", "src": asset.url})
        return element

    # ---- layout ------------------------------------------------------------------------------

    def layout(self, track: otio.schema.Track, rate: Fraction) -> list[_Entry]:
        """The track's children on the timeline grid: start and duration in timeline frames."""
        return self.layout_items(list(track), rate, track.enabled, track.name)

    @staticmethod
    def layout_items(children: list, rate: Fraction, enabled: bool, name: str) -> list[_Entry]:
        entries: list[_Entry] = []
        position = 0
        for child in children:
            if isinstance(child, otio.schema.Transition):
                cut_in = frames_of(child.in_offset, rate)
                cut_out = frames_of(child.out_offset, rate)
                entries.append(_Entry(child, position - cut_in, cut_in + cut_out, cut_in, cut_out, enabled))
                continue
            try:
                duration = frames_of(child.trimmed_range().duration, rate)
            except Exception as exc:  # OTIO raises for items with neither source nor available range
                raise FcpxmlWriteError(
                    f"track {name!r}: item {child.name!r} has no duration ({exc}); give it a source range"
                ) from exc
            entries.append(_Entry(child, position, duration, track_enabled=enabled))
            position += duration
        return entries

    @staticmethod
    def runs(entries: list[_Entry]) -> list[list[_Entry]]:
        """Split a track into stretches separated by gaps (a gap touching a transition stays in)."""
        runs: list[list[_Entry]] = []
        current: list[_Entry] = []
        for i, entry in enumerate(entries):
            if entry.is_gap:
                touches = (i > 0 and entries[i - 1].is_transition) or (
                    i + 1 < len(entries) and entries[i + 1].is_transition
                )
                if not touches:
                    if current:
                        runs.append(current)
                    current = []
                    continue
            current.append(entry)
        if current:
            runs.append(current)
        return [r for r in runs if any(not e.is_gap and not e.is_transition for e in r)]

    # ---- items -------------------------------------------------------------------------------

    def _markers(self, item: otio.core.Item, local_rate: Fraction, local_origin: Fraction) -> list[ET.Element]:
        """``item``'s markers in its own local time. ``local_rate``: the grid its times sit on."""
        out = []
        for marker in item.markers:
            rng = marker.marked_range
            start = local_origin + Fraction(frames_of(rng.start_time, local_rate)) / local_rate
            attrs = {"start": format_time(start)}
            length = frames_of(rng.duration, local_rate)
            if length > 0:
                attrs["duration"] = format_time(Fraction(length) / local_rate)
            attrs["value"] = _text(marker.name)
            if marker.color == otio.schema.MarkerColor.RED:
                attrs["completed"] = "0"
            elif marker.color == otio.schema.MarkerColor.GREEN:
                attrs["completed"] = "1"
            kind = (marker.metadata.get(FCPXML_META) or {}).get("kind")
            tag = "chapter-marker" if kind == "chapter-marker" else "marker"
            if tag == "chapter-marker":
                attrs.pop("completed", None)
            out.append(ET.Element(tag, attrs))
        return out

    def item_element(
        self,
        entry: _Entry,
        rate: Fraction,
        offset: Fraction,
        lane: int | None,
        track_kind: str,
        tc_format: str,
    ) -> tuple[ET.Element, Fraction, list[ET.Element]]:
        """The element for a clip, gap, nested stack or generator: (element, local start seconds,
        marker elements to append after any anchored items)."""
        item = entry.item
        duration = format_time(Fraction(entry.duration) / rate)
        lane_attr = {"lane": str(lane)} if lane else {}
        if isinstance(item, otio.schema.Gap):
            element = ET.Element("gap", {**lane_attr, "name": "Gap", "offset": format_time(offset)})
            element.set("duration", duration)
            return element, Fraction(0), self._markers(item, rate, Fraction(0))
        if isinstance(item, (otio.schema.Stack, otio.schema.Track)):
            return self._ref_clip(item, entry, rate, offset, lane_attr, duration)
        if not isinstance(item, otio.schema.Clip):
            raise UnsupportedFeature(f"{item.schema_name()} {item.name!r} cannot be written to FCPXML")
        enabled = {} if item.enabled and entry.track_enabled else {"enabled": "0"}
        ref = item.media_reference
        if isinstance(ref, otio.schema.GeneratorReference):
            return self._generator(item, entry, rate, offset, lane_attr, duration, enabled)
        key = self._media_key(item)
        if key is None:  # only generator references have no asset, and they were written above
            raise FcpxmlWriteError(f"clip {item.name!r} has no media reference to write as an asset")
        asset = self.assets[key]
        mrate = asset.rate
        src_in = Fraction(frames_of(item.trimmed_range().start_time, mrate)) / mrate
        attrs = {"ref": asset.id, **lane_attr, "offset": format_time(offset), "name": _text(item.name)}
        attrs["start"] = format_time(src_in)
        attrs["duration"] = duration
        if asset.has_video:
            attrs["format"] = self.asset_format(asset)
        attrs.update(enabled)
        is_video = track_kind == otio.schema.TrackKind.Video
        if is_video and asset.has_audio:
            attrs["srcEnable"] = "video"
        elif not is_video and asset.has_video:
            attrs["srcEnable"] = "audio"
        # The clip's own timecode display: its media's counting, by the one drop-frame rule.
        attrs["tcFormat"] = "DF" if media_drop_frame(item, mrate, self.time, self.drop_stated) else "NDF"
        element = ET.Element("asset-clip", attrs)
        if mrate != rate:
            name = conform_rate_name(mrate)
            if name:
                ET.SubElement(element, "conform-rate", {"srcFrameRate": name})
        if is_video and asset.has_video:  # reframing (vertical/square): fit + position keyframes
            element.extend(reframe_elements(item, (self.width, self.height), mrate))
        volume = self.volume_element(item, rate, src_in) if asset.has_audio and not is_video else None
        if volume is not None:
            element.append(volume)
        return element, src_in, self._markers(item, mrate, Fraction(0))

    @staticmethod
    def volume_element(item: otio.schema.Clip, rate: Fraction, local_start: Fraction) -> ET.Element | None:
        """The clip's mix (``nle_adapters.mix``) as ``adjust-volume › param amount``: ``fadeIn`` /
        ``fadeOut`` (micro-fades, linear) and gain keyframes in the clip's local time (dB)."""
        mix = clip_mix(item)
        if not mix:
            return None
        element = ET.Element("adjust-volume")
        param = ET.SubElement(element, "param", {"name": "amount"})
        for side, tag in (("fade_in", "fadeIn"), ("fade_out", "fadeOut")):
            if mix.get(side):
                seconds = Fraction(mix[side]).limit_denominator(48000)
                ET.SubElement(param, tag, {"type": "linear", "duration": format_time(seconds)})
        if mix.get("volume"):
            animation = ET.SubElement(param, "keyframeAnimation")
            for frame, db in mix["volume"]:
                at = local_start + Fraction(frame).limit_denominator(1000) / rate
                ET.SubElement(animation, "keyframe", {"time": format_time(at), "value": f"{db:g}dB"})
        return element

    def _generator(self, item, entry, rate, offset, lane_attr, duration, enabled):
        params = item.media_reference.parameters or {}
        uid = params.get("effect_uid")
        start = Fraction(frames_of(item.trimmed_range().start_time, rate)) / rate
        if not uid:
            # A generator FCP has no equivalent for (colour matte, slug…): keep its place and name.
            element = ET.Element("gap", {**lane_attr, "name": _text(item.name), "offset": format_time(offset)})
            element.set("duration", duration)
            return element, Fraction(0), self._markers(item, rate, Fraction(0))
        kind = item.media_reference.generator_kind
        effect = self.effect_id(_text(params.get("effect_name") or item.name), _text(uid))
        tag = "title" if kind == "fcpx_title" else "video"
        attrs = {"ref": effect, **lane_attr, "offset": format_time(offset), "name": _text(item.name)}
        attrs.update({"start": format_time(start), "duration": duration, **enabled})
        element = ET.Element(tag, attrs)
        if tag == "title" and params.get("text"):
            text = ET.SubElement(element, "text")
            ET.SubElement(text, "text-style").text = _text(params["text"])
        return element, start, self._markers(item, rate, Fraction(0))

    def _ref_clip(self, stack, entry, rate, offset, lane_attr, duration):
        """A nested stack (or a track nested in a track) → ``ref-clip`` to a ``media`` holding its
        own sequence (a compound clip)."""
        media_id = self._id()
        media = ET.Element("media", {"id": media_id, "name": _text(stack.name or "Compound Clip")})
        self.media.append(media)
        # A compound clip counts like the timeline it sits in (same rate, same rule).
        sequence = self.sequence(stack, rate, 0, "DF" if self.time.drop_frame else "NDF")
        media.append(sequence)
        start = Fraction(0)
        if stack.source_range is not None:
            start = Fraction(frames_of(stack.source_range.start_time, rate)) / rate
        attrs = {"ref": media_id, **lane_attr, "offset": format_time(offset), "name": _text(stack.name)}
        attrs.update({"start": format_time(start), "duration": duration})
        if not (stack.enabled and entry.track_enabled):
            attrs["enabled"] = "0"
        return ET.Element("ref-clip", attrs), start, self._markers(stack, rate, Fraction(0))

    def transition_element(self, entry: _Entry, rate: Fraction, offset: Fraction, audio: bool) -> ET.Element:
        item = entry.item
        name = item.name or "Cross Dissolve"
        element = ET.Element("transition", {"name": _text(name), "offset": format_time(offset)})
        element.set("duration", format_time(Fraction(entry.duration) / rate))
        if audio:
            ref = self.effect_id("Audio Crossfade", AUDIO_CROSSFADE_UID)
            ET.SubElement(element, "filter-audio", {"ref": ref, "name": "Audio Crossfade"})
        else:
            uid = (item.metadata.get(FCPXML_META) or {}).get("effect_uid") or CROSS_DISSOLVE_UID
            effect_name = (item.metadata.get(FCPXML_META) or {}).get("effect_name") or "Cross Dissolve"
            ref = self.effect_id(_text(effect_name), _text(uid))
            ET.SubElement(element, "filter-video", {"ref": ref, "name": _text(effect_name)})
        return element

    # ---- sequence ----------------------------------------------------------------------------

    def sequence(
        self, stack: otio.schema.Stack | otio.schema.Track, rate: Fraction, tc_start: int, tc_format: str
    ) -> ET.Element:
        """``sequence › spine`` for ``stack`` (or one nested track); ``tc_start`` in timeline frames."""
        # Captions belong to the timeline's own sequence: the first (outermost) call takes them.
        captions, self.captions = self.captions, []
        children = [stack] if isinstance(stack, otio.schema.Track) else list(stack)
        loose_markers = [] if isinstance(stack, otio.schema.Track) else list(stack.markers)
        layers: list[_Layer] = []
        for child in children:
            if isinstance(child, otio.schema.Track):
                layers.append(_Layer(child.kind, self.layout(child, rate)))
                loose_markers.extend(child.markers)
            elif isinstance(child, otio.core.Item):
                # A clip or stack straight inside a stack is a layer of its own, starting at 0.
                entries = self.layout_items([child], rate, True, child.name)
                layers.append(_Layer(otio.schema.TrackKind.Video, entries))
        video = [t for t in layers if t.kind == otio.schema.TrackKind.Video]
        audio = [t for t in layers if t.kind == otio.schema.TrackKind.Audio]
        total = 0
        for layer in layers:
            for e in layer.entries:
                if not e.is_transition:
                    total = max(total, e.start + e.duration)

        def at(frames: int) -> Fraction:
            return Fraction(tc_start + frames) / rate

        sequence = ET.Element("sequence", {"format": self.format_id(rate, self.width, self.height)})
        sequence.set("duration", format_time(Fraction(total) / rate))
        sequence.set("tcStart", format_time(Fraction(tc_start) / rate))
        sequence.set("tcFormat", tc_format)
        sequence.set("audioLayout", "stereo")
        sequence.set("audioRate", "48k")
        spine = ET.SubElement(sequence, "spine")
        primary: list[_Primary] = []
        end = 0
        main = video[0].entries if video else []
        for entry in main:
            if entry.is_transition:
                spine.append(self.transition_element(entry, rate, at(entry.start), audio=False))
                continue
            element, local, markers = self.item_element(
                entry, rate, at(entry.start), None, otio.schema.TrackKind.Video, tc_format
            )
            spine.append(element)
            primary.append(_Primary(element, entry.start, entry.duration, local, markers=markers))
            end = entry.start + entry.duration
        if total > end or not primary:
            # Pad the primary storyline so every connected item has a parent under it.
            pad = ET.SubElement(spine, "gap", {"name": "Gap", "offset": format_time(at(end))})
            pad.set("duration", format_time(Fraction(max(total - end, 0)) / rate))
            primary.append(_Primary(pad, end, total - end, Fraction(0)))
        starts = [p.start for p in primary]
        lanes = [(t, i + 1) for i, t in enumerate(video[1:])] + [(t, -(i + 1)) for i, t in enumerate(audio)]
        for track, lane in lanes:
            is_audio = track.kind == otio.schema.TrackKind.Audio
            for run in self.runs(track.entries):
                run_start = min(e.start for e in run)
                index = max(0, bisect.bisect_right(starts, run_start) - 1)
                parent = primary[index]
                anchor = parent.local_start + Fraction(run_start - parent.start) / rate
                if len(run) == 1:
                    element, _, markers = self.item_element(run[0], rate, anchor, lane, track.kind, tc_format)
                    element.extend(markers)
                    if element.tag != "gap":
                        parent.anchored.append(element)
                        continue
                    # A gap cannot be connected on its own (a generator FCP has no effect for):
                    # it keeps its place and name inside a one-item connected storyline.
                    element.attrib.pop("lane", None)
                    element.set("offset", "0s")
                    storyline = ET.Element("spine", {"lane": str(lane), "offset": format_time(anchor)})
                    storyline.append(element)
                    parent.anchored.append(storyline)
                    continue
                storyline = ET.Element("spine", {"lane": str(lane), "offset": format_time(anchor)})
                for entry in run:
                    local = Fraction(entry.start - run_start) / rate
                    if entry.is_transition:
                        storyline.append(self.transition_element(entry, rate, local, audio=is_audio))
                        continue
                    element, _, markers = self.item_element(entry, rate, local, None, track.kind, tc_format)
                    element.extend(markers)
                    storyline.append(element)
                parent.anchored.append(storyline)
        # FCPXML has no timeline or track markers: put them on the primary item under them (in that
        # item's local time) so they stay at the same record frame instead of being dropped.
        for marker in loose_markers:
            position = frames_of(marker.marked_range.start_time, rate)
            parent = primary[max(0, bisect.bisect_right(starts, position) - 1)]
            local = parent.local_start + Fraction(position - parent.start) / rate
            attrs = {"start": format_time(local)}
            length = frames_of(marker.marked_range.duration, rate)
            if length > 0:
                attrs["duration"] = format_time(Fraction(length) / rate)
            attrs["value"] = _text(marker.name)
            parent.markers.append(ET.Element("marker", attrs))
        if captions:
            lane = len(video)  # above every connected video lane
            for number, cue in enumerate(captions, 1):
                position = cue["start"]
                parent = primary[max(0, bisect.bisect_right(starts, position) - 1)]
                local = parent.local_start + Fraction(position - parent.start) / rate
                parent.anchored.append(self.caption_element(cue, number, lane, local, rate))
        for p in primary:
            p.element.extend(p.anchored)
            p.element.extend(p.markers)
        return sequence

    def caption_element(self, cue: dict, number: int, lane: int, offset: Fraction, rate: Fraction) -> ET.Element:
        """One caption cue (``nle_adapters.mix`` shape) as an ITT ``caption`` FCP and Resolve import."""
        attrs = {"lane": str(lane), "offset": format_time(offset), "name": _text(cue["text"])[:64]}
        attrs.update(
            {"start": format_time(offset), "duration": format_time(Fraction(cue["end"] - cue["start"]) / rate)}
        )
        attrs["role"] = "iTT?captionFormat=ITT.en"
        element = ET.Element("caption", attrs)
        style_id = f"cap{number}"
        text = ET.SubElement(element, "text", {"placement": "bottom"})
        ET.SubElement(text, "text-style", {"ref": style_id}).text = _text(cue["text"])
        definition = ET.SubElement(element, "text-style-def", {"id": style_id})
        ET.SubElement(
            definition,
            "text-style",
            {
                "font": ".SF NS Text",
                "fontSize": "13",
                "fontFace": "Regular",
                "fontColor": "1 1 1 1",
                "backgroundColor": "0 0 0 1",
            },
        )
        return element


def write_timeline(timeline: otio.schema.Timeline, version: str = DEFAULT_WRITE_VERSION) -> str:
    """Render ``timeline`` as an FCPXML document (text). The timeline is not modified."""
    version = str(version)
    writer = _Writer(version)
    rate = timeline_rate(timeline) or Fraction(24)
    meta = meta_view(timeline)
    writer.width = int(meta.get("width") or 1920)
    writer.height = int(meta.get("height") or 1080)
    # DF/NDF by the one rule every writer uses (DESIGN.md Time rule 3): the source's choice, else DF
    # at 29.97/59.94 — so a DF AAF or EDL that says nothing opens in FCP on its own start label.
    writer.drop_stated = stated_drop_frame(timeline)
    drop = drop_frame_rule(rate, writer.drop_stated)
    tc_format = "DF" if drop else "NDF"
    start = frames_of(timeline.global_start_time, rate) if timeline.global_start_time is not None else 0
    writer.time = TimelineTime(rate, start, drop)
    writer.scan(timeline.tracks, rate)
    writer.captions = timeline_captions(timeline)
    # Resources first in the document, but filled while the sequence is written (effects, media).
    sequence = writer.sequence(timeline.tracks, rate, start, tc_format)
    root = ET.Element("fcpxml", {"version": version})
    resources = ET.SubElement(root, "resources")
    asset_elements = [writer.asset_element(a) for a in writer.assets.values()]
    resources.extend(writer.formats.values())
    resources.extend(writer.effects.values())
    resources.extend(asset_elements)
    resources.extend(writer.media)
    library = ET.SubElement(root, "library")
    fcp_meta = timeline.metadata.get(FCPXML_META) or {}
    event = ET.SubElement(library, "event", {"name": _text(fcp_meta.get("event") or "Montage Bridge")})
    project = ET.SubElement(event, "project", {"name": _text(timeline.name or "Timeline")})
    project.append(sequence)
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n\n' + body + "\n"


__all__ = ["FcpxmlWriteError", "write_timeline"]
