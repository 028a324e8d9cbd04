"""Media pool clips → ``analysis.models.MediaItem``: the same input the file pipeline gets.

Resolve reports everything as strings (``"FPS": "29.97"``, ``"Frames": "360"``, ``"Start TC":
"14:23:10;12"``); this is the one place they are parsed, each problem named by clip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from kernel.media import MediaItem
from kernel.timebase import TimecodeError, supports_drop_frame, timecode_to_frames
from resolve_bridge.pool_raw import PoolError, read_pool
from resolve_bridge.spec import parse_resolve_rate


class PoolClip(BaseModel):
    """A media pool clip: the media facts plus where it sits in the pool."""

    media: MediaItem
    bin: str = ""
    unique_id: str = ""


class PoolScan(BaseModel):
    """What reading the pool found: usable video clips, audio-only clips, and what was skipped."""

    clips: list[PoolClip] = Field(default_factory=list)
    audio: list[PoolClip] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)


def media_item_from_record(record: dict[str, str]) -> MediaItem:
    """Parse one clip record (``pool_raw.clip_record``); PoolError names the clip and the field."""
    name = record.get("Clip Name") or record.get("name") or "?"
    path = record.get("File Path", "")
    if not path:
        raise PoolError(f"{name}: has no file behind it (a timeline, compound clip or generator)")
    kind = record.get("Type", "")
    try:
        rate, drop_in_rate = parse_resolve_rate(record.get("FPS", ""))
    except ValueError as exc:
        raise PoolError(f"{name}: frame rate {record.get('FPS')!r} is not readable") from exc
    try:
        frames = int(float(record.get("Frames") or 0))
    except ValueError as exc:
        raise PoolError(f"{name}: frame count {record.get('Frames')!r} is not a number") from exc
    tc = record.get("Start TC") or "00:00:00:00"
    drop = (record.get("Drop frame") == "1" or ";" in tc or drop_in_rate) and supports_drop_frame(rate)
    try:
        start = timecode_to_frames(tc, rate, drop)
    except TimecodeError as exc:
        raise PoolError(f"{name}: start timecode {tc!r} is not valid at {record.get('FPS')} fps") from exc
    width = height = 0
    if "x" in record.get("Resolution", ""):
        w, _, h = record["Resolution"].partition("x")
        if w.strip().isdigit() and h.strip().isdigit():
            width, height = int(w), int(h)
    channels = int(record.get("Audio Ch") or 0) if (record.get("Audio Ch") or "0").isdigit() else 0
    sample_rate = int(record.get("Sample Rate") or 0) if (record.get("Sample Rate") or "0").isdigit() else 0
    has_video = "Video" in kind
    return MediaItem(
        path=Path(path),
        name=name,
        rate=rate,
        frames=frames if has_video else 0,
        start_frame=start if has_video else 0,
        drop_frame=drop if has_video else False,
        width=width,
        height=height,
        has_video=has_video,
        audio_channels=channels,
        audio_sample_rate=sample_rate,
        duration_seconds=float(frames / rate) if frames else 0.0,
    )


def scan_records(records: list[dict[str, str]]) -> PoolScan:
    """Sort records into video clips, audio-only clips and skipped ones (with the reason)."""
    scan = PoolScan()
    for record in records:
        kind = record.get("Type", "")
        name = record.get("Clip Name") or record.get("name") or "?"
        if kind in ("Timeline", "Compound", "Multicam", "Generator", "Subtitle", "Still") or not kind:
            scan.skipped.append(f"{name}: {kind or 'unknown type'} is not footage")
            continue
        try:
            media = media_item_from_record(record)
        except PoolError as exc:
            scan.skipped.append(str(exc))
            continue
        clip = PoolClip(media=media, bin=record.get("bin", ""), unique_id=record.get("unique_id", ""))
        (scan.clips if media.has_video else scan.audio).append(clip)
    return scan


def read_media_items(
    resolve: Any, *, bin_path: str | None = None, selected: bool = False, recursive: bool = True
) -> PoolScan:
    """Media pool → MediaItems for a bin (recursively by default), the current bin, or the selection."""
    return scan_records(read_pool(resolve, bin_path=bin_path, selected=selected, recursive=recursive))
