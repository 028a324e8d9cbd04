"""Read FCP7 XML (xmeml v4 and v5) into OTIO, frame-exact.

Handles what real writers emit (research/interchange.md §1b, §4):
- Premiere v4 (``project > children > sequence``, ``file://localhost/D%3a/…`` URLs, transitions with
  ``-1`` clip edges, generators, nested sequences, ``<enabled>FALSE``), Resolve v5 (root ``sequence``,
  ids with spaces), Hiero v5, and auto-editor (bare paths, empty ``<duration/>``);
- exact NTSC rates from ``timebase`` + ``ntsc``; sequence start TC (``timecode/frame`` or ``string`` +
  ``displayformat``) → ``global_start_time``; media start TC (``file/timecode``) → source ranges in media
  time; ``<file id=…/>`` references resolved to the one full definition;
- ``<link>`` groups kept in ``metadata.montage_bridge.links``.

Timing rule: ``start``/``end`` are record frames at the sequence rate; ``in``/``out`` are frames from
the media's first frame at the clipitem's rate. A ``-1`` edge means "at the transition's cut point",
and then ``in`` includes the part under the transition (as upstream and Premiere do).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from fractions import Fraction
from typing import overload

import opentimelineio as otio

from kernel.timebase import TimecodeError, format_rate, rescale_frames, supports_drop_frame, timecode_to_frames
from nle_adapters.errors import TimelineParseError
from nle_adapters.reframe_meta import read_xmeml_motion
from nle_adapters.timeline_facts import META, rt, time_range
from nle_adapters.xml_safety import parse_xml

_ITEM_TAGS = ("clipitem", "transitionitem", "generatoritem")


@overload
def _text(el: ET.Element | None, path: str, default: str) -> str: ...
@overload
def _text(el: ET.Element | None, path: str, default: None = None) -> str | None: ...
def _text(el: ET.Element | None, path: str, default: str | None = None) -> str | None:
    if el is None:
        return default
    found = el.find(path)
    if found is None or found.text is None or not found.text.strip():
        return default
    return found.text.strip()


_MAX_SIZE = 65536  # pixels: frame sizes go into OTIO metadata (C++ int64: a 300-digit width is a ValueError)


class _BadNumber(ValueError):
    """A number element holding infinity or an impossible frame size (turned into a TimelineParseError)."""

    def __init__(self, path: str, value: str) -> None:
        super().__init__(path, value)
        self.path, self.value = path, value


@overload
def _int(el: ET.Element | None, path: str, default: int) -> int: ...
@overload
def _int(el: ET.Element | None, path: str, default: None = None) -> int | None: ...
def _int(el: ET.Element | None, path: str, default: int | None = None) -> int | None:
    value = _text(el, path)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        return default
    if math.isnan(number):
        return default
    if not math.isfinite(number):  # int(inf) is an OverflowError; huge finite times fail the sanity check
        raise _BadNumber(path, value)
    return int(round(number))


def _size(el: ET.Element | None, path: str) -> int | None:
    """A frame width or height: None when absent; refused when negative or beyond any camera."""
    value = _int(el, path)
    if value is not None and not 0 <= value <= _MAX_SIZE:
        raise _BadNumber(path, _text(el, path) or "")
    return value


def _rate(el: ET.Element | None, fallback: Fraction | None = None) -> Fraction | None:
    """``<rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate>`` → 30000/1001."""
    rate_el = el.find("rate") if el is not None else None
    timebase = _text(rate_el, "timebase")
    if timebase is None:
        return fallback
    try:
        base = Fraction(timebase)
    except (ValueError, ZeroDivisionError):
        return fallback
    if base <= 0:
        return fallback
    if (_text(rate_el, "ntsc", "FALSE") or "").upper() == "TRUE":
        return Fraction(int(base) * 1000, 1001)
    return base


def _timecode(tc_el: ET.Element | None, rate: Fraction) -> tuple[int | None, bool | None]:
    """A ``<timecode>`` element → (frames at ``rate``, drop frame?)."""
    if tc_el is None:
        return None, None
    tc_rate = _rate(tc_el, rate) or rate
    display = (_text(tc_el, "displayformat", "") or "").upper()
    drop = display == "DF" if display in ("DF", "NDF") else None
    frame = _int(tc_el, "frame")
    string = _text(tc_el, "string")
    if drop is None and string:
        drop = ";" in string
    drop = bool(drop) and supports_drop_frame(tc_rate)
    if frame is None and string:
        try:
            frame = timecode_to_frames(string, tc_rate, drop_frame=drop)
        except TimecodeError:
            frame = None
    if frame is not None and tc_rate != rate:
        frame = rescale_frames(frame, tc_rate, rate)
    return frame, drop


class _Reader:
    def __init__(self, root: ET.Element, source: str) -> None:
        self.source = source
        self.files: dict[str, ET.Element] = {}
        self.frame_size: tuple[int | None, int | None] | None = None  # the sequence being read
        # First full definition of each file id wins; later <file id="x"/> are references.
        for file_el in root.iter("file"):
            file_id = file_el.get("id")
            if file_id and len(file_el) and file_id not in self.files:
                self.files[file_id] = file_el

    def file_for(self, item: ET.Element) -> ET.Element | None:
        file_el = item.find("file")
        if file_el is None:
            return None
        if len(file_el):
            return file_el
        return self.files.get(file_el.get("id", ""), file_el)

    def media_reference(
        self, file_el: ET.Element | None, fallback_rate: Fraction, name: str
    ) -> tuple[otio.core.MediaReference, Fraction, int]:
        """The media reference, media rate and media start frame (start TC) of a ``<file>``."""
        if file_el is None:
            return otio.schema.MissingReference(name=name), fallback_rate, 0
        rate = _rate(file_el, None) or _rate(file_el.find("media/video/samplecharacteristics"), None) or fallback_rate
        start, drop = _timecode(file_el.find("timecode"), rate)
        start = start or 0
        duration = _int(file_el, "duration")
        available = time_range(start, duration, rate) if duration is not None and duration > 0 else None
        # Only what a writer needs: building OTIO metadata is the reader's main cost on big files.
        # The exact media rate rides on the clip (``source_rate``); the reference only carries the
        # exceptions a writer needs: drop-frame media TC and a non-HD frame size.
        meta: dict = {}
        if drop:
            meta["drop_frame"] = True
        width = _size(file_el, "media/video/samplecharacteristics/width")
        if width and width != 1920:
            meta["width"] = width
            meta["height"] = _size(file_el, "media/video/samplecharacteristics/height")
        meta = {META: meta} if meta else {}
        path = _text(file_el, "pathurl")
        file_name = _text(file_el, "name", name) or name
        if path:
            ref: otio.core.MediaReference = otio.schema.ExternalReference(
                target_url=path, available_range=available, metadata=meta or None
            )
            ref.name = file_name
        elif file_el.find("mediaSource") is not None:
            ref = otio.schema.GeneratorReference(
                name=file_name,
                generator_kind=_text(file_el, "mediaSource", "") or "",
                available_range=available,
                metadata=meta,
            )
        else:
            ref = otio.schema.MissingReference(name=file_name, available_range=available, metadata=meta)
        return ref, rate, start

    def sequence(self, seq: ET.Element, parent_rate: Fraction | None = None) -> tuple[otio.schema.Stack, dict]:
        rate = _rate(seq, parent_rate) or parent_rate
        if rate is None:
            raise TimelineParseError(self.source, f"sequence {_text(seq, 'name', '')!r} has no <rate>")
        start, drop = _timecode(seq.find("timecode"), rate)
        stack = otio.schema.Stack(name=_text(seq, "name", "") or "")
        width = _size(seq, "media/video/format/samplecharacteristics/width")
        height = _size(seq, "media/video/format/samplecharacteristics/height")
        outer, self.frame_size = self.frame_size, (width, height)  # the frame Basic Motion is relative to
        for kind, path in (
            (otio.schema.TrackKind.Video, "media/video/track"),
            (otio.schema.TrackKind.Audio, "media/audio/track"),
        ):
            for index, track_el in enumerate(seq.findall(path), start=1):
                stack.append(self.track(track_el, kind, index, rate))
        for marker_el in seq.findall("marker"):
            marker = self.marker(marker_el, 0, rate)
            if marker is not None:
                stack.markers.append(marker)
        self.frame_size = outer
        info = {"rate": rate, "start": start or 0, "drop": bool(drop), "width": width, "height": height}
        return stack, info

    def marker(
        self, el: ET.Element, base: int, rate: Fraction, media_rate: Fraction | None = None
    ) -> otio.schema.Marker | None:
        """A ``<marker>``: ``in``/``out`` count at ``rate`` from ``base``; with ``media_rate`` (a clip's
        marker) they are media frames from the ``<file>``'s start TC, rescaled to the media's rate so the
        marker lies in media time like the clip's range. A clip's ``in`` (and so its markers') may be
        negative where one path has several ``<file>`` timecodes; a sequence marker's may not."""
        marker_in = _int(el, "in")
        if marker_in is None or (marker_in < 0 and media_rate is None):
            return None
        marker_out = _int(el, "out", -1)
        duration = max(0, marker_out - marker_in) if marker_out is not None and marker_out >= 0 else 0
        if media_rate is not None and media_rate != rate:
            marker_in = rescale_frames(marker_in, rate, media_rate)
            duration = rescale_frames(duration, rate, media_rate)
            rate = media_rate
        marker = otio.schema.Marker(
            name=_text(el, "name", "") or "", marked_range=time_range(base + marker_in, duration, rate)
        )
        comment = _text(el, "comment")
        if comment:
            marker.metadata[META] = {"comment": comment}
        return marker

    def track(self, track_el: ET.Element, kind: str, index: int, rate: Fraction) -> otio.schema.Track:
        prefix = "V" if kind == otio.schema.TrackKind.Video else "A"
        track = otio.schema.Track(name=track_el.get("MZ.TrackName") or f"{prefix}{index}", kind=kind)
        if (_text(track_el, "enabled", "TRUE") or "TRUE").upper() == "FALSE":
            track.enabled = False
        elements = [el for el in track_el if el.tag in _ITEM_TAGS]
        position = 0
        for i, el in enumerate(elements):
            if el.tag == "transitionitem":
                t_start, t_end = _int(el, "start", 0), _int(el, "end", 0)
                cut = _cut_point(el)
                if cut > position:
                    # Nothing ends at the cut (the track's start, a gap, or a clip with an explicit end
                    # before it): a gap up to the cut, so the transition sits between it and the clip
                    # that starts there. (A fade-in after a gap went in right after the previous clip.)
                    track.append(otio.schema.Gap(source_range=time_range(0, cut - position, rate)))
                    position = cut
                name = _text(el, "effect/name", "") or ""
                track.append(
                    otio.schema.Transition(
                        name=name,
                        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve
                        if "dissolve" in name.lower() or not name
                        else otio.schema.TransitionTypes.Custom,
                        in_offset=rt(cut - t_start, rate),
                        out_offset=rt(t_end - cut, rate),
                        metadata={META: {"alignment": _text(el, "alignment", "center")}},
                    )
                )
                continue
            head = elements[i - 1] if i > 0 and elements[i - 1].tag == "transitionitem" else None
            tail = elements[i + 1] if i + 1 < len(elements) and elements[i + 1].tag == "transitionitem" else None
            start_v, end_v = _int(el, "start", -1), _int(el, "end", -1)
            start = _cut_point(head) if start_v == -1 and head is not None else start_v
            end = _cut_point(tail) if end_v == -1 and tail is not None else end_v
            head_offset = start - _int(head, "start", 0) if start_v == -1 and head is not None else 0
            if start < 0 or end < start:
                raise TimelineParseError(
                    self.source, f"clipitem {el.get('id') or _text(el, 'name', '?')!r} has no usable start/end"
                )
            if start > position:
                track.append(otio.schema.Gap(source_range=time_range(0, start - position, rate)))
            elif start < position:
                # Overlap (malformed or a lapped transition): keep the clip, shortened to what is free.
                head_offset += position - start
                start = position
                if end <= start:
                    continue
            track.append(self.item(el, start, end, head_offset, rate))
            position = end
        return track

    def item(self, el: ET.Element, start: int, end: int, head_offset: int, rate: Fraction) -> otio.core.Item:
        name = _text(el, "name", "") or ""
        clip_rate = _rate(el, rate) or rate
        duration = end - start
        nested = el.find("sequence")
        if nested is not None:
            stack, _ = self.sequence(nested, clip_rate)
            stack.name = name or stack.name
            stack.source_range = time_range((_int(el, "in", 0) or 0) + head_offset, duration, clip_rate, rate)
            return stack
        if el.tag == "generatoritem":
            ref: otio.core.MediaReference = otio.schema.GeneratorReference(
                name=name, generator_kind=_text(el, "effect/effectid", "") or _text(el, "effect/name", "") or ""
            )
            media_rate, media_start = clip_rate, 0
        else:
            ref, media_rate, media_start = self.media_reference(self.file_for(el), clip_rate, name)
        source_in = (_int(el, "in", 0) or 0) + head_offset
        if media_rate != clip_rate:
            source_in = rescale_frames(source_in, clip_rate, media_rate)
        clip = otio.schema.Clip(
            name=name or getattr(ref, "name", "") or "",
            media_reference=ref,
            source_range=time_range(media_start + source_in, duration, media_rate, rate),
        )
        # The media rate is stated only when it is not the sequence rate (metadata is costly to build;
        # a same-rate clip's exact rate is recovered from its source range).
        meta: dict = {} if media_rate == rate else {"source_rate": format_rate(media_rate)}
        links = [_text(link, "linkclipref") for link in el.findall("link")]
        links = [link for link in links if link and link != el.get("id")]
        if links:
            meta["links"] = links
        volume = _levels(el, (_int(el, "in", 0) or 0) + head_offset)  # in the clipitem's own frames
        if volume:
            meta["mix"] = {"volume": volume}
        framed = self.reframe(el, media_rate, clip_rate)
        if framed is not None:
            meta["reframe"] = framed
        if meta:
            clip.metadata[META] = meta
        if (_text(el, "enabled", "TRUE") or "TRUE").upper() == "FALSE":
            clip.enabled = False
        for marker_el in el.findall("marker"):
            # In media time, start TC included, at the media's rate: where the writers look for it. (A
            # marker on a clip of another rate was left at the clipitem's rate without the start TC, so
            # it lay before its media and the xmeml writer dropped it.)
            marker = self.marker(marker_el, media_start, clip_rate, media_rate)
            if marker is not None:
                clip.markers.append(marker)
        return clip

    def reframe(self, el: ET.Element, media_rate: Fraction, clip_rate: Fraction) -> dict | None:
        """A video clipitem's Basic Motion as reframe metadata (``nle_adapters.reframe_meta``), or None."""
        width, height = self.frame_size or (None, None)
        if not width or not height:
            return None
        for effect in el.findall("filter/effect"):
            if (_text(effect, "effectid") or "").lower() != "basic" and _text(effect, "name") != "Basic Motion":
                continue
            file_el = self.file_for(el)
            file_w = _size(file_el, "media/video/samplecharacteristics/width") or width
            file_h = _size(file_el, "media/video/samplecharacteristics/height") or height
            return read_xmeml_motion(effect, (width, height), (file_w, file_h), media_rate, clip_rate)
        return None


def _levels(el: ET.Element, source_in: int) -> list[list[float]]:
    """An Audio Levels filter's ``level`` keyframes as ``nle_adapters.mix`` volume keyframes: frames
    from the clip's first frame (``when`` minus the clip's in point) and dB (level is linear gain)."""
    for effect in el.findall("filter/effect"):
        if (_text(effect, "effectid") or "").lower() not in ("audiolevels",) and _text(
            effect, "name"
        ) != "Audio Levels":
            continue
        for param in effect.findall("parameter"):
            if (_text(param, "parameterid") or "").lower() != "level":
                continue
            keys = []
            for key in param.findall("keyframe"):
                when, value = _int(key, "when"), _text(key, "value")
                try:
                    level = float(value or "")
                except ValueError:
                    continue
                if when is None or not math.isfinite(level) or level <= 0:
                    continue
                keys.append([when - source_in, round(20 * math.log10(level), 3)])
            if not keys:
                try:
                    level = float(_text(param, "value") or "1")
                except ValueError:
                    level = 1.0
                if math.isfinite(level) and level > 0 and abs(level - 1) > 1e-6:
                    keys = [[0, round(20 * math.log10(level), 3)]]
            return keys
    return []


def _cut_point(transition: ET.Element) -> int:
    """Record frame where a transition passes from the outgoing to the incoming clip."""
    t_start, t_end = _int(transition, "start", 0), _int(transition, "end", 0)
    alignment = (_text(transition, "alignment", "center") or "center").lower()
    if alignment.startswith("end"):
        return t_end
    if alignment.startswith("start"):
        return t_start
    return (t_start + t_end) // 2


def _sequences(el: ET.Element) -> list[ET.Element]:
    """Top-level sequences: under the root, ``project/children`` and ``bin/children`` (not nested ones)."""
    found: list[ET.Element] = []
    for child in el:
        if child.tag == "sequence":
            found.append(child)
        elif child.tag in ("project", "children", "bin"):
            found.extend(_sequences(child))
    return found


def read_xmeml(data: str | bytes, source: str = "<xmeml>") -> otio.schema.Timeline | otio.schema.SerializableCollection:
    """Parse xmeml into a Timeline (one sequence) or a SerializableCollection of Timelines."""
    try:
        return _read_xmeml(data, source)
    except _BadNumber as exc:
        shown = exc.value if len(exc.value) <= 40 else exc.value[:40] + "…"
        raise TimelineParseError(
            source, f"<{exc.path.rsplit('/', 1)[-1]}> is {shown}: not a number any NLE accepts"
        ) from None


def _read_xmeml(data: str | bytes, source: str) -> otio.schema.Timeline | otio.schema.SerializableCollection:
    root = parse_xml(data, source)
    if root.tag != "xmeml":
        raise TimelineParseError(source, f"root element is <{root.tag}>, not <xmeml>", hint="is this FCP7 XML?")
    sequences = _sequences(root)
    if not sequences:
        raise TimelineParseError(source, "no <sequence> found", hint="export a sequence, not only clips")
    reader = _Reader(root, source)
    timelines = []
    for seq in sequences:
        stack, info = reader.sequence(seq)
        rate: Fraction = info["rate"]
        timeline = otio.schema.Timeline(name=stack.name)
        for track in list(stack):
            stack.remove(track)
            timeline.tracks.append(track)
        for marker in stack.markers:
            timeline.tracks.markers.append(marker.clone())
        timeline.global_start_time = rt(info["start"], rate)
        timeline.metadata[META] = {
            "rate": format_rate(rate),
            "drop_frame": info["drop"],
            "source_format": "xmeml",
            "xmeml_version": root.get("version"),
        }
        if info["width"]:
            timeline.metadata[META]["width"] = info["width"]
            timeline.metadata[META]["height"] = info["height"]
        timelines.append(timeline)
    if len(timelines) == 1:
        return timelines[0]
    return otio.schema.SerializableCollection(name=source.rsplit("/", 1)[-1], children=timelines)
