"""Find ffmpeg without a system install: PATH first, else the binary shipped by imageio-ffmpeg."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from kernel.errors import MontageError


class FFmpegError(MontageError):
    """ffmpeg is missing or a run of it failed."""


@lru_cache(maxsize=1)
def ffmpeg_path() -> str:
    """Absolute path of the ffmpeg binary to use.

    ``MONTAGE_FFMPEG`` wins, then ``ffmpeg`` on PATH, then imageio-ffmpeg's bundled static build
    (so a machine with only pip gets a working ffmpeg).
    """
    explicit = os.environ.get("MONTAGE_FFMPEG")
    if explicit:
        if not Path(explicit).is_file():
            raise FFmpegError(f"MONTAGE_FFMPEG points at {explicit}, which does not exist")
        return explicit
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise FFmpegError("ffmpeg not found: install it or `pip install imageio-ffmpeg`") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def ffprobe_path() -> str | None:
    """ffprobe on PATH or next to the chosen ffmpeg, else None (imageio-ffmpeg ships none).

    Nothing in the pipeline needs it (probing uses PyAV); it is offered for tools that do.
    """
    found = shutil.which("ffprobe")
    if found:
        return found
    sibling = Path(ffmpeg_path()).with_name("ffprobe")
    return str(sibling) if sibling.is_file() else None


def run_ffmpeg(args: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg with ``args`` (no leading binary), quiet, raising FFmpegError with its stderr."""
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FFmpegError(f"ffmpeg timed out after {timeout} s: {' '.join(args[:6])} …") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise FFmpegError(f"ffmpeg failed (exit {proc.returncode}): {' | '.join(tail)}")
    return proc
