"""PostgreSQL as the job database when workers on several machines share state (``--store postgresql://…``).

Same interface and semantics as the SQLite database (gpu_remote/db.py), so the job store's SQL
runs unchanged:

- ``?`` placeholders become psycopg's ``%s`` (outside quoted literals; a literal ``%`` is escaped);
- rows read by column name and by index, like ``sqlite3.Row``;
- ``immediate`` transactions take one transaction-scoped advisory lock first, so read-then-write
  sequences (claiming a job, creating one idempotently, the reaper) run one at a time across
  every process and machine, as BEGIN IMMEDIATE makes them on SQLite; other transactions rely
  on row locks (each conditional UPDATE, the event counter's UPDATE … RETURNING);
- each thread keeps its own connection; one the server dropped (a PostgreSQL restart) is
  replaced on the next use.

psycopg 3 comes with the ``[worker]`` extra.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gpu_remote.db import SCHEMA as SQLITE_SCHEMA
from gpu_remote.errors import DatabaseUnavailable

# The SQLite schema in PostgreSQL's types: one table definition, so the two stores cannot drift.
# INTEGER is 32-bit there (sizes and sequence numbers need 64), REAL single precision (times need double).
SCHEMA = re.sub(r"\bREAL\b", "DOUBLE PRECISION", re.sub(r"\bINTEGER\b", "BIGINT", SQLITE_SCHEMA))

# The key of the advisory lock immediate transactions take (any constant shared by all processes).
IMMEDIATE_LOCK_KEY = 0x6D6F6E74  # "mont"
_TOKEN = re.compile(r"'(?:[^']|'')*'|\?|%")


def to_psycopg(sql: str) -> str:
    """SQLite-style ``?`` placeholders → ``%s``; ``%`` → ``%%``; quoted literals left alone."""

    def swap(match: re.Match[str]) -> str:
        text = match.group(0)
        return "%s" if text == "?" else "%%" if text == "%" else text

    return _TOKEN.sub(swap, sql)


class Row(tuple):
    """A result row readable by index and by column name (like ``sqlite3.Row``)."""

    _index: dict[str, int]

    def __new__(cls, names: dict[str, int], values: Sequence[Any]) -> Row:
        row = super().__new__(cls, values)
        row._index = names
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    names = {col.name: i for i, col in enumerate(cursor.description or [])}
    return lambda values: Row(names, values)


class _Conn:
    """The sqlite3-like face of one psycopg connection inside a transaction.

    If the transaction's first statement finds the connection dead (the server restarted since
    it was last used), nothing has happened in the transaction yet: a new connection is opened
    and the statement run again, once.
    """

    def __init__(self, db: PostgresDatabase, conn: Any, *, fresh: bool) -> None:
        self._db = db
        self.conn = conn
        self._first = not fresh

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        import psycopg

        query, args = to_psycopg(sql), tuple(params)
        if not self._first:
            return self.conn.execute(query, args)
        self._first = False
        try:
            return self.conn.execute(query, args)
        except psycopg.OperationalError:
            if not (self.conn.broken or self.conn.closed):
                raise
            self.conn.close()
            self.conn = self._db._thread_conn()
            return self.conn.execute(query, args)


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresDatabase:
    """Connections to the PostgreSQL database at ``url``, with the schema in place."""

    def __init__(self, url: str, *, connect_timeout_s: float = 10.0) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:  # pragma: no cover - the [worker] extra installs it
            raise RuntimeError("--store postgresql:// needs psycopg: pip install 'montage-bridge[worker]'") from exc
        self.dsn = url
        self.url = redact(url)
        self.connect_timeout_s = connect_timeout_s
        self._local = threading.local()
        import psycopg

        from gpu_remote.errors import WorkerConfigError

        try:
            with self.connect(immediate=True) as conn:  # one process at a time creates the schema
                for statement in filter(str.strip, SCHEMA.split(";")):
                    conn.execute(statement)
        except (psycopg.OperationalError, DatabaseUnavailable) as exc:
            raise WorkerConfigError(f"cannot use the job database {self.url}: {exc}".strip()) from exc

    def _open(self) -> Any:
        import psycopg

        conn = psycopg.connect(self.dsn, connect_timeout=max(1, int(self.connect_timeout_s)), row_factory=_row_factory)
        conn.execute("SET synchronous_commit TO on")
        conn.commit()
        return conn

    def _thread_conn(self) -> Any:
        cached = getattr(self._local, "conn", None)
        if cached is not None and cached[0] == os.getpid() and not cached[1].closed and not cached[1].broken:
            return cached[1]
        conn = self._open()
        self._local.conn = (os.getpid(), conn)
        return conn

    def _unavailable(self, exc: Exception) -> DatabaseUnavailable:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DatabaseUnavailable(f"the job database {self.url} is unreachable: {first}")

    @contextlib.contextmanager
    def connect(self, *, immediate: bool = False) -> Iterator[_Conn]:
        """A transaction: committed on success, rolled back on error (as the SQLite one).

        A lost server (refused connection, connection dropped mid-transaction or at commit)
        raises :class:`DatabaseUnavailable`; other database errors pass through unchanged.
        """
        import psycopg

        cached = getattr(self._local, "conn", None)
        fresh = cached is None or cached[0] != os.getpid() or cached[1].closed or cached[1].broken
        try:
            wrapper = _Conn(self, self._thread_conn(), fresh=fresh)
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc
        try:
            if immediate:
                wrapper.execute("SELECT pg_advisory_xact_lock(?)", (IMMEDIATE_LOCK_KEY,))
            yield wrapper
        except psycopg.OperationalError as exc:
            if wrapper.conn.closed or wrapper.conn.broken:
                raise self._unavailable(exc) from exc
            wrapper.conn.rollback()
            raise
        except BaseException:
            if not wrapper.conn.closed and not wrapper.conn.broken:
                wrapper.conn.rollback()
            raise
        try:
            wrapper.conn.commit()
        except psycopg.OperationalError as exc:
            if wrapper.conn.closed or wrapper.conn.broken:
                raise self._unavailable(exc) from exc
            raise

    def close(self) -> None:
        cached = getattr(self._local, "conn", None)
        if cached is not None:
            cached[1].close()
            self._local.conn = None
