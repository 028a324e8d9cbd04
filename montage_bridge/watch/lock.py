"""One daemon per outbox: an exclusive ``flock`` on ``OUTBOX/.montage-watch.lock``.

Two daemons on one outbox would both run every job, delete each other's temporary folders and
spend each other's attempt budget. The lock is a kernel ``flock`` on an open file, so it dies with
its holder (kill -9 included): there is no stale lock to clean up by hand. The file holds the
holder's pid, host and start time, so a second daemon can say who is in the way.

``watch repair`` takes the same lock: it must not rebuild a journal a running daemon is writing.
(``flock`` is advisory and local: on a network share two machines may not see each other's lock;
the host name in the message helps there.)
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Optional

from kernel.errors import MontageError

LOCK_NAME = ".montage-watch.lock"


class OutboxLockedError(MontageError):
    """Another watch daemon (or a repair) holds the outbox."""


class OutboxLock:
    """Hold the outbox lock until :meth:`release` (or until this process ends)."""

    def __init__(self, outbox: Path, purpose: str = "watch") -> None:
        self.path = outbox / LOCK_NAME
        self._fd: Optional[int] = None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise OutboxLockedError(_held_message(outbox, self.path, purpose)) from None
        self._fd = fd
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "purpose": purpose}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same, only the note on who holds it is missing

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> OutboxLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _held_message(outbox: Path, path: Path, purpose: str) -> str:
    who = "another watch daemon (just starting)"
    for _ in range(20):  # the holder writes its note right after taking the lock: give it a moment
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            pid, host = int(info["pid"]), str(info["host"])
            started = datetime.fromtimestamp(float(info["started"])).strftime("%Y-%m-%d %H:%M:%S")
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.05)
            continue
        what = "`watch repair`" if info.get("purpose") == "repair" else "a watch daemon"
        who = f"{what} (pid {pid} on {host}, started {started})"
        break
    action = "watch it" if purpose == "watch" else "repair its journal"
    return (
        f"{outbox}: {who} already holds this outbox (lock {path.name}) — one daemon per outbox; "
        f"stop that one first to {action} here, or use another --out"
    )
