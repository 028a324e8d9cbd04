"""When has a file *arrived*? Size and mtime unchanged for the quiet period, and it probes cleanly.

Copies in progress grow (size or mtime change) so they never look quiet; a copy that stalls
longer than the quiet period usually does not probe (an MP4/MOV without its index, a truncated
stream), so it keeps waiting. A stable file that still fails to probe after ``probe_retry_seconds``
more is *damaged*: its job fails with the probe's reason. Any later change to it starts over.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from analysis.footage import Skipped, find_footage, is_ignored
from kernel.errors import MontageError
from kernel.media import MediaItem
from kernel.probe import probe_media

# Content fingerprints: whole-file hash up to this size; above it, the size plus evenly spaced
# samples (camera originals can be hundreds of GB — hashing them whole would stall the daemon).
FULL_HASH_LIMIT = 64 * 1024 * 1024
_SAMPLES = 16
_SAMPLE_BYTES = 1024 * 1024

Status = Literal["waiting", "arrived", "damaged"]


def content_fingerprint(path: Path) -> str:
    """BLAKE2b of the content (sampled above :data:`FULL_HASH_LIMIT` bytes), hex."""
    digest = hashlib.blake2b(digest_size=20)
    size = path.stat().st_size
    digest.update(f"{size}:".encode())
    with path.open("rb") as handle:
        if size <= FULL_HASH_LIMIT:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
        else:
            step = (size - _SAMPLE_BYTES) // (_SAMPLES - 1)
            for i in range(_SAMPLES):
                handle.seek(i * step)
                digest.update(handle.read(_SAMPLE_BYTES))
    return digest.hexdigest()


def scan_jobs(
    inbox: Path,
    ignore: list[str],
    only: Optional[set[str]] = None,
    skipped: Optional[dict[str, list[Skipped]]] = None,
) -> dict[str, dict[str, os.stat_result]]:
    """``{job: {relative path: stat}}`` for every job folder (immediate subfolder) of ``inbox``.

    A job's files are what ``analysis.footage.find_footage`` finds in its folder, nested folders
    included (the rules `auto` and `analyze` use: documents, camera sidecars, proxies and hidden
    files are not footage), less the config's ``ignore`` globs; what it set aside goes into
    ``skipped[job]`` when a dict is given. Files directly in ``inbox`` belong to no job and are left
    alone. ``only`` limits the scan to those job names (a job listed there but gone from disk maps
    to ``{}``). Raises OSError when the inbox itself cannot be listed (an unmounted share): that is
    not "every job deleted".
    """
    jobs: dict[str, dict[str, os.stat_result]] = {}
    entries = list(os.scandir(inbox))
    for entry in entries:
        if only is not None and entry.name not in only:
            continue
        if is_ignored(Path(entry.name)) or not entry.is_dir(follow_symlinks=True):
            continue
        try:
            media, set_aside = find_footage(Path(entry.path), recursive=True, ignore=ignore)
        except MontageError:  # the job folder went away (or became unreadable) since the listing
            media, set_aside = [], []
        if skipped is not None:
            skipped[entry.name] = set_aside
        found: dict[str, os.stat_result] = {}
        for full in media:
            try:
                st = full.stat()
            except OSError:  # vanished between listing and stat: it is not there
                continue
            if not _is_regular(st):
                continue
            found[full.relative_to(inbox).as_posix()] = st
        jobs[entry.name] = found
    for name in only or ():
        jobs.setdefault(name, {})
    return jobs


def _is_regular(st: os.stat_result) -> bool:
    import stat as stat_mod

    return stat_mod.S_ISREG(st.st_mode)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    changed_at: float  # monotonic seconds of the last observed change
    probed: Optional[tuple[int, int]] = None  # (size, mtime_ns) the probe result below belongs to
    probed_at: float = 0.0
    media: Optional[MediaItem] = None
    error: Optional[str] = None
    condemned: bool = False  # never probe again at this size+mtime (its probe crashed the process)


@dataclass
class ArrivalTracker:
    """Remembers each file's last size/mtime and when it last changed; probes quiet files once."""

    quiet_seconds: float
    probe_retry_seconds: float
    clock: Callable[[], float] = time.monotonic
    probe: Callable[[Path], MediaItem] = probe_media
    _seen: dict[str, _Seen] = field(default_factory=dict)

    def observe(self, rel: str, st: os.stat_result) -> None:
        """Record a stat of ``rel``; a new size or mtime restarts its quiet period."""
        now = self.clock()
        prev = self._seen.get(rel)
        if prev is None or (prev.size, prev.mtime_ns) != (st.st_size, st.st_mtime_ns):
            self._seen[rel] = _Seen(size=st.st_size, mtime_ns=st.st_mtime_ns, changed_at=now)

    def settle(self, rel: str, st: os.stat_result, known_media: Optional[MediaItem] = None) -> None:
        """Mark ``rel`` as already arrived (the journal knows this exact size+mtime from a past run)."""
        self._seen[rel] = _Seen(
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            changed_at=self.clock() - self.quiet_seconds,
            probed=(st.st_size, st.st_mtime_ns),
            media=known_media,
        )

    def condemn(self, rel: str, st: os.stat_result, reason: str) -> None:
        """Mark ``rel`` damaged at this size+mtime without probing it (a probe of it crashed us before)."""
        self._seen[rel] = _Seen(
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            changed_at=self.clock() - self.quiet_seconds - self.probe_retry_seconds,
            probed=(st.st_size, st.st_mtime_ns),
            error=reason,
            condemned=True,
        )

    def forget(self, rel: str) -> None:
        self._seen.pop(rel, None)

    def last_change(self, rel: str) -> float:
        return self._seen[rel].changed_at

    def status(self, rel: str, full: Path) -> tuple[Status, Optional[MediaItem], Optional[str]]:
        """``(status, media, error)`` of a file already seen by :meth:`observe`.

        Probes a quiet file once per size+mtime, and again every quiet period while it fails (a
        writer that preallocates may still be filling it in), until the retry window ends.
        """
        seen = self._seen[rel]
        if seen.condemned:
            return "damaged", None, seen.error
        now = self.clock()
        quiet_for = now - seen.changed_at
        if quiet_for < self.quiet_seconds:
            return "waiting", None, None
        signature = (seen.size, seen.mtime_ns)
        if seen.probed != signature or (seen.error is not None and now - seen.probed_at >= self.quiet_seconds):
            self._probe(seen, full, signature, now)
        if seen.error is None:
            return "arrived", seen.media, None
        if quiet_for >= self.quiet_seconds + self.probe_retry_seconds:
            return "damaged", None, seen.error
        return "waiting", None, seen.error

    def _probe(self, seen: _Seen, full: Path, signature: tuple[int, int], now: float) -> None:
        seen.probed, seen.probed_at = signature, now
        try:
            seen.media, seen.error = self.probe(full), None
        except MontageError as exc:
            seen.media, seen.error = None, str(exc)
        except Exception as exc:  # a decoder library raising something unexpected is still "unreadable"
            seen.media, seen.error = None, f"{full}: cannot be probed ({exc.__class__.__name__}: {exc})"
