"""Analyze a footage folder: find media, probe it, detect shots. Progress via a callback."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from analysis.errors import MediaError
from analysis.models import ClipAnalysis, MediaItem
from analysis.probe import probe_media
from analysis.shots import detect_shots

# System and partial-copy files that are never footage and never an error.
_IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
_IGNORED_SUFFIXES = {".part", ".crdownload", ".tmp", ".download"}

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage_description, done, total)``."""


def is_ignored(path: Path) -> bool:
    """True for hidden, AppleDouble (``._x``), OS metadata and partial-download files."""
    return path.name in _IGNORED_NAMES or path.name.startswith(".") or path.suffix.lower() in _IGNORED_SUFFIXES


def find_footage(folder: Path) -> list[Path]:
    """Every candidate media file directly inside ``folder`` or below it, sorted by path."""
    if not folder.exists():
        raise MediaError(f"{folder}: footage folder does not exist")
    if not folder.is_dir():
        raise MediaError(f"{folder}: is not a folder — pass the folder that holds the clips")
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(is_ignored(q) for q in (p, *p.relative_to(folder).parents) if q.name)
    )
    if not files:
        raise MediaError(f"{folder}: no files found — put the clips in this folder")
    return files


def clip_id_for(path: Path, taken: set[str]) -> str:
    """A short, stable, unique id from the file stem (``A001_C002``, then ``A001_C002-2``…)."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem) or "clip"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def probe_footage(
    files: list[Path],
    *,
    skip_unreadable: bool = False,
    progress: Progress | None = None,
    warnings: list[str] | None = None,
) -> list[MediaItem]:
    """Probe every file; a bad file is an error unless ``skip_unreadable`` (then a warning)."""
    items: list[MediaItem] = []
    for n, path in enumerate(files, 1):
        try:
            item = probe_media(path)
            if not item.has_video:
                raise MediaError(f"{path}: has no video stream — audio belongs in --music, not the footage folder")
            items.append(item)
        except MediaError as exc:
            if not skip_unreadable:
                raise MediaError(f"{exc} (or rerun with --skip-unreadable to leave it out)") from exc
            if warnings is not None:
                warnings.append(f"skipped {exc}")
        if progress:
            progress("probing", n, len(files))
    if not items:
        raise MediaError("no usable video clips in the footage folder")
    return items


def analyze_clips(items: list[MediaItem], *, progress: Progress | None = None) -> list[ClipAnalysis]:
    """Detect shots in each probed clip and give each clip a unique id."""
    taken: set[str] = set()
    out: list[ClipAnalysis] = []
    for n, item in enumerate(items, 1):
        shots = detect_shots(item)
        out.append(ClipAnalysis(id=clip_id_for(item.path, taken), media=item, shots=shots))
        if progress:
            progress(f"shots: {item.name}", n, len(items))
    return out
