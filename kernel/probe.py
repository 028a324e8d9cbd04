"""Probe media files with PyAV: exact rate, frame count, start timecode, streams, VFR, rotation.

Rotation is read from the display-matrix side data (what phones write; ffmpeg >= 5 no longer
turns it into a ``rotate`` tag), falling back to the legacy ``rotate`` tag. Still images are
refused by suffix and by container (image2/``*_pipe`` demuxers) so a renamed JPEG is caught too.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from kernel.errors import MediaError
from kernel.media import MediaItem
from kernel.timebase import TimecodeError, parse_rate, supports_drop_frame, timecode_to_frames

# Extensions that are never footage; a friendlier error than "invalid data" for common mistakes.
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".exr", ".dpx"}


# Demuxers that only ever hold still pictures (a JPEG renamed .mov still opens with one of these).
_IMAGE_FORMATS = ("image2", "_pipe", "gif", "webp")


def _tag(metadata: dict[str, str], name: str) -> str | None:
    # MOV/MP4 write "timecode", Matroska "TIMECODE": tag names are case-insensitive in practice.
    for key, value in metadata.items():
        if key.lower() == name and value:
            return value
    return None


def _find_timecode(container: av.container.InputContainer) -> str | None:
    for stream in container.streams:
        tc = _tag(stream.metadata, "timecode")
        if tc:
            return tc
    return _tag(container.metadata, "timecode")


def _scan_video_packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> tuple[int, bool]:
    """Count video packets and tell whether their spacing varies (VFR), without decoding."""
    pts: list[int] = []
    for packet in container.demux(stream):
        if packet.pts is not None and packet.size > 0:
            pts.append(packet.pts)
    if len(pts) < 3:
        return len(pts), False
    pts.sort()
    deltas = [b - a for a, b in zip(pts, pts[1:]) if b > a]
    if not deltas:
        return len(pts), False
    lo, hi = min(deltas), max(deltas)
    # Constant-rate files have identical deltas (±1 tick from rounding); VFR ones vary by far more.
    return len(pts), hi - lo > max(2, lo // 10)


def _rotation(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """Clockwise degrees (0, 90, 180, 270) the picture must be turned to display upright.

    The display matrix reaches PyAV only on decoded frames, so the first frame is decoded; the
    legacy ``rotate`` tag (clockwise, what older muxers wrote) is the fallback.
    """
    degrees = 0.0
    try:
        container.seek(0, stream=stream)
        for frame in container.decode(stream):
            # PyAV reports the matrix's counter-clockwise angle; the tag convention is clockwise.
            degrees = -float(frame.rotation or 0)
            break
    except (av.error.FFmpegError, ValueError, AttributeError):
        degrees = 0.0
    if not degrees:
        try:
            degrees = float(stream.metadata.get("rotate", 0) or 0)
        except ValueError:
            degrees = 0.0
    return int(round(degrees / 90.0)) % 4 * 90


def probe_media(path: str | Path) -> MediaItem:
    """Probe ``path`` and return its :class:`MediaItem`.

    Frame counts come from the demuxed packets (exact, no decode). Raises :class:`MediaError` with
    the file name and the reason when the file is missing, empty, not media, or a still image.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes) — was the copy interrupted?")
    if path.suffix.lower() in _IMAGE_SUFFIXES:
        raise MediaError(f"{path}: is a still image, not footage — move it out of the footage folder")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path}: not a readable media file ({exc.__class__.__name__}: {exc})") from exc
    try:
        return _probe_open(path, container)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: media is damaged or truncated ({exc})") from exc
    finally:
        container.close()


def _probe_open(path: Path, container: av.container.InputContainer) -> MediaItem:
    video = next((s for s in container.streams.video), None)
    audio = next((s for s in container.streams.audio), None)
    if video is None and audio is None:
        raise MediaError(f"{path}: has neither video nor audio streams")
    duration = float(container.duration / av.time_base) if container.duration else 0.0
    channels = audio.codec_context.channels if audio is not None else 0
    sample_rate = audio.codec_context.sample_rate if audio is not None else 0
    if video is None:
        return MediaItem(
            path=path.resolve(),
            name=path.name,
            rate=Fraction(sample_rate or 48000),
            frames=0,
            has_video=False,
            audio_channels=channels,
            audio_sample_rate=sample_rate,
            duration_seconds=duration,
        )
    if any(key in (container.format.name or "") for key in _IMAGE_FORMATS):
        raise MediaError(f"{path}: is a still image ({container.format.name}), not footage — move it out of the folder")
    raw_rate = video.average_rate or video.guessed_rate
    if not raw_rate:
        raise MediaError(f"{path}: video stream has no frame rate")
    rate = parse_rate(Fraction(raw_rate))
    frames, vfr = _scan_video_packets(container, video)
    if frames == 0:
        raise MediaError(f"{path}: video stream has no frames")
    if frames == 1 and duration < 0.2:
        raise MediaError(f"{path}: is a single still frame, not footage")
    tc = _find_timecode(container)
    start_frame, drop = 0, False
    if tc:
        drop = (";" in tc or "," in tc) and supports_drop_frame(rate)
        try:
            start_frame = timecode_to_frames(tc, rate, drop)
        except TimecodeError as exc:
            raise MediaError(f"{path}: embedded timecode {tc!r} is invalid at {rate} fps ({exc})") from exc
    rotation = _rotation(container, video)
    return MediaItem(
        path=path.resolve(),
        name=path.name,
        rate=rate,
        frames=frames,
        start_frame=start_frame,
        drop_frame=drop,
        width=video.codec_context.width,
        height=video.codec_context.height,
        rotation=rotation,
        has_video=True,
        audio_channels=channels,
        audio_sample_rate=sample_rate,
        duration_seconds=duration or float(frames / rate),
        variable_frame_rate=vfr,
    )
