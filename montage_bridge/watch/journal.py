"""The daemon's SQLite journal: every file and job it has seen, and how far each got.

SQLite in WAL mode with ``synchronous=FULL``: each state change is one committed transaction, so a
kill -9 (or power loss) loses at most the change being made, never an earlier one, and
``watch status`` can read while the daemon writes. Each thread opens its own :class:`Journal`.

Job states: ``seen`` (files present, waiting to arrive or for a worker) → ``analyzing`` →
``planned`` → ``written``, or ``failed`` with a reason. A job's *fingerprint* covers its files'
content and the settings it runs with; ``done_fingerprint`` is the one last written, so finished
work is never redone and a changed file (new fingerprint) runs the job again.

A written job whose config asks for Resolve also has a ``resolve_state`` (see
``montage_bridge.watch.resolve_step``): ``built``, ``pending`` (Resolve unreachable: retried at the
next start), ``problem`` (reached but failed: retried only after ``watch retry``) or ``retry``
(asked for by ``watch retry``: the running daemon picks it up at its next full rescan).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Optional

from pydantic import BaseModel

from kernel.errors import MontageError

JOB_STATES = ("seen", "analyzing", "planned", "written", "failed")
RUNNING_STATES = ("analyzing", "planned")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,          -- relative to the inbox, '/'-separated
    job TEXT NOT NULL,
    size INTEGER NOT NULL,          -- bytes
    mtime_ns INTEGER NOT NULL,
    fingerprint TEXT,               -- content hash, NULL until the file has arrived
    kind TEXT,                      -- 'video' | 'audio' | NULL (not probed / damaged)
    state TEXT NOT NULL,
    error TEXT,
    updated REAL NOT NULL           -- unix seconds
);
CREATE INDEX IF NOT EXISTS files_job ON files(job);
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    fingerprint TEXT,               -- of the content the current/last run used
    done_fingerprint TEXT,          -- of the last content written to the outbox
    failed_fingerprint TEXT,        -- of the last content that failed (not retried until it changes)
    attempts INTEGER NOT NULL DEFAULT 0,  -- starts with the current fingerprint
    writes INTEGER NOT NULL DEFAULT 0,    -- outputs put in place, over the job's life
    error TEXT,
    output TEXT,
    analysis_seconds REAL,
    total_seconds REAL,
    started REAL,
    finished REAL,
    updated REAL NOT NULL,
    resolve_state TEXT,             -- NULL (no Resolve output) | 'built' | 'pending' | 'problem' | 'retry'
    resolve_error TEXT
);
"""
# Columns added after the first release: (name, SQL type) added to older journals at open.
_ADDED_JOB_COLUMNS = (("resolve_state", "TEXT"), ("resolve_error", "TEXT"))
RESOLVE_STATES = ("built", "pending", "problem", "retry")


class JournalError(MontageError):
    """The journal database cannot be opened or written."""


class JournalDamagedError(JournalError):
    """The journal file is not a database any more, or its pages are corrupt: `watch repair` rebuilds it."""


_DAMAGE_TEXTS = ("file is not a database", "malformed", "file is encrypted")


def is_damage(exc: BaseException) -> bool:
    """True for SQLite errors that mean the file itself is broken (not a busy lock, not a full disk)."""
    return isinstance(exc, sqlite3.DatabaseError) and any(t in str(exc) for t in _DAMAGE_TEXTS)


def damaged_message(path: Path, detail: str) -> str:
    """What is wrong with which file, and the command that fixes it."""
    where = f"--out {path.parent}" if path.name == ".montage-watch.sqlite" else f"--journal {path} --out OUTBOX"
    return (
        f"{path}: the watch journal is damaged ({detail}) — run `montage-bridge watch repair {where}` to move it "
        "aside and rebuild it from the outbox's job folders (written jobs are not run again)"
    )


class FileRow(BaseModel):
    path: str
    job: str
    size: int
    mtime_ns: int
    fingerprint: Optional[str] = None
    kind: Optional[str] = None
    state: str
    error: Optional[str] = None
    updated: float


class JobRow(BaseModel):
    name: str
    state: str
    fingerprint: Optional[str] = None
    done_fingerprint: Optional[str] = None
    failed_fingerprint: Optional[str] = None
    attempts: int = 0
    writes: int = 0
    error: Optional[str] = None
    output: Optional[str] = None
    analysis_seconds: Optional[float] = None
    total_seconds: Optional[float] = None
    started: Optional[float] = None
    finished: Optional[float] = None
    updated: float
    resolve_state: Optional[str] = None
    resolve_error: Optional[str] = None


class Journal:
    """One connection to the journal at ``path`` (created on first use)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        if not create and not path.is_file():
            raise JournalError(f"{path}: no watch journal here — run `montage-bridge watch INBOX --out OUTBOX` first")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=30000")
            if create:
                self._db.executescript(_SCHEMA)
            # A journal from an older version (even one only read by `watch status`/`retry`) gains the new columns.
            have = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
            for column, kind in _ADDED_JOB_COLUMNS:
                if have and column not in have:
                    self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
        except sqlite3.Error as exc:
            if is_damage(exc):
                raise JournalDamagedError(damaged_message(path, str(exc))) from exc
            raise JournalError(f"{path}: cannot open the watch journal ({exc})") from exc

    def check(self) -> None:
        """Raise :class:`JournalDamagedError` unless SQLite's quick_check finds the file sound."""
        try:
            problems = [row[0] for row in self._db.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.Error as exc:
            if is_damage(exc):
                raise JournalDamagedError(damaged_message(self.path, str(exc))) from exc
            raise JournalError(f"{self.path}: cannot read the watch journal ({exc})") from exc
        if problems != ["ok"]:
            raise JournalDamagedError(damaged_message(self.path, f"integrity check: {problems[0]}"))

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            if is_damage(exc):
                raise JournalDamagedError(damaged_message(self.path, str(exc))) from exc
            raise JournalError(f"{self.path}: cannot read the watch journal ({exc})") from exc

    def close(self) -> None:
        self._db.close()

    def _write(self, sql: str, params: tuple = ()) -> None:
        try:
            self._db.execute(sql, params)
        except sqlite3.Error as exc:
            if is_damage(exc):
                raise JournalDamagedError(damaged_message(self.path, str(exc))) from exc
            raise JournalError(f"{self.path}: cannot update the watch journal ({exc})") from exc

    # files ------------------------------------------------------------------------------------

    def file(self, path: str) -> Optional[FileRow]:
        rows = self._query("SELECT * FROM files WHERE path = ?", (path,))
        return FileRow(**dict(rows[0])) if rows else None

    def files(self, job: Optional[str] = None) -> list[FileRow]:
        if job is None:
            rows = self._query("SELECT * FROM files ORDER BY path")
        else:
            rows = self._query("SELECT * FROM files WHERE job = ? ORDER BY path", (job,))
        return [FileRow(**dict(r)) for r in rows]

    def put_file(self, row: FileRow) -> None:
        self._write(
            "INSERT OR REPLACE INTO files (path, job, size, mtime_ns, fingerprint, kind, state, error, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.path, row.job, row.size, row.mtime_ns, row.fingerprint, row.kind, row.state, row.error, row.updated),
        )

    def set_file_state(self, path: str, state: str) -> None:
        """Change one file's state only (e.g. ``probing`` around a probe that might crash the process)."""
        self._write("UPDATE files SET state = ?, updated = ? WHERE path = ?", (state, time.time(), path))

    def forget_files(self, paths: list[str]) -> None:
        for path in paths:
            self._write("DELETE FROM files WHERE path = ?", (path,))

    # jobs -------------------------------------------------------------------------------------

    def job(self, name: str) -> Optional[JobRow]:
        rows = self._query("SELECT * FROM jobs WHERE name = ?", (name,))
        return JobRow(**dict(rows[0])) if rows else None

    def jobs(self) -> list[JobRow]:
        return [JobRow(**dict(r)) for r in self._query("SELECT * FROM jobs ORDER BY name")]

    def ensure_job(self, name: str) -> JobRow:
        self._write("INSERT OR IGNORE INTO jobs (name, state, updated) VALUES (?, 'seen', ?)", (name, time.time()))
        job = self.job(name)
        assert job is not None
        return job

    def start_job(self, name: str, fingerprint: str) -> int:
        """Mark ``name`` analyzing for ``fingerprint``; returns the attempt number (1 = first start)."""
        now = time.time()
        job = self.ensure_job(name)
        attempts = job.attempts + 1 if job.fingerprint == fingerprint else 1
        self._write(
            "UPDATE jobs SET state='analyzing', fingerprint=?, attempts=?, error=NULL, started=?, finished=NULL, "
            "analysis_seconds=NULL, total_seconds=NULL, updated=? WHERE name=?",
            (fingerprint, attempts, now, now, name),
        )
        self._set_files(name, "analyzing")
        return attempts

    def set_state(self, name: str, state: str, *, analysis_seconds: Optional[float] = None) -> None:
        assert state in JOB_STATES
        self._write(
            "UPDATE jobs SET state=?, analysis_seconds=COALESCE(?, analysis_seconds), updated=? WHERE name=?",
            (state, analysis_seconds, time.time(), name),
        )
        self._set_files(name, state)

    def finish_written(
        self,
        name: str,
        fingerprint: str,
        output: str,
        *,
        analysis_seconds: Optional[float],
        total_seconds: float,
        resolve_state: Optional[str] = None,
        resolve_error: Optional[str] = None,
    ) -> None:
        """Record one output put in place (counted in ``writes``), and where its Resolve step stands."""
        now = time.time()
        self._write(
            "UPDATE jobs SET state='written', fingerprint=?, done_fingerprint=?, failed_fingerprint=NULL, error=NULL, "
            "writes=writes+1, output=?, analysis_seconds=COALESCE(?, analysis_seconds), total_seconds=?, "
            "finished=?, updated=?, resolve_state=?, resolve_error=? WHERE name=?",
            (
                fingerprint,
                fingerprint,
                output,
                analysis_seconds,
                total_seconds,
                now,
                now,
                resolve_state,
                resolve_error,
                name,
            ),
        )
        self._set_files(name, "written")

    def restore_written(
        self,
        name: str,
        fingerprint: str,
        output: str,
        *,
        analysis_seconds: Optional[float],
        total_seconds: Optional[float],
        finished: float,
        resolve_state: Optional[str],
        resolve_error: Optional[str],
    ) -> None:
        """A written job known only from its output folder (``watch repair``): one write, no attempts."""
        self._write(
            "INSERT OR REPLACE INTO jobs (name, state, fingerprint, done_fingerprint, attempts, writes, output, "
            "analysis_seconds, total_seconds, finished, updated, resolve_state, resolve_error) "
            "VALUES (?, 'written', ?, ?, 0, 1, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                fingerprint,
                fingerprint,
                output,
                analysis_seconds,
                total_seconds,
                finished,
                time.time(),
                resolve_state if resolve_state in RESOLVE_STATES else None,
                resolve_error,
            ),
        )

    def set_resolve(self, name: str, state: str, error: Optional[str] = None) -> None:
        """Record the outcome of a job's Resolve step (``error`` None once built)."""
        assert state in RESOLVE_STATES
        self._write(
            "UPDATE jobs SET resolve_state=?, resolve_error=?, updated=? WHERE name=?",
            (state, error, time.time(), name),
        )

    def resolve_due(self, states: tuple[str, ...]) -> list[JobRow]:
        """Written jobs whose Resolve step is in one of ``states``."""
        marks = ",".join("?" * len(states))
        rows = self._query(
            f"SELECT * FROM jobs WHERE state='written' AND resolve_state IN ({marks}) ORDER BY name", states
        )
        return [JobRow(**dict(r)) for r in rows]

    def retry_resolve(self, name: Optional[str] = None) -> int:
        """Ask the daemon to build again in Resolve the written jobs whose Resolve step is not built."""
        where = "WHERE state='written' AND resolve_state IN ('pending', 'problem')"
        params: tuple = ()
        if name is not None:
            where, params = where + " AND name=?", (name,)
        count = self._query(f"SELECT COUNT(*) FROM jobs {where}", params)[0][0]
        self._write(f"UPDATE jobs SET resolve_state='retry' {where}", params)
        return int(count)

    def finish_failed(self, name: str, fingerprint: str, error: str, *, total_seconds: Optional[float] = None) -> None:
        now = time.time()
        self.ensure_job(name)
        self._write(
            "UPDATE jobs SET state='failed', fingerprint=?, failed_fingerprint=?, error=?, total_seconds=?, "
            "finished=?, updated=? WHERE name=?",
            (fingerprint, fingerprint, error, total_seconds, now, now, name),
        )
        self._set_files(name, "failed")

    def mark_seen(self, name: str) -> None:
        """Back to waiting (its content changed, or a run was interrupted)."""
        self._write("UPDATE jobs SET state='seen', updated=? WHERE name=?", (time.time(), name))

    def pause_job(self, name: str, reason: str) -> None:
        """A run stopped by a full disk: due again, and that start does not count as an attempt.

        Only a row still marked running changes, so calling this twice is harmless."""
        marks = ",".join("?" * len(RUNNING_STATES))
        self._write(
            f"UPDATE jobs SET state='seen', attempts=MAX(attempts-1, 0), error=?, updated=? "
            f"WHERE name=? AND state IN ({marks})",
            (reason, time.time(), name, *RUNNING_STATES),
        )

    def interrupted_jobs(self) -> list[JobRow]:
        """Jobs a previous daemon left analyzing/planned (it was killed or stopped mid-job)."""
        return [j for j in self.jobs() if j.state in RUNNING_STATES]

    def retry(self, name: Optional[str] = None) -> int:
        """Forget failures (of one job or all) so their current content runs again; returns how many."""
        where, params = ("WHERE state='failed'", ()) if name is None else ("WHERE state='failed' AND name=?", (name,))
        count = self._query(f"SELECT COUNT(*) FROM jobs {where}", params)[0][0]
        self._write(f"UPDATE jobs SET state='seen', failed_fingerprint=NULL, attempts=0 {where}", params)
        return int(count)

    def _set_files(self, job: str, state: str) -> None:
        # Files that have arrived follow their job's state; ones still arriving keep 'seen'.
        self._write(
            "UPDATE files SET state=?, updated=? WHERE job=? AND fingerprint IS NOT NULL AND error IS NULL",
            (state, time.time(), job),
        )
