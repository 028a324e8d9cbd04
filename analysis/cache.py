"""SQLite cache of analysis results, keyed by file *content*, analyzer version and parameters.

The key never contains the path: a moved or renamed file hits, a changed one misses. Content is
identified by a fingerprint of the size plus a hash of sampled blocks (first, last and evenly spaced
blocks in between), which reads about 1 MiB per file however large it is, so checking 50 clips
costs milliseconds. Any change in length is a miss; an in-place edit that leaves the length and
every sampled block identical would be missed, which media writers (that rewrite headers, indexes
and the stream) do not do in practice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from kernel.errors import MontageError
from kernel.paths import cache_dir

_BLOCK = 64 * 1024
_SAMPLES = 16


class CacheError(MontageError):
    """The cache database cannot be opened or written."""


def default_cache_dir() -> Path:
    """``$MONTAGE_CACHE_DIR``, else the per-user cache folder (``$XDG_CACHE_HOME/montage-bridge`` on Linux)."""
    explicit = os.environ.get("MONTAGE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return cache_dir()


def fingerprint(path: str | os.PathLike[str]) -> str:
    """Content fingerprint: ``"<size>-<blake2b of sampled blocks>"``.

    Files up to ``_SAMPLES`` blocks are hashed whole; larger ones at ``_SAMPLES`` evenly spaced
    64 KiB blocks that always include the first and the last (where containers keep their headers
    and indexes).
    """
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(size).encode())
    with path.open("rb") as handle:
        if size <= _BLOCK * _SAMPLES:
            digest.update(handle.read())
        else:
            last = size - _BLOCK
            for i in range(_SAMPLES):
                handle.seek(last * i // (_SAMPLES - 1))
                digest.update(handle.read(_BLOCK))
    return f"{size}-{digest.hexdigest()}"


def params_key(params: dict) -> str:
    """A stable short hash of analysis parameters (JSON with sorted keys)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class AnalysisCache:
    """``(fingerprint, kind, version, params) → JSON`` in one SQLite file.

    ``kind`` separates the analyzers (``"clip"``, ``"speech"``, ``"music"``) so turning speech on
    does not redo the picture analysis. Safe to share between processes: SQLite serialises the
    writes, and each entry is one row written in one transaction.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.directory / "analysis.sqlite3"), timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS entries ("
                " fingerprint TEXT NOT NULL, kind TEXT NOT NULL, version TEXT NOT NULL, params TEXT NOT NULL,"
                " payload TEXT NOT NULL, created REAL NOT NULL,"
                " PRIMARY KEY (fingerprint, kind, version, params))"
            )
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(
                f"{self.directory}: cannot use the analysis cache here ({exc}); "
                "set MONTAGE_CACHE_DIR to a writable folder or pass --no-cache"
            ) from exc

    def get(self, fp: str, kind: str, version: str, params: str) -> dict | None:
        """The stored JSON object, or None on a miss (an unreadable row counts as a miss)."""
        try:
            row = self._db.execute(
                "SELECT payload FROM entries WHERE fingerprint=? AND kind=? AND version=? AND params=?",
                (fp, kind, version, params),
            ).fetchone()
        except sqlite3.Error:
            return None
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def put(self, fp: str, kind: str, version: str, params: str, payload: dict) -> None:
        """Store (or replace) one entry."""
        try:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)",
                    (fp, kind, version, params, json.dumps(payload), time.time()),
                )
        except sqlite3.Error as exc:
            raise CacheError(f"{self.directory}: cannot write the analysis cache ({exc})") from exc

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()

    def __enter__(self) -> AnalysisCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def open_cache(directory: str | os.PathLike[str] | None) -> Iterator[AnalysisCache | None]:
    """Context manager yielding a cache, or None when ``directory`` is None (caching off)."""
    if directory is None:
        yield None
        return
    cache = AnalysisCache(directory)
    try:
        yield cache
    finally:
        cache.close()
