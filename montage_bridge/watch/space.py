"""A full disk (ENOSPC, EDQUOT, SQLite's SQLITE_FULL): told apart from other failures, said plainly.

A job that runs out of space is not a bad job: the daemon removes its temporary folder, pauses new
work and runs it again once space is freed (see ``WatchDaemon``), instead of failing it for good.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Optional

DISK_FULL_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if e is not None)
_SQLITE_FULL = 13
_TEXTS = ("No space left on device", "Disk quota exceeded", "database or disk is full")


def is_disk_full(exc: Optional[BaseException]) -> bool:
    """True when ``exc`` (or an exception it was raised from) says the disk or quota is full."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if any(text in str(exc) for text in _TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged writer may still use on ``folder``'s filesystem (0 if unknown)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def disk_full_reason(folder: Path, exc: BaseException) -> str:
    """One line for a user: which disk is full, how full, from what error."""
    quota = _errno_in_chain(exc) == getattr(errno, "EDQUOT", -1)
    what = "the disk quota" if quota else "the disk"
    return f"{what} holding {folder} is full ({_mib(free_bytes(folder))} free) — free some space there"


def _errno_in_chain(exc: Optional[BaseException]) -> Optional[int]:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc.errno
        exc = exc.__cause__ or exc.__context__
    return None


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n // 1024} KiB"
