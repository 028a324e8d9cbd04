"""The worker's database: jobs, events, blobs, uploads, workers. Shared by the HTTP server, the
in-process runner and Celery workers.

Two implementations of one small interface (:class:`JobDatabase`): SQLite in WAL mode here, the
embedded default (one machine: WAL needs shared memory, so not a network filesystem), and
PostgreSQL (gpu_remote/pg.py) when workers on several machines share the state. The store speaks
one SQL dialect to both: ``?`` placeholders, rows readable by name and by index, ``immediate``
transactions that exclude every other immediate transaction (BEGIN IMMEDIATE / an advisory lock).

Each thread keeps its own connection (SQLite connections must not be shared across threads or
processes). Reusing them matters: closing the last connection of a WAL database checkpoints and
deletes the WAL, which cost ~8 ms per call when every call opened a fresh one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    spec_json TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    op TEXT NOT NULL,
    op_version TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 2,
    lease_owner TEXT,
    lease_until REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress_json TEXT NOT NULL DEFAULT '{}',
    outputs_json TEXT NOT NULL DEFAULT '[]',
    result_json TEXT NOT NULL DEFAULT '{}',
    error_json TEXT,
    cache_hit INTEGER NOT NULL DEFAULT 0,
    timeout_s REAL NOT NULL,
    ttl_s REAL NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL,
    last_event_seq INTEGER NOT NULL DEFAULT 0,
    route TEXT NOT NULL DEFAULT 'gpu',
    not_before REAL NOT NULL DEFAULT 0,
    published_at REAL,
    publish_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(state, priority DESC, created_at);
CREATE INDEX IF NOT EXISTS jobs_route ON jobs(state, route, priority DESC, created_at);
CREATE INDEX IF NOT EXISTS jobs_fp ON jobs(fingerprint, state);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    data_json TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    filename TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_sha ON uploads(sha256);
CREATE TABLE IF NOT EXISTS webhooks (
    job_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    delivered_seq INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS workers (
    name TEXT PRIMARY KEY,
    info_json TEXT NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
"""

# Columns added after the first release: (name, SQL type and default). A database made by an
# older worker gains them on open; SQLite's ALTER TABLE ADD COLUMN is cheap (no table rewrite).
ADDED_JOB_COLUMNS = (
    ("route", "TEXT NOT NULL DEFAULT 'gpu'"),
    ("not_before", "REAL NOT NULL DEFAULT 0"),
    ("published_at", "REAL"),
    ("publish_count", "INTEGER NOT NULL DEFAULT 0"),
)


def _migrate(conn: sqlite3.Connection) -> None:
    have = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    if not have:
        return  # a new database: SCHEMA creates the table whole
    for name, decl in ADDED_JOB_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {decl}")
    if "route" not in have:
        conn.execute("UPDATE jobs SET route='gpu.' || op")  # routing.route_for of jobs made before routes


class JobDatabase(Protocol):
    """What the store, blob index and registry need from a database."""

    url: str  # where it is, for messages (a path, or a postgresql:// URL without its password)

    def connect(self, *, immediate: bool = False) -> contextlib.AbstractContextManager[Any]:
        """A connection in a transaction (commit on success, rollback on error); ``immediate``
        transactions run one at a time across every process using the database."""
        ...


def open_database(store: str | None, data_dir: Path) -> JobDatabase:
    """The database ``--store`` names: a ``postgresql://`` URL, or (None) SQLite in ``data_dir``."""
    if store and store.startswith(("postgresql://", "postgres://")):
        from gpu_remote.pg import PostgresDatabase

        return PostgresDatabase(store)
    if store:
        from gpu_remote.errors import WorkerConfigError

        raise WorkerConfigError(f"--store must be a postgresql:// URL (or left out for SQLite), not {store!r}")
    return Database(data_dir / "jobs.sqlite3")


class Database:
    """Opens connections to ``path`` with WAL, a busy timeout and the schema in place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = str(path)
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent; must be set outside a transaction
            _migrate(conn)
            conn.executescript(SCHEMA)
        finally:
            conn.close()

    @contextlib.contextmanager
    def connect(self, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction: committed on success, rolled back on error.

        ``immediate`` takes the write lock up front (BEGIN IMMEDIATE) so read-then-update
        sequences such as claiming a job cannot interleave with another writer.
        """
        conn = self._thread_conn()
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        cached = getattr(self._local, "conn", None)
        if cached is not None:
            cached[1].close()
            self._local.conn = None

    def _thread_conn(self) -> sqlite3.Connection:
        cached = getattr(self._local, "conn", None)
        if cached is not None and cached[0] == os.getpid():
            return cached[1]
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=True)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, no fsync per commit
        self._local.conn = (os.getpid(), conn)
        return conn
