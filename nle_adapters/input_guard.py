"""Read a timeline file someone handed us: regular files only, and never more than a cap.

Where the user meets it: every ``convert`` input and every timeline the daemon or ``resolve build``
reads. ``st_size`` is not a limit: a FIFO, ``/dev/zero`` or ``/dev/urandom`` reports 0 and then
streams for ever, so the bytes actually read are counted, and anything that is not a regular file
is refused before it is opened (opening a FIFO alone blocks until a writer appears).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from nle_adapters.errors import TimelineParseError

MAX_TIMELINE_BYTES = 512 * 1024 * 1024
"""Largest timeline file read (bytes). A 100,000-event FCPXML is about 60 MiB."""

_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def read_timeline_bytes(path: str | os.PathLike[str], max_bytes: int = MAX_TIMELINE_BYTES) -> bytes:
    """The bytes of the regular file ``path``, or :class:`TimelineParseError` saying why not.

    At most ``max_bytes`` are accepted, counted while reading (not taken from ``st_size``).
    """
    source = str(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise TimelineParseError(source, f"cannot read file ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise TimelineParseError(source, f"is {kind}, not a timeline file", hint="pass the path of a saved timeline")
    too_big = TimelineParseError(
        source, f"file is larger than {max_bytes // 2**20} MiB", hint="is it really a timeline?"
    )
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO after the stat, open() must not hang.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise TimelineParseError(source, "is not a regular file (it changed while being opened)")
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise TimelineParseError(source, f"cannot read file ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:
        raise too_big
    return data


def read_timeline_file(path: Path) -> bytes:
    """:func:`read_timeline_bytes` for ``path``, or for ``path/Info.fcpxml`` when ``path`` is a
    ``.fcpxmld`` bundle (the folder FCP and Resolve 21 write)."""
    if path.suffix.lower() == ".fcpxmld" and path.is_dir():
        path = path / "Info.fcpxml"
    return read_timeline_bytes(path)
