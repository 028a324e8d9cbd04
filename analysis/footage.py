"""Find footage in a folder: which files are candidates, and stable clip ids. Progress type for callers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from analysis.errors import MediaError

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
