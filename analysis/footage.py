"""Find footage in a folder as it comes off a camera card or a drive; stable clip ids; the progress type.

A card or a delivery drive holds more than clips: notes and PDFs editors keep beside them, subtitle
and telemetry files (DJI writes an ``.SRT`` per clip), sidecars cameras write (Sony ``.XML``,
GoPro/Canon ``.THM`` thumbnails, ``.XMP``), low-resolution proxies (DJI ``.LRF``, GoPro ``.LRV``),
still photos, and the OS's own files (``.DS_Store``, AppleDouble ``._x``). None of them is footage
and none of them is a reason to stop: :func:`find_footage` sets them aside with the reason, and
:func:`skipped_summary` turns that into the one warning line `auto`, `analyze` and `watch` print.
A file this module does not recognise is still a candidate: if it is not readable media the
analysis says so by name (an editor wants to hear about a damaged ``.MOV``, not have it vanish).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kernel.errors import MediaError

# System and partial-copy files that are never footage and never an error.
_IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini", "Icon\r"}
_IGNORED_SUFFIXES = {".part", ".crdownload", ".tmp", ".download"}

# Suffix (lower case) → why it is not footage. Sidecar/proxy names are what the cameras write.
_SKIP_SUFFIXES: dict[str, str] = {
    # documents and interchange files editors keep beside the clips
    **dict.fromkeys(
        (".txt", ".md", ".pdf", ".rtf", ".doc", ".docx", ".odt", ".pages", ".csv", ".xls", ".xlsx", ".numbers"),
        "document",
    ),
    **dict.fromkeys((".json", ".html", ".htm", ".log", ".ini", ".cfg", ".plist", ".yaml", ".yml"), "document"),
    **dict.fromkeys((".xml", ".edl", ".fcpxml", ".otio", ".aaf", ".drp", ".prproj", ".cube", ".3dl"), "document"),
    # subtitles, captions and drone telemetry (DJI writes an .SRT beside every clip)
    **dict.fromkeys((".srt", ".vtt", ".ass", ".ssa", ".sbv", ".scc", ".stl", ".ttml", ".dfxp"), "subtitles"),
    # camera sidecars: thumbnails, metadata, AVCHD/XAVC/Canon/RED/BRAW structure files, checksums
    **dict.fromkeys(
        (".thm", ".xmp", ".bim", ".cpi", ".mpl", ".bdm", ".ppn", ".smi", ".ind", ".ctg", ".rmd", ".sidecar"),
        "camera sidecar",
    ),
    **dict.fromkeys((".aae", ".idx", ".md5", ".sha1", ".sha256", ".mhl", ".gpx", ".kml", ".glv"), "camera sidecar"),
    # low-resolution proxies cameras record beside the real clip (DJI .LRF, GoPro .LRV)
    **dict.fromkeys((".lrf", ".lrv"), "proxy"),
    # still photos (cards hold them beside the clips; a montage of clips does not cut them in)
    **dict.fromkeys(
        (".jpg", ".jpeg", ".png", ".heic", ".heif", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".dng", ".raw"),
        "still image",
    ),
    **dict.fromkeys((".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf", ".insp"), "still image"),
}

# Folders NLEs (and `montage-bridge proxies`) keep proxies and transcodes in, beside the originals.
_PROXY_FOLDERS = {"Proxy Media", "Transcoded Media"}

_PLURALS = {"proxy": "proxies", "subtitles": "subtitles", "hidden": "hidden", "partial copy": "partial copies"}

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage_description, done, total)``."""


@dataclass(frozen=True)
class Skipped:
    """A file or folder in a footage folder that is not footage, and why (``document``, ``proxy``…)."""

    path: Path
    reason: str


def is_ignored(path: Path) -> bool:
    """True for hidden, AppleDouble (``._x``), OS metadata and partial-download files."""
    return path.name in _IGNORED_NAMES or path.name.startswith(".") or path.suffix.lower() in _IGNORED_SUFFIXES


def skip_reason(path: Path, ignore: Iterable[str] = ()) -> str | None:
    """Why the file ``path`` is not footage (``hidden``, ``document``, ``proxy``, …), or None when it may be.

    ``ignore``: extra case-insensitive globs on the file name (the watch config's ``ignore``).
    """
    name = path.name
    if name in _IGNORED_NAMES or name.startswith("."):
        return "hidden"  # also AppleDouble ._x files and .DS_Store
    suffix = path.suffix.lower()
    if suffix in _IGNORED_SUFFIXES:
        return "partial copy"
    if suffix in _SKIP_SUFFIXES:
        return _SKIP_SUFFIXES[suffix]
    lowered = name.lower()
    if any(fnmatch.fnmatch(lowered, pattern.lower()) for pattern in ignore):
        return "ignored"
    return None


def find_footage(
    folder: Path, recursive: bool = False, *, ignore: Iterable[str] = ()
) -> tuple[list[Path], list[Skipped]]:
    """``(media candidates, skipped)`` in ``folder``, each sorted by path.

    ``recursive``: also look inside nested folders (hidden ones excepted); without it a nested
    folder is reported as skipped so the warning can point at ``--recursive``. Symlinked folders
    are not followed (a link to a parent would loop). An empty result is not an error here: each
    caller knows what "nothing to cut" means for it. Raises :class:`MediaError` when ``folder``
    is missing or is not a folder.
    """
    if not folder.exists():
        raise MediaError(f"{folder}: footage folder does not exist")
    if not folder.is_dir():
        raise MediaError(f"{folder}: is not a folder — pass the folder that holds the clips")
    patterns = list(ignore)
    media: list[Path] = []
    skipped: list[Skipped] = []

    def visit(here: Path) -> None:
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError as exc:
            if here == folder:
                raise MediaError(f"{folder}: cannot be read ({exc.strerror or exc})") from exc
            skipped.append(Skipped(Path(here), f"unreadable folder ({exc.strerror or exc})"))
            return
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=True)
            except OSError:  # vanished between listing and stat
                continue
            if is_dir:
                if entry.name.startswith("."):
                    continue  # .Spotlight-V100, .Trashes, .git: never worth a warning
                if entry.name in _PROXY_FOLDERS:
                    # Resolve's "Proxy Media", FCP's "Transcoded Media": copies of the clips, not more clips.
                    skipped.append(Skipped(path, "proxy"))
                    continue
                if recursive:
                    visit(path)
                else:
                    skipped.append(Skipped(path, "folder"))
                continue
            if not is_file:
                continue  # sockets, fifos, dangling links
            reason = skip_reason(path, patterns)
            if reason is None:
                media.append(path)
            else:
                skipped.append(Skipped(path, reason))

    visit(folder)
    return media, skipped


def skipped_summary(skipped: list[Skipped], root: Path | None = None, *, limit: int = 8) -> str | None:
    """One line naming what was skipped and why (None when nothing was), for the user's warning.

    Names are relative to ``root`` when given; past ``limit`` names the line says how many more.
    Nested folders add the hint to pass ``--recursive``.
    """
    if not skipped:
        return None

    def shown(item: Skipped) -> str:
        if root is not None:
            try:
                name = item.path.relative_to(root).as_posix()
            except ValueError:
                name = item.path.name
        else:
            name = item.path.name
        return f"{name}/" if item.reason == "folder" else name

    by_reason: dict[str, list[str]] = {}
    for item in skipped:
        by_reason.setdefault(item.reason, []).append(shown(item))
    parts = []
    budget = limit
    for reason, names in by_reason.items():
        # Hidden files (._x AppleDouble twins of every clip, .DS_Store) are counted, not named.
        listed = [] if reason == "hidden" else names[: max(0, budget)]
        budget -= len(listed)
        more = f" +{len(names) - len(listed)} more" if listed and len(names) > len(listed) else ""
        label = _PLURALS.get(reason, f"{reason}s") if len(names) > 1 else reason
        parts.append(f"{len(names)} {label}" + (f" ({', '.join(listed)}{more})" if listed else ""))
    hint = " — pass --recursive to look inside folders" if "folder" in by_reason else ""
    noun = "item" if len(skipped) == 1 else "items"
    return f"skipped {len(skipped)} {noun} that are not footage: {'; '.join(parts)}{hint}"


def clip_id_for(path: Path, taken: set[str]) -> str:
    """A short, stable, unique id from the file stem (``A001_C002``, then ``A001_C002-2``…)."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem) or "clip"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate
