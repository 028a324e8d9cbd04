"""Atomic file output: write to a temp file beside the target, fsync, then rename over it.

A crash, a full disk or an exception mid-write leaves the old file (or nothing), never half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _read_umask() -> int:
    # Reading the umask means setting it; do it once, at import, before any worker threads exist,
    # so no other thread ever creates a file while the process umask is briefly 0.
    current = os.umask(0o022)
    os.umask(current)
    return current


PROCESS_UMASK = _read_umask()
"""The process umask, read once at import (see :func:`_read_umask`)."""


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8", *, permissions: int | None = None
) -> Iterator[IO]:
    """Context manager yielding a file object; the target appears only if the block succeeds.

    ``permissions`` (e.g. ``0o600`` for a secret) is applied before any byte is written; by default
    the file gets what a plain ``open()`` would give it under the process umask.
    """
    target = Path(path)
    binary = "b" in mode
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        # mkstemp creates 0600; give the result the permissions a plain open() would have.
        os.chmod(tmp_name, permissions if permissions is not None else 0o666 & ~PROCESS_UMASK)
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str, *, permissions: int | None = None) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8), optionally with explicit ``permissions``."""
    with atomic_writer(path, "w", permissions=permissions) as handle:
        handle.write(text)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path, "wb", encoding=None) as handle:
        handle.write(data)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the renames into directory ``path`` durable. Best effort: Windows and some network
    filesystems cannot open or fsync a directory, and the renames themselves already happened."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def durable_replace(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Rename a finished file ``src`` to ``dest`` so that after a crash or power cut ``dest`` is
    either absent or whole: ``src``'s bytes are flushed before the rename, and the directory entry
    after it (:func:`fsync_dir`). For files written elsewhere (a download, an upload, a copy) that
    :func:`atomic_writer` did not write."""
    fd = os.open(src, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(src, dest)
    fsync_dir(Path(dest).parent)
