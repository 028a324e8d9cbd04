"""Read a timeline file someone handed us: regular files only, and never more than a cap.

Where the user meets it: every ``convert`` input and every timeline the daemon or ``resolve build``
reads. ``st_size`` is not a limit: a FIFO, ``/dev/zero`` or ``/dev/urandom`` reports 0 and then
streams for ever, so the bytes actually read are counted, and anything that is not a regular file
is refused before it is opened (opening a FIFO alone blocks until a writer appears).
"""

from __future__ import annotations

import codecs
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


# (prefix, codec): byte-order marks first, then the XML spec's autodetection of "<?" without one.
_UNICODE_SIGNATURES = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)


def decode_timeline_text(data: bytes, source: str) -> str:
    """Text of a timeline file: UTF-8, UTF-16/32 (with a BOM, or an XML file without one, as
    Windows tools write them), else Windows-1252, the usual encoding of EDLs from older systems."""
    for prefix, codec in _UNICODE_SIGNATURES:
        if data.startswith(prefix):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise TimelineParseError(
                    source, f"looks like {codec.upper()} text but byte {exc.start} is not", hint="is the file damaged?"
                ) from exc
    for codec in ("utf-8", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")
