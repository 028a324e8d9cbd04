"""The bottom layer every package shares: exact time (``timebase``), the app-wide errors
(``errors``), atomic and durable file writes (``atomic_io``), media facts and probing (``media``,
``probe``), media locations as ``file://`` URLs and paths (``media_url``), where ffmpeg is
(``ffmpeg_tools``), the per-user folders (``paths``), the proxy recipe shared with the worker
(``proxy_recipe``), a call bounded by a wall-clock deadline (``deadline``), the installed version
(``package_version``) and the packages' lazy public APIs (``lazy_api``).

It imports nothing from the rest of the project, so ``gpu_remote`` and every layer above can
depend on it without depending on each other.
"""

from __future__ import annotations

from kernel.lazy_api import lazy_exports

# The curated public API: each name, and the module that defines it (loaded on first use).
_EXPORTS: dict[str, str] = {
    "parse_rate": "kernel.timebase",
    "parse_timeline_rate": "kernel.timebase",
    "format_rate": "kernel.timebase",
    "frames_to_timecode": "kernel.timebase",
    "timecode_to_frames": "kernel.timebase",
    "seconds_to_frames": "kernel.timebase",
    "frames_to_seconds": "kernel.timebase",
    "rescale_frames": "kernel.timebase",
    "round_half_up": "kernel.timebase",
    "TimecodeError": "kernel.timebase",
    "MontageError": "kernel.errors",
    "MediaError": "kernel.errors",
    "atomic_writer": "kernel.atomic_io",
    "write_bytes_atomic": "kernel.atomic_io",
    "write_text_atomic": "kernel.atomic_io",
    "durable_replace": "kernel.atomic_io",
    "fsync_dir": "kernel.atomic_io",
    "MediaItem": "kernel.media",
    "Rate": "kernel.media",
    "TimelineRate": "kernel.media",
    "probe_media": "kernel.probe",
    "path_to_url": "kernel.media_url",
    "url_to_path": "kernel.media_url",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
