"""The proxy recipe, shared by ``montage-bridge proxies`` (:mod:`proxies.make`) and the GPU worker's
``proxy`` op: a proxy keeps its original's exact rate, every frame, start timecode, audio channels and
name; only the picture size and the codec change. Here so both sides write the same file without the
worker depending on the app's layers."""

from __future__ import annotations

from pathlib import Path

from kernel.errors import MontageError
from kernel.media import MediaItem
from kernel.timebase import format_rate

CODECS = {
    "prores_proxy": ["-c:v", "prores_ks", "-profile:v", "0", "-pix_fmt", "yuv422p10le", "-c:a", "pcm_s16le"],
    "dnxhr_lb": ["-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p", "-c:a", "pcm_s16le"],
    "h264": ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac"],
}


class ProxyError(MontageError):
    """A proxy that cannot be made, or one that does not match its original."""


def check_proxy(original: MediaItem, proxy: MediaItem) -> list[str]:
    """What makes ``proxy`` unusable in place of ``original`` (empty: it matches frame for frame)."""
    problems = []
    if proxy.rate != original.rate:
        problems.append(f"rate {format_rate(proxy.rate)} fps, the original has {format_rate(original.rate)}")
    if proxy.frames != original.frames:
        problems.append(f"{proxy.frames} frames, the original has {original.frames}")
    if proxy.start_frame != original.start_frame:
        problems.append(f"start timecode {proxy.start_timecode}, the original starts at {original.start_timecode}")
    if proxy.audio_channels != original.audio_channels:
        problems.append(f"{proxy.audio_channels} audio channels, the original has {original.audio_channels}")
    return problems


def fit_inside(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """``width``x``height`` fitted inside ``box`` (never larger than the source), even sizes."""
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def proxy_args(
    media: MediaItem, target: Path, size: tuple[int, int], codec: str, *, name: str | None = None
) -> list[str]:
    """ffmpeg arguments (after the binary's own options) that write the proxy of ``media`` to
    ``target``: the original's timestamps, rate, start timecode and audio, the picture fitted in
    ``size``; ``name`` (default the file's stem) as its title and reel name. Shared with the GPU
    worker's ``proxy`` op."""
    if codec not in CODECS:
        raise ProxyError(f"unknown proxy codec {codec!r}; choose one of {', '.join(CODECS)}")
    width, height = fit_inside(*media.display_size, size)
    reel = name or media.path.stem
    args = ["-i", str(media.path), "-map", "0:v:0", "-map", "0:a?", "-map_metadata", "-1", "-fps_mode", "passthrough"]
    args += ["-vf", f"scale={width}:{height}:flags=bicubic,setsar=1", *CODECS[codec]]
    # The original's timestamps pass through; the track timescale holds its exact rate (30000 for 29.97).
    args += ["-video_track_timescale", str(media.rate.numerator)]
    if media.has_video:
        args += ["-timecode", media.start_timecode]
    args += ["-metadata", f"title={reel}", "-metadata:s:v:0", f"reel_name={reel}"]
    return [*args, "-f", "mov", str(target)]
