"""An OTIO timeline as the render sees it: every clip's record span and the exact source frames it shows.

Time rules (DESIGN.md "Time", docs/time.md), as the render applies them:

- record positions are integer *timeline frames* counted from the timeline's first frame (0 = the
  frame at ``global_start_time``); ranges are half-open;
- a clip's source range is in the media's own time: its in point minus ``available_range.start``
  (the embedded start timecode) is a 0-based frame index into the file, at the media rate;
- mixed rates (the one documented conform rule of the render): record frame ``r`` of a clip whose
  in point ``src_in`` sits at record frame ``rec_in`` shows media frame
  ``src_in + floor((r - rec_in) * media_rate / timeline_rate)``, the frame on screen at that
  instant when the media plays at its own speed (sample and hold; no frame blending);
- a dissolve (OTIO Transition) extends the outgoing clip by ``out_offset`` frames past its out
  point and the incoming clip by ``in_offset`` frames before its in point, with the same mapping;
- audio plays at its natural speed: record time ``t`` (seconds) of a clip hears media time
  ``src_in / media_rate + (t - rec_in / timeline_rate)``.

What plays: video tracks give the picture (upper tracks over lower ones), audio tracks the sound.
A clip on a video track is picture only, as OTIO says; ``clip_audio`` can make the picture clips'
own sound play too (by default it does only when the timeline has no audio track at all, e.g. an
FCPXML whose dialogue rides inside the picture clips).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Literal

import av
import opentimelineio as otio

from kernel.timebase import frames_to_timecode, parse_rate
from nle_adapters.reframe_meta import clip_reframe
from nle_adapters.timeline_facts import (
    clip_time,
    frames_at,
    media_url,
    our_meta,
    timeline_time,
    url_to_path,
)
from render.errors import RenderError

ClipAudio = Literal["auto", "on", "off"]


@dataclass(frozen=True)
class SourceMedia:
    """One media file as probed for the render. ``rate`` is the rate its frames are counted at."""

    path: Path
    rate: Fraction
    frames: int
    video_offset: float  # seconds from the container start to the first video frame
    has_video: bool
    has_audio: bool
    audio_channels: int
    width: int
    height: int


@dataclass(frozen=True)
class Piece:
    """One clip's part of a track. Record frames count from the timeline's first frame."""

    name: str
    track: str
    media: SourceMedia
    timeline_rate: Fraction
    rec_in: int  # the clip's own record range [rec_in, rec_out)
    rec_out: int
    src_in: int  # 0-based media frame shown at rec_in (media rate)
    head: int = 0  # frames played before rec_in (the incoming side of a dissolve)
    tail: int = 0  # frames played after rec_out (the outgoing side of a dissolve)
    fade_in: int = 0  # frames from rec_in fading up from black/silence (a transition with nothing before it)
    fade_out: int = 0  # frames before rec_out fading down to black/silence (a transition with nothing after it)
    reframe: dict | None = None  # the clip's crop window keyframes (nle_adapters.reframe_meta), pictures only

    @property
    def rec_start(self) -> int:
        return self.rec_in - self.head

    @property
    def rec_end(self) -> int:
        return self.rec_out + self.tail

    def source_frame(self, rec: int) -> int:
        """The 0-based media frame shown at record frame ``rec`` (the conform rule in the module doc)."""
        return self.src_in + ((rec - self.rec_in) * self.media.rate.numerator * self.timeline_rate.denominator) // (
            self.media.rate.denominator * self.timeline_rate.numerator
        )

    def source_seconds(self, rec: int) -> Fraction:
        """Media time (seconds from the media's first frame) heard at record frame ``rec``."""
        return Fraction(self.src_in) / self.media.rate + Fraction(rec - self.rec_in) / self.timeline_rate


@dataclass(frozen=True)
class Gap:
    """Black (video) or silence (audio) over record frames ``[rec_start, rec_end)``."""

    rec_start: int
    rec_end: int


@dataclass(frozen=True)
class Run:
    """Clips joined by dissolves: ``pieces[i]`` dissolves into ``pieces[i + 1]`` over
    ``pieces[i].tail + pieces[i + 1].head`` frames. A single hard-cut clip is a run of one."""

    pieces: tuple[Piece, ...]

    @property
    def rec_start(self) -> int:
        return self.pieces[0].rec_start

    @property
    def rec_end(self) -> int:
        return self.pieces[-1].rec_end


@dataclass
class TrackLayout:
    """One track, as consecutive gaps and runs covering ``[0, end)``. ``role`` for audio: music or dialogue."""

    name: str
    kind: Literal["video", "audio"]
    items: list[Gap | Run]
    role: Literal["picture", "music", "dialogue"] = "picture"

    @property
    def pieces(self) -> list[Piece]:
        return [p for item in self.items if isinstance(item, Run) for p in item.pieces]


@dataclass
class Layout:
    """The whole timeline for the render: rate, length (timeline frames), picture size, tracks."""

    name: str
    rate: Fraction
    start_frame: int
    drop_frame: bool
    duration: int
    width: int
    height: int
    video: list[TrackLayout]
    audio: list[TrackLayout]
    style: str | None = None
    warnings: list[str] = field(default_factory=list)

    def timecode(self, rec: int) -> str:
        """Record frame ``rec`` as the timeline's timecode (for messages)."""
        return frames_to_timecode(self.start_frame + rec, self.rate, self.drop_frame)

    def picture_spans(self) -> list[tuple[int, int]]:
        """Record frame spans where some video track shows a clip (merged, sorted)."""
        return _merge([(p.rec_start, p.rec_end) for t in self.video for p in t.pieces])

    def sound_spans(self, role: str | None = None) -> list[tuple[int, int]]:
        """Record frame spans where an audio track (of ``role``, or any) plays a clip (merged)."""
        return _merge([(p.rec_start, p.rec_end) for t in self.audio if role in (None, t.role) for p in t.pieces])


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@lru_cache(maxsize=512)
def probe_source(path: str) -> SourceMedia:
    """Probe ``path`` with PyAV: rate, frame count, stream offsets. Raises RenderError naming the file."""
    file = Path(path)
    if not file.is_file():
        raise RenderError(f"{file}: media file not found — relink the clip or put the file back")
    try:
        container = av.open(str(file))
    except (av.error.FFmpegError, OSError) as exc:
        raise RenderError(f"{file}: not a readable media file ({exc.__class__.__name__}: {exc})") from exc
    try:
        video = next(iter(container.streams.video), None)
        audio = next(iter(container.streams.audio), None)
        start = container.start_time / av.time_base if container.start_time is not None else 0.0
        if video is None:
            return SourceMedia(
                file,
                Fraction(audio.codec_context.sample_rate if audio else 48000),
                0,
                0.0,
                False,
                audio is not None,
                audio.codec_context.channels if audio else 0,
                0,
                0,
            )
        raw = video.average_rate or video.guessed_rate
        if not raw:
            raise RenderError(f"{file}: its video stream states no frame rate")
        first, base = video.start_time, video.time_base
        offset = float(first * base) - start if first is not None and base is not None else 0.0
        frames = video.frames or 0
        if frames <= 0:
            frames = sum(1 for packet in container.demux(video) if packet.size)
        return SourceMedia(
            file,
            parse_rate(Fraction(raw)),
            frames,
            max(0.0, offset),
            True,
            audio is not None,
            audio.codec_context.channels if audio else 0,
            video.codec_context.width,
            video.codec_context.height,
        )
    except av.error.FFmpegError as exc:
        raise RenderError(f"{file}: media is damaged ({exc})") from exc
    finally:
        container.close()


def _clip_media(clip: otio.schema.Clip, track: str, where: str) -> str:
    url = media_url(clip)
    if url is None:
        kind = type(clip.media_reference).__name__
        raise RenderError(
            f"{track} clip {clip.name!r} at {where}: has no media file ({kind}) — relink it in the NLE or drop the clip"
        )
    return url_to_path(url)


def _track_layout(
    track: otio.schema.Track,
    name: str,
    kind: Literal["video", "audio"],
    rate: Fraction,
    layout_tc,
    warnings: list[str],
) -> TrackLayout:
    """Walk ``track``'s children into gaps and runs, resolving each clip's media and source frames."""
    items: list[Gap | Run] = []
    position = 0
    pending_head = 0  # head of the next clip (set by a transition just before it)
    pending_fade_in = 0  # fade-in of the next clip (a transition with no clip before it)
    run: list[Piece] = []
    children = list(track)
    for index, child in enumerate(children):
        if isinstance(child, otio.schema.Transition):
            if child.transition_type != otio.schema.TransitionTypes.SMPTE_Dissolve:
                warnings.append(
                    f"{name} at {layout_tc(position)}: {child.transition_type} transition rendered as a dissolve"
                )
            before = children[index - 1] if index > 0 else None
            after = children[index + 1] if index + 1 < len(children) else None
            out_offset = frames_at(child.out_offset, rate)
            in_offset = frames_at(child.in_offset, rate)
            clip_before = isinstance(before, otio.schema.Clip) and bool(run)
            clip_after = isinstance(after, otio.schema.Clip)
            if clip_before and not clip_after:  # a fade out: the part of the transition before the cut
                run[-1] = Piece(**{**run[-1].__dict__, "fade_out": in_offset})
                continue
            if clip_after and not clip_before:  # a fade in: the part after the cut
                pending_fade_in = out_offset
                continue
            if not (clip_before and clip_after):
                warnings.append(f"{name} at {layout_tc(position)}: a transition with no clip beside it is ignored")
                continue
            last = run[-1]
            run[-1] = Piece(**{**last.__dict__, "tail": out_offset})
            pending_head = in_offset
            continue
        if isinstance(child, otio.schema.Gap) or not isinstance(child, otio.schema.Clip):
            if not isinstance(child, otio.schema.Gap):
                raise RenderError(
                    f"{name} at {layout_tc(position)}: {type(child).__name__} {child.name!r} (nested sequence) "
                    "cannot be rendered — flatten it in the NLE first"
                )
            length = frames_at(child.source_range.duration, rate) if child.source_range else 0
            if run:
                items.append(Run(tuple(run)))
                run = []
            if length > 0:
                items.append(Gap(position, position + length))
            position += length
            pending_head = 0
            continue
        where = layout_tc(position)
        time = clip_time(child, rate)
        path = _clip_media(child, name, where)
        media = probe_source(path)
        media_rate = time.rate
        index_in = time.source_in - (time.media_start or 0)
        if media.has_video and kind == "video" and media.rate != media_rate:
            # The timeline counts this media at another rate than the file has: keep the time, use file frames.
            warnings.append(
                f"{name} clip {child.name!r}: the timeline says {media_rate} fps, the file has {media.rate} fps — "
                "rendered by time"
            )
            index_in = int(Fraction(index_in) / media_rate * media.rate)
        elif not media.has_video or kind == "audio":
            media = SourceMedia(**{**media.__dict__, "rate": media_rate})
        if kind == "video" and not media.has_video:
            raise RenderError(f"{name} clip {child.name!r} at {where}: {media.path.name} has no video stream")
        if kind == "audio" and not media.has_audio:
            warnings.append(f"{name} clip {child.name!r} at {where}: {media.path.name} has no audio — silence")
        if index_in < 0:
            raise RenderError(
                f"{name} clip {child.name!r} at {where}: its source in point lies before the media's start "
                f"(timecode {frames_to_timecode(time.source_in, media_rate)}) — check the clip's source timecode"
            )
        piece = Piece(
            name=child.name or media.path.name,
            track=name,
            media=media,
            timeline_rate=rate,
            rec_in=position,
            rec_out=position + time.duration,
            src_in=index_in,
            head=pending_head,
            fade_in=pending_fade_in,
            reframe=clip_reframe(child) if kind == "video" else None,
        )
        pending_head = pending_fade_in = 0
        if run and run[-1].tail == 0 and piece.head == 0:
            items.append(Run(tuple(run)))
            run = []
        run.append(piece)
        position += time.duration
    if run:
        items.append(Run(tuple(run)))
    return TrackLayout(name=name, kind=kind, items=items)


def _check_piece(piece: Piece, kind: str, layout_tc) -> None:
    """The media must hold every frame the clip shows (handles of dissolves included)."""
    if piece.rec_end <= piece.rec_start:
        return
    if kind == "video":
        first, last = piece.source_frame(piece.rec_start), piece.source_frame(piece.rec_end - 1)
        if first < 0 or last >= piece.media.frames:
            raise RenderError(
                f"{piece.track} clip {piece.name!r} at {layout_tc(piece.rec_in)}: needs media frames {first}..{last} "
                f"but {piece.media.path.name} has frames 0..{piece.media.frames - 1} — trim the clip or its dissolve"
            )


def _pad(track: TrackLayout, duration: int) -> None:
    end = track.items[-1].rec_end if track.items else 0
    if end < duration:
        track.items.append(Gap(end, duration))


def layout_timeline(
    timeline: otio.schema.Timeline, *, clip_audio: ClipAudio = "auto", size: tuple[int, int] | None = None
) -> Layout:
    """The render layout of ``timeline``. Raises RenderError (one line, naming the clip) for what
    cannot be rendered: missing media, nested sequences, source frames outside the media."""
    time = timeline_time(timeline)
    rate = time.rate
    meta = our_meta(timeline)

    def tc(rec: int) -> str:
        return frames_to_timecode(time.start_frame + rec, rate, time.drop_frame)

    warnings: list[str] = []
    video: list[TrackLayout] = []
    audio: list[TrackLayout] = []
    counts = {"video": 0, "audio": 0}
    for track in timeline.tracks:
        if not isinstance(track, otio.schema.Track):
            raise RenderError(f"{track.name!r}: a nested stack at the top level cannot be rendered — flatten it first")
        kind: Literal["video", "audio"] = "video" if track.kind == otio.schema.TrackKind.Video else "audio"
        counts[kind] += 1
        name = track.name or f"{kind[0].upper()}{counts[kind]}"
        layout = _track_layout(track, name, kind, rate, tc, warnings)
        (video if kind == "video" else audio).append(layout)
    for track in audio:
        pieces = track.pieces
        music = pieces and all(not p.media.has_video for p in pieces)
        track.role = "music" if music or "music" in track.name.lower() else "dialogue"
    use_clip_audio = clip_audio == "on" or (clip_audio == "auto" and not audio)
    if use_clip_audio:
        for track in video:
            items: list[Gap | Run] = []
            for item in track.items:
                if isinstance(item, Run) and all(p.media.has_audio for p in item.pieces):
                    items.append(item)
                else:
                    items.append(Gap(item.rec_start, item.rec_end))
            audio.append(TrackLayout(name=f"{track.name} sound", kind="audio", items=items, role="dialogue"))
        if clip_audio == "auto":
            warnings.append("the timeline has no audio track: the picture clips' own sound is played")
    duration = max((t.items[-1].rec_end for t in video + audio if t.items), default=0)
    if duration <= 0:
        raise RenderError(f"timeline {timeline.name!r} is empty: nothing to render")
    for track in video + audio:
        _pad(track, duration)
        for piece in track.pieces:
            _check_piece(piece, track.kind, tc)
    width, height = size or _frame_size(meta, video)
    return Layout(
        name=timeline.name or "timeline",
        rate=rate,
        start_frame=time.start_frame,
        drop_frame=time.drop_frame,
        duration=duration,
        width=width,
        height=height,
        video=video,
        audio=audio,
        style=str(meta["style"]) if meta.get("style") else None,
        warnings=warnings,
    )


def _frame_size(meta: dict, video: list[TrackLayout]) -> tuple[int, int]:
    """The timeline's frame size (its metadata), else the first picture clip's; even numbers for 4:2:0."""
    width, height = int(meta.get("width") or 0), int(meta.get("height") or 0)
    if width <= 0 or height <= 0:
        first = next((p.media for t in video for p in t.pieces if p.media.width), None)
        width, height = (first.width, first.height) if first else (1920, 1080)
    return width - width % 2, height - height % 2


__all__ = [
    "ClipAudio",
    "Gap",
    "Layout",
    "Piece",
    "Run",
    "SourceMedia",
    "TrackLayout",
    "layout_timeline",
    "probe_source",
]
