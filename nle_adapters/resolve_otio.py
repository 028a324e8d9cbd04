"""OTIO shaped the way DaVinci Resolve's ``ImportTimelineFromFile`` accepts it.

Measured on Resolve 19.1 (research/resolve_api.md §2.10, §3 item 8): Resolve imports an ``.otio`` only
when it looks like its own export —
- ``Clip.2`` with a ``media_references`` map and ``active_media_reference_key`` (OTIO ≥ 0.16 writes that);
- ``target_url`` a **bare path**, not a ``file://`` URL;
- each reference has an ``available_range`` in the media's timecode space, and each clip's
  ``source_range`` starts timecode-absolute (media start TC + offset) *at the media rate* and lies
  inside it; its duration is in timeline frames at the timeline rate (OTIO allows the two rates),
  so record positions stay exact on mixed-rate tracks;
- ``global_start_time`` set (01:00:00:00 unless the timeline says otherwise);
- track names in Resolve's form ("Video 1", "Audio 1") and ``Resolve_OTIO`` metadata.

Writing never changes the input (:func:`to_resolve_shape` shapes a deep copy; the writer shapes the
timeline in place and puts it back after serializing, which is several times cheaper). Reading turns
the media-rate durations back into timeline-rate durations, the project's convention.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import opentimelineio as otio

from kernel.timebase import format_rate, rate_from_float, rescale_frames
from nle_adapters.timeline_facts import (
    META,
    TimelineTime,
    clip_time,
    exact_rate,
    frames_at,
    media_rate,
    meta_view,
    our_meta,
    parse_rate_cached,
    rt,
    time_range,
    timeline_time,
    url_to_path,
)

RESOLVE_META = "Resolve_OTIO"
DEFAULT_START_FRAMES_SECONDS = 3600  # 01:00:00:00, Resolve's default timeline start


def to_resolve_shape(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A Resolve-shaped deep copy of ``timeline`` (see module docstring)."""
    shaped = copy.deepcopy(timeline)
    _shape(shaped, timeline_time(timeline), None)
    return shaped


def write_resolve_otio(timeline: otio.schema.Timeline) -> str:
    """Serialize ``timeline`` as Resolve-shaped OTIO JSON.

    ``timeline`` is shaped in place, written, and put back exactly as it was (also when writing
    fails): a deep copy of a 100k-event timeline cost several times the write itself. Do not read
    the same timeline from another thread while this runs.
    """
    undo: list[tuple[Any, str, Any]] = []
    try:
        _shape(timeline, timeline_time(timeline), undo)
        return otio.adapters.write_to_string(timeline, "otio_json")
    finally:
        for obj, name, old in reversed(undo):
            if name == "metadata":  # (metadata, key, previous value or _MISSING)
                metadata, key = obj
                if old is _MISSING:
                    del metadata[key]
                else:
                    metadata[key] = old
            else:
                setattr(obj, name, old)


_MISSING = object()


def _plain(value: Any) -> Any:
    """An OTIO metadata value as plain dicts and lists (objects stay as they are)."""
    if isinstance(value, otio.core.SerializableObject) or isinstance(value, (str, bytes)):
        return value
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "AnyVector":
        return [_plain(v) for v in value]
    return value


def _shape(shaped: otio.schema.Timeline, time: TimelineTime, undo: list[tuple[Any, str, Any]] | None) -> None:
    """Give ``shaped`` Resolve's shape in place; with ``undo``, log (object, attribute, old value)
    for every change so the caller can put the timeline back."""

    def put(obj: Any, name: str, value: Any) -> None:
        if undo is not None:
            undo.append((obj, name, getattr(obj, name)))
        setattr(obj, name, value)

    def put_meta(obj: Any, key: str, value: Any) -> None:
        metadata = obj.metadata
        if undo is not None:
            # A copy: the view OTIO hands out dies with the value it replaces.
            old = _plain(metadata[key]) if len(metadata) and key in metadata else _MISSING
            undo.append(((metadata, key), "metadata", old))
        metadata[key] = value

    if shaped.global_start_time is None:
        start = DEFAULT_START_FRAMES_SECONDS * time.rate
        put(shaped, "global_start_time", rt(int(start), time.rate))
    put_meta(shaped, RESOLVE_META, {"Resolve OTIO Meta Version": "1.0"})
    meta = our_meta(shaped)
    meta["rate"] = format_rate(time.rate)
    meta["drop_frame"] = time.drop_frame
    meta["resolve_shaped"] = True
    put_meta(shaped, META, meta)
    counters = {otio.schema.TrackKind.Video: 0, otio.schema.TrackKind.Audio: 0}
    for track in shaped.tracks:
        if isinstance(track, otio.schema.Track) and track.kind in counters:
            counters[track.kind] += 1
            name = f"{track.kind} {counters[track.kind]}"
            if track.name != name:
                put(track, "name", name)
    external = otio.schema.ExternalReference
    same_rate: dict[str, bool] = {}  # a media reference's rate text → is it the timeline's rate?
    paths: dict[str, str] = {}  # target_url → bare path (media repeat along a timeline)
    for clip in shaped.find_clips():
        ref = clip.media_reference
        source_range = clip.source_range
        # The common case, read cheaply: a clip without metadata whose reference states the
        # timeline's own rate keeps its source range (media_rate's answer, minus its lookups).
        same = False
        if source_range is not None and ref is not None and not len(clip.metadata):
            ours = meta_view(ref)
            text = ours["rate"] if "rate" in ours else None
            if text:
                known = same_rate.get(text)
                if known is None:
                    known = same_rate[text] = parse_rate_cached(str(text)) == time.rate
                same = known
        ct = None
        if not same and (source_range is None or media_rate(clip, time.rate) != time.rate):
            ct = clip_time(clip, time.rate)
            # Start in the media's timecode space at its rate; length in timeline frames at the timeline
            # rate, so every clip's record position (the sum of the lengths before it) stays exact: a
            # media-rate length rounds each clip and the rounding piles up along a track.
            put(clip, "source_range", time_range(ct.source_in, ct.duration, ct.rate, time.rate))
            meta = our_meta(clip)
            meta.update(source_rate=format_rate(ct.rate), record_frames=ct.duration)
            put_meta(clip, META, meta)
        if isinstance(ref, external):
            url = ref.target_url
            path = paths.get(url)
            if path is None:
                path = paths[url] = url_to_path(url)
            if path != url:
                if undo is not None:
                    undo.append((ref, "target_url", url))
                ref.target_url = path
            if ref.available_range is None:
                # Resolve needs an available range; the clip's own range is the least we know is inside the media.
                ct = ct or clip_time(clip, time.rate)
                media_duration = (
                    ct.duration if ct.rate == time.rate else rescale_frames(ct.duration, time.rate, ct.rate)
                )
                put(ref, "available_range", time_range(ct.source_in, media_duration, ct.rate))


def _seconds(rt_json: Any) -> Fraction | None:
    """A RationalTime.1 JSON object as exact seconds (None when it is not one)."""
    if not isinstance(rt_json, dict) or "value" not in rt_json or "rate" not in rt_json:
        return None
    try:
        rate = rate_from_float(float(rt_json["rate"]))
        return Fraction(str(rt_json["value"])) / rate if rate > 0 else None
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _clips_json(node: Any) -> Iterator[dict[str, Any]]:
    """Every ``Clip.*`` object in an OTIO JSON tree (tracks, stacks, nested), in document order."""
    if isinstance(node, dict):
        if str(node.get("OTIO_SCHEMA", "")).startswith("Clip."):
            yield node
            return
        for value in node.values():
            yield from _clips_json(value)
    elif isinstance(node, list):
        for value in node:
            yield from _clips_json(value)


def resolve_import_problems(text: str) -> list[str]:
    """Why Resolve's ``ImportTimelineFromFile`` would return None for this OTIO JSON ([] = importable).

    The rules are the ones measured on Resolve 19.1–21 (research/field-2026-11.md; davinci-resolve-mcp
    docs/reference/api-limitations.md "MediaPool.ImportTimelineFromFile (.otio document shape)"):
    every clip is ``Clip.2`` with a ``media_references`` map whose ``active_media_reference_key`` is in
    it; every external reference has an ``available_range``; ``target_url`` is a bare path, never a
    ``file://`` URL; each clip's ``source_range`` lies inside its reference's ``available_range`` in the
    media's timecode space (a 0-based range on media that starts at 01:00:00:00 falls outside). Checked
    on the JSON text, not through OpenTimelineIO, because the on-disk shape is what Resolve reads.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"not JSON (line {exc.lineno}: {exc.msg})"]
    if not isinstance(data, dict) or not str(data.get("OTIO_SCHEMA", "")).startswith("Timeline."):
        return ["the document is not an OTIO Timeline"]
    problems: list[str] = []
    for n, clip in enumerate(_clips_json(data.get("tracks")), 1):
        label = f"clip {n} ({clip.get('name') or 'unnamed'})"
        if clip.get("OTIO_SCHEMA") != "Clip.2":
            problems.append(f"{label}: schema {clip.get('OTIO_SCHEMA')}, Resolve reads Clip.2")
            continue
        refs = clip.get("media_references")
        key = clip.get("active_media_reference_key")
        if not isinstance(refs, dict) or key not in refs:
            problems.append(f"{label}: no media_references map holding active_media_reference_key {key!r}")
            continue
        ref = refs[key]
        if not isinstance(ref, dict) or not str(ref.get("OTIO_SCHEMA", "")).startswith("ExternalReference."):
            continue  # a generator or missing reference: Resolve imports it as such
        url = str(ref.get("target_url") or "")
        if not url or url.lower().startswith("file:"):
            problems.append(f"{label}: target_url {url!r} is not a bare file path")
        avail = ref.get("available_range")
        if not isinstance(avail, dict):
            problems.append(f"{label}: its media reference has no available_range")
            continue
        source = clip.get("source_range")
        a_start, a_len = _seconds(avail.get("start_time")), _seconds(avail.get("duration"))
        s_start = _seconds(source.get("start_time")) if isinstance(source, dict) else None
        s_len = _seconds(source.get("duration")) if isinstance(source, dict) else None
        if a_start is None or a_len is None or s_start is None or s_len is None:
            problems.append(f"{label}: source_range or available_range is not a time range")
            continue
        # Half a frame of slack at the rate of the range itself: float rates (23.976) round-trip inexactly.
        slack = Fraction(1, 2) / rate_from_float(float(avail["start_time"]["rate"]))
        if s_start + slack < a_start or s_start + s_len > a_start + a_len + slack:
            problems.append(
                f"{label}: source_range {float(s_start):.3f}s+{float(s_len):.3f}s lies outside its media "
                f"{float(a_start):.3f}s+{float(a_len):.3f}s (source ranges count from the media's start timecode)"
            )
    return problems


def from_resolve_shape(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """Undo the media-rate durations: clip durations back in timeline frames (in place, returns it)."""
    time = timeline_time(timeline)
    for clip in timeline.find_clips():
        if clip.source_range is None:
            continue
        rate = clip_time(clip, time.rate).rate
        if rate == time.rate or exact_rate(clip.source_range.duration.rate) == time.rate:
            continue  # the length is already in timeline frames (ours, or a same-rate clip)
        meta = meta_view(clip)
        recorded = meta["record_frames"] if "record_frames" in meta else None
        if recorded is None:
            media_frames = frames_at(clip.source_range.duration, rate)
            recorded = media_frames if rate == time.rate else rescale_frames(media_frames, rate, time.rate)
        clip.source_range = otio.opentime.TimeRange(clip.source_range.start_time, rt(int(recorded), time.rate))
    return timeline


def read_resolve_otio(text: str) -> otio.schema.Timeline:
    """Read OTIO JSON (Resolve's export or ours) into the project's timeline convention."""
    result = otio.adapters.read_from_string(text, "otio_json")
    if isinstance(result, otio.schema.Timeline):
        return from_resolve_shape(result)
    return result


__all__ = [
    "from_resolve_shape",
    "read_resolve_otio",
    "resolve_import_problems",
    "to_resolve_shape",
    "write_resolve_otio",
]
