"""Media locations: ``file://`` URLs ↔ plain paths, the one conversion every reader and writer uses.

Timelines name media either way: FCPXML and OTIO write URLs (``file:///Users/a/Cam%201.mov``),
Premiere writes ``file://localhost/D%3a/media/a.mov``, EDL comments and Resolve's API want paths. A
path is kept in the spelling of the system that wrote it: ``C:/media/a.mov`` stays a Windows path on
any machine, because the timeline may be read on one OS and opened in an NLE on another.

- :func:`url_to_path`: ``file:`` URLs become paths (percent-decoded; ``file://localhost/`` and
  ``file:///`` are the same machine; ``/C:/x`` and ``/C%3a/x`` become ``C:/x``; a host other than
  localhost is a UNC share, ``//server/share/x``). Anything else (a bare path, an ``http`` URL)
  passes through unchanged.
- :func:`path_to_url`: paths become ``file:`` URLs, the spelling :meth:`pathlib.Path.as_uri` writes
  (POSIX, Windows drive letters, UNC shares); URLs pass through, and a relative path becomes a
  relative URL reference (percent-encoded, no scheme): there is no right absolute guess for it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import PurePath
from urllib.parse import quote, unquote, urlsplit

_WIN_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_DRIVE_HOST = re.compile(r"^[A-Za-z]:$")  # file://C:/x, a malformed spelling some tools write


def is_url(location: str) -> bool:
    """True for ``scheme:…`` URLs (``file:``, ``http(s):``, or any ``xyz://``); False for paths,
    including Windows drive paths (``C:\\x``: a one-letter scheme is a drive)."""
    scheme = urlsplit(location).scheme if ":" in location else ""
    return scheme in ("file", "http", "https") or (len(scheme) > 1 and "://" in location)


@lru_cache(maxsize=4096)
def url_to_path(url: str) -> str:
    """A media URL as a plain path: ``file:///a%20b`` → ``/a b``, ``file://localhost/D%3a/x`` → ``D:/x``,
    ``file://server/share/x`` → ``//server/share/x``; anything that is not a ``file:`` URL passes through."""
    if url[:5].lower() != "file:":
        return url
    parts = urlsplit(url)
    path = unquote(parts.path)
    host = parts.netloc
    if _DRIVE_HOST.match(host):
        return host + path
    if host and host.lower() != "localhost":
        return f"//{host}{path}"  # a UNC share
    # file:///C:/x and file://localhost/C:/x → C:/x (Windows drive letters)
    if len(path) >= 3 and path[0] == "/" and path[2] == ":" and path[1].isalpha():
        path = path[1:]
    return path


def _quote(text: str) -> str:
    # pathlib's as_uri quotes os.fsencode(path): UTF-8, undecodable bytes kept as they were read.
    return quote(text, safe="/", errors="surrogateescape")


def path_to_url(location: str | PurePath, *, host: str = "") -> str:
    """A media location as a URL: ``/a b`` → ``file:///a%20b``, ``C:\\m\\a.mov`` → ``file:///C:/m/a.mov``,
    ``\\\\server\\share\\a.mov`` → ``file://server/share/a.mov``.

    ``host`` names the machine in local URLs (Premiere writes ``localhost``); URLs pass through, and a
    relative path becomes a percent-encoded relative reference.
    """
    text = str(location)
    if is_url(text):
        return text
    if _WIN_DRIVE.match(text):
        posix = text.replace("\\", "/")
        return f"file://{host}/{posix[:2]}{_quote(posix[2:])}"
    if text[:2] in ("\\\\", "//") and text[2:3] not in ("\\", "/", ""):
        return "file:" + _quote(text.replace("\\", "/"))  # UNC: //server/share/x → file://server/share/x
    if text.startswith("/"):
        return f"file://{host}{_quote(text)}"
    return _quote(text)


__all__ = ["is_url", "path_to_url", "url_to_path"]
