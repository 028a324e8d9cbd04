"""OTIO shaped the way DaVinci Resolve's ``ImportTimelineFromFile`` accepts it.

Measured on Resolve 19.1 (research/resolve_api.md §2.10, §3 item 8): Resolve imports an ``.otio`` only
when it looks like its own export —
- ``Clip.2`` with a ``media_references`` map and ``active_media_reference_key`` (OTIO ≥ 0.16 writes that);
- ``target_url`` a **bare path**, not a ``file://`` URL;
- each reference has an ``available_range`` in the media's timecode space, and each clip's
  ``source_range`` is timecode-absolute (media start TC + offset) *at the media rate* and inside it;
- ``global_start_time`` set (01:00:00:00 unless the timeline says otherwise);
- track names in Resolve's form ("Video 1", "Audio 1") and ``Resolve_OTIO`` metadata.

Writing never changes the input (we work on a deep copy). Reading turns the media-rate durations back
into timeline-rate durations, the project's convention.
"""

from __future__ import annotations

import copy

import opentimelineio as otio

from analysis.timebase import format_rate, rescale_frames
from nle_adapters.timeline_facts import META, clip_time, frames_at, rt, time_range, timeline_time, url_to_path

RESOLVE_META = "Resolve_OTIO"
DEFAULT_START_FRAMES_SECONDS = 3600  # 01:00:00:00, Resolve's default timeline start


def to_resolve_shape(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A Resolve-shaped deep copy of ``timeline`` (see module docstring)."""
    shaped = copy.deepcopy(timeline)
    time = timeline_time(timeline)
    if shaped.global_start_time is None:
        start = DEFAULT_START_FRAMES_SECONDS * time.rate
        shaped.global_start_time = rt(int(start), time.rate)
    shaped.metadata[RESOLVE_META] = {"Resolve OTIO Meta Version": "1.0"}
    meta = dict(shaped.metadata.get(META, {}))
    meta["rate"] = format_rate(time.rate)
    meta["drop_frame"] = time.drop_frame
    meta["resolve_shaped"] = True
    shaped.metadata[META] = meta
    counters = {otio.schema.TrackKind.Video: 0, otio.schema.TrackKind.Audio: 0}
    for track in shaped.tracks:
        if isinstance(track, otio.schema.Track) and track.kind in counters:
            counters[track.kind] += 1
            track.name = f"{track.kind} {counters[track.kind]}"
    for clip in shaped.find_clips():
        ct = clip_time(clip, time.rate)
        media_duration = ct.duration if ct.rate == time.rate else rescale_frames(ct.duration, time.rate, ct.rate)
        if ct.rate != time.rate or clip.source_range is None:
            clip.source_range = time_range(ct.source_in, media_duration, ct.rate)
            # The timeline-frame duration cannot be recovered exactly from media frames: keep it.
            meta = dict(clip.metadata[META]) if META in clip.metadata else {}
            meta.update(source_rate=format_rate(ct.rate), record_frames=ct.duration)
            clip.metadata[META] = meta
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference):
            ref.target_url = url_to_path(ref.target_url)
            if ref.available_range is None:
                # Resolve needs an available range; the clip's own range is the least we know is inside the media.
                ref.available_range = time_range(ct.source_in, media_duration, ct.rate)
    return shaped


def write_resolve_otio(timeline: otio.schema.Timeline) -> str:
    """Serialize ``timeline`` as Resolve-shaped OTIO JSON."""
    return otio.adapters.write_to_string(to_resolve_shape(timeline), "otio_json")


def from_resolve_shape(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """Undo the media-rate durations: clip durations back in timeline frames (in place, returns it)."""
    time = timeline_time(timeline)
    for clip in timeline.find_clips():
        if clip.source_range is None:
            continue
        rate = clip_time(clip, time.rate).rate
        if rate == time.rate:
            continue  # same rate: the media-rate duration is the timeline-rate duration
        meta = clip.metadata[META] if len(clip.metadata) and META in clip.metadata else {}
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


__all__ = ["from_resolve_shape", "read_resolve_otio", "to_resolve_shape", "write_resolve_otio"]
