"""Job store (SQLite, or PostgreSQL when scaled out): idempotent creation, leases with fencing,
a reaper, events and a result cache.

The store is the source of truth whatever dispatches the work (in-process runner or Celery):
a job is claimed with one conditional UPDATE inside BEGIN IMMEDIATE, every write from a run is
fenced by (job_id, attempt), and a duplicate delivery of a job that is running or finished finds
nothing to claim.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from gpu_remote.db import JobDatabase
from gpu_remote.errors import GpuRemoteError
from gpu_remote.events import EventBell
from gpu_remote.models import Event, Job, JobErrorInfo, JobSpec, JobState, OutputRef, Progress

PIPELINE_VERSION = "1"


class StoreError(GpuRemoteError):
    """A job request the store refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def fingerprint(op: str, op_version: str, spec: JobSpec, params: dict[str, Any]) -> str:
    """What makes two jobs the same computation: op + version + input hashes + normalised params."""
    payload = {
        "op": op,
        "op_version": op_version,
        "inputs": {name: ref.sha256 for name, ref in sorted(spec.inputs.items())},
        "params": params,
        "pipeline": PIPELINE_VERSION,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def _submit_digest(token: str) -> str:
    # Events are readable by every client of the worker: they hold a digest, not the token.
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _row_to_job(row: Any, base_url: str = "") -> Job:
    spec = json.loads(row["spec_json"])
    outputs = [
        OutputRef(**{**out, "url": f"{base_url}/v1/blobs/{out['sha256']}"}) for out in json.loads(row["outputs_json"])
    ]
    return Job(
        id=row["id"],
        op=row["op"],
        op_version=row["op_version"],
        state=JobState(row["state"]),
        progress=Progress(**json.loads(row["progress_json"])),
        attempt=row["attempt"],
        cancel_requested=bool(row["cancel_requested"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        fingerprint=row["fingerprint"],
        cache_hit=bool(row["cache_hit"]),
        outputs=outputs,
        result=json.loads(row["result_json"]),
        error=JobErrorInfo(**json.loads(row["error_json"])) if row["error_json"] else None,
        last_event_seq=row["last_event_seq"],
        labels=spec.get("labels", {}),
        route=row["route"],
        not_before=row["not_before"] if row["state"] == "queued" and row["not_before"] > time.time() else None,
    )


_EVENTS_ADDED = threading.local()  # this thread's open transaction added events


class _RingingDatabase:
    """The store's database: rings the store's bell after a transaction that added events commits."""

    def __init__(self, inner: JobDatabase, store: JobStore) -> None:
        self._inner = inner
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @contextlib.contextmanager
    def connect(self, *, immediate: bool = False) -> Iterator[Any]:
        outer = getattr(_EVENTS_ADDED, "flag", False)
        _EVENTS_ADDED.flag = False
        try:
            with self._inner.connect(immediate=immediate) as conn:
                yield conn
            added = _EVENTS_ADDED.flag
        finally:
            _EVENTS_ADDED.flag = outer
        if added:
            self._store.bell.ring()


class JobStore:
    """All job state transitions. Times are UNIX seconds."""

    def __init__(
        self,
        db: JobDatabase,
        *,
        max_queued: int = 10_000,
        max_attempts: int = 2,
        retry_backoff_s: float = 2.0,
        retry_backoff_max_s: float = 300.0,
        republish_after_s: float = 30.0,
    ) -> None:
        self.db = _RingingDatabase(db, self)
        self.bell = EventBell()  # rung after each commit that added events (wakes SSE streams here)
        self.max_queued = max_queued
        self.max_attempts = max_attempts  # runs a job gets (first + automatic retries) before it fails
        self.retry_backoff_s = retry_backoff_s  # wait before automatic retry n: backoff * 2**(n-1), capped
        self.retry_backoff_max_s = retry_backoff_max_s
        # A published job nobody claimed is published again after this, doubling each time (max 64×).
        self.republish_after_s = republish_after_s

    def backoff_s(self, attempt: int) -> float:
        """Seconds to wait before re-running a job whose attempt ``attempt`` failed retryably."""
        return min(self.retry_backoff_max_s, self.retry_backoff_s * 2 ** max(0, attempt - 1))

    # -- events -----------------------------------------------------------------------------

    @staticmethod
    def _created_by(conn: Any, job_id: str, submit_token: str | None) -> bool:
        """Whether job ``job_id`` was created by the submission ``submit_token`` (its first event
        carries the token's digest)."""
        if not submit_token:
            return False
        row = conn.execute("SELECT data_json FROM events WHERE job_id=? AND seq=1", (job_id,)).fetchone()
        if row is None:
            return False
        return bool(json.loads(row[0]).get("submit") == _submit_digest(submit_token))

    @staticmethod
    def _add_event(conn: Any, job_id: str, type_: str, data: dict[str, Any]) -> int:
        # One UPDATE … RETURNING takes the next number and locks the job's row until commit, so two
        # writers on one job (progress and a cancel, on PostgreSQL) cannot both take the same seq.
        _EVENTS_ADDED.flag = True
        now = time.time()
        row = conn.execute(
            "UPDATE jobs SET last_event_seq=last_event_seq+1, updated_at=? WHERE id=? RETURNING last_event_seq",
            (now, job_id),
        ).fetchone()
        seq = int(row[0])
        conn.execute(
            "INSERT INTO events(job_id,seq,type,data_json,at) VALUES(?,?,?,?,?)",
            (job_id, seq, type_, canonical_json(data), now),
        )
        return seq

    def events_after(self, job_id: str, after: int, limit: int = 1000) -> list[Event]:
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM events WHERE job_id=? AND seq>? ORDER BY seq LIMIT ?", (job_id, after, limit)
            ).fetchall()
        return [
            Event(job_id=r["job_id"], seq=r["seq"], type=r["type"], data=json.loads(r["data_json"]), at=r["at"])
            for r in rows
        ]

    # -- creation and reads -----------------------------------------------------------------

    def put(
        self,
        job_id: str,
        spec: JobSpec,
        op_version: str,
        params: dict[str, Any],
        *,
        missing: list[str],
        route: str = "gpu",
        submit_token: str | None = None,
    ) -> tuple[Job, bool]:
        """Create job ``job_id`` or return the existing identical one: (job, created).

        ``submit_token`` names one submission (the client's ``Submit-Token`` header, the same on
        every resend of that PUT): when the job exists because an earlier copy of this very request
        created it (its answer lost, the PUT resent), ``created`` is still True, so a client never
        mistakes its own new job for an older one and runs it again.

        Raises StoreError 409 when the id exists with a different body, 422 when inputs are
        missing, 429 when the queue is full. A succeeded job with the same fingerprint whose
        outputs still exist turns the new job into a cache hit (created succeeded, no run).

        The row is the outbox: a queued job with ``published_at`` NULL still has to be announced
        on ``route`` (the Celery queue); committing it is what makes it exist, so creating a job
        and publishing it cannot diverge (see :meth:`due_for_publish`).
        """
        spec_json = canonical_json(spec.model_dump(mode="json"))
        spec_hash = hashlib.sha256(spec_json.encode()).hexdigest()
        fp = fingerprint(spec.op, op_version, spec, params)
        with self.db.connect(immediate=True) as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is not None:
                if row["spec_hash"] != spec_hash:
                    raise StoreError(f"job {job_id} already exists with a different body: use a new job id", 409)
                return _row_to_job(row), self._created_by(conn, job_id, submit_token)
            if missing:
                raise StoreError("inputs are not on the worker yet: upload them first", 422, missing_blobs=missing)
            queued = conn.execute("SELECT COUNT(*) FROM jobs WHERE state='queued'").fetchone()[0]
            if queued >= self.max_queued:
                raise StoreError(f"the queue is full ({queued} jobs): retry later", 429)
            now = time.time()
            cached = conn.execute(
                "SELECT outputs_json,result_json FROM jobs WHERE fingerprint=? AND state='succeeded' "
                "ORDER BY finished_at DESC LIMIT 1",
                (fp,),
            ).fetchone()
            state = JobState.succeeded if cached is not None else JobState.queued
            conn.execute(
                "INSERT INTO jobs(id,spec_json,spec_hash,op,op_version,fingerprint,state,priority,max_attempts,"
                "timeout_s,ttl_s,created_at,updated_at,outputs_json,result_json,cache_hit,finished_at,progress_json,"
                "route,not_before) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    spec_json,
                    spec_hash,
                    spec.op,
                    op_version,
                    fp,
                    state.value,
                    spec.priority,
                    self.max_attempts,
                    spec.timeout_s,
                    spec.ttl_s,
                    now,
                    now,
                    cached["outputs_json"] if cached else "[]",
                    cached["result_json"] if cached else "{}",
                    int(cached is not None),
                    now if cached else None,
                    canonical_json({"fraction": 1.0, "stage": "cached"} if cached else {}),
                    route,
                    now,
                ),
            )
            if spec.webhook:
                conn.execute("INSERT INTO webhooks(job_id,url) VALUES(?,?)", (job_id, spec.webhook))
            first: dict[str, Any] = {"state": state.value, "attempt": 0}
            if submit_token:
                first["submit"] = _submit_digest(submit_token)
            self._add_event(conn, job_id, "state", first)
            if cached is not None:
                self._add_event(conn, job_id, "completed", {"state": "succeeded", "cache_hit": True})
            row = conn.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            return _row_to_job(row), True

    def get(self, job_id: str, base_url: str = "") -> Job:
        with self.db.connect() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise StoreError(f"job {job_id} not found", 404)
        return _row_to_job(row, base_url)

    def spec(self, job_id: str) -> JobSpec:
        with self.db.connect() as conn:
            row = conn.execute("SELECT spec_json FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise StoreError(f"job {job_id} not found", 404)
        return JobSpec.model_validate_json(row["spec_json"])

    def list_jobs(
        self, ids: list[str] | None = None, updated_since: float | None = None, limit: int = 500, base_url: str = ""
    ) -> list[Job]:
        sql = "SELECT * FROM jobs WHERE 1=1"
        args: list[Any] = []
        if ids:
            sql += f" AND id IN ({','.join('?' * len(ids))})"
            args.extend(ids)
        if updated_since is not None:
            sql += " AND updated_at>?"
            args.append(updated_since)
        sql += " ORDER BY created_at LIMIT ?"
        args.append(limit)
        with self.db.connect() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [_row_to_job(r, base_url) for r in rows]

    def counts(self) -> dict[str, int]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    # -- claiming and leases ----------------------------------------------------------------

    def claim(
        self, owner: str, lease_s: float, job_id: str | None = None, *, routes: list[str] | None = None
    ) -> Job | None:
        """Take the next queued job (or exactly ``job_id``) for ``owner``; None if nothing to claim.

        The next job is the highest priority, then the oldest, among queued jobs whose retry
        backoff has passed and (with ``routes``) whose route is one of those. A job that is
        already running under a live lease, or finished, is not claimable: this is what turns a
        duplicate Celery delivery into a no-op.
        """
        now = time.time()
        with self.db.connect(immediate=True) as conn:
            if job_id is None:
                sql = "SELECT id FROM jobs WHERE state='queued' AND not_before<=?"
                args: list[Any] = [now]
                if routes is not None:
                    sql += f" AND route IN ({','.join('?' * len(routes))})"
                    args.extend(routes)
                row = conn.execute(sql + " ORDER BY priority DESC, created_at LIMIT 1", args).fetchone()
            else:
                row = conn.execute(
                    "SELECT id FROM jobs WHERE id=? AND state='queued' AND not_before<=?", (job_id, now)
                ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET state='running', attempt=attempt+1, lease_owner=?, lease_until=?, "
                "started_at=?, updated_at=? WHERE id=? AND state='queued'",
                (owner, now + lease_s, now, now, row["id"]),
            )
            job_row = conn.execute("SELECT * FROM jobs WHERE id=?", (row["id"],)).fetchone()
            self._add_event(
                conn, row["id"], "state", {"state": "running", "attempt": job_row["attempt"], "owner": owner}
            )
            job_row = conn.execute("SELECT * FROM jobs WHERE id=?", (row["id"],)).fetchone()
        return _row_to_job(job_row)

    # -- publishing (the outbox) -----------------------------------------------------------

    def due_for_publish(self, *, now: float | None = None, limit: int = 1000) -> list[tuple[str, str]]:
        """(job id, route) of queued jobs to announce now: never published since they were queued,
        or published long enough ago that nobody claimed them (the message may be lost).

        The wait before re-publishing doubles with each publish (``republish_after_s`` × 1, 2, 4 …
        64): a job behind a long queue gets a few harmless duplicates, not one per pass.
        """
        now = time.time() if now is None else now
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT id,route,published_at,publish_count FROM jobs WHERE state='queued' AND not_before<=? "
                "AND (published_at IS NULL OR published_at<?) ORDER BY priority DESC, created_at LIMIT ?",
                (now, now - self.republish_after_s, limit),
            ).fetchall()
        due = []
        for row in rows:
            if row["published_at"] is not None:
                wait = self.republish_after_s * 2 ** min(6, max(0, row["publish_count"] - 1))
                if now - row["published_at"] < wait:
                    continue
            due.append((row["id"], row["route"]))
        return due

    def mark_published(self, job_id: str, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.db.connect() as conn:
            conn.execute(
                "UPDATE jobs SET published_at=?, publish_count=publish_count+1 WHERE id=? AND state='queued'",
                (now, job_id),
            )

    def is_published(self, job_id: str) -> bool:
        with self.db.connect() as conn:
            row = conn.execute("SELECT state,published_at FROM jobs WHERE id=?", (job_id,)).fetchone()
        return row is None or row["state"] != "queued" or row["published_at"] is not None

    def unpublish_all(self) -> int:
        """Forget that queued jobs were announced (the broker restarted empty): publish them again."""
        with self.db.connect() as conn:
            cur = conn.execute(
                "UPDATE jobs SET published_at=NULL, publish_count=0 WHERE state='queued' AND published_at IS NOT NULL"
            )
        return cur.rowcount

    def queue_of(self, route: str) -> list[tuple[str, str, float]]:
        """(id, op, not_before) of the queued jobs of ``route`` in the order workers claim them."""
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT id, op, not_before FROM jobs WHERE state='queued' AND route=? "
                "ORDER BY priority DESC, created_at",
                (route,),
            ).fetchall()
        return [(r["id"], r["op"], float(r["not_before"] or 0.0)) for r in rows]

    def queued_routes(self) -> dict[str, int]:
        with self.db.connect() as conn:
            rows = conn.execute("SELECT route, COUNT(*) FROM jobs WHERE state='queued' GROUP BY route").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def heartbeat(self, job_id: str, attempt: int, lease_s: float) -> tuple[bool, bool]:
        """Extend the lease of (job_id, attempt): returns (still_ours, cancel_requested)."""
        now = time.time()
        with self.db.connect() as conn:
            cur = conn.execute(
                "UPDATE jobs SET lease_until=? WHERE id=? AND attempt=? AND state='running'",
                (now + lease_s, job_id, attempt),
            )
            row = conn.execute("SELECT cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()
        return cur.rowcount == 1, bool(row and row[0])

    def cancel_requested(self, job_id: str) -> bool:
        with self.db.connect() as conn:
            row = conn.execute("SELECT cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()
        return bool(row and row[0])

    def eta_s(self, op: str, elapsed_s: float, fraction: float) -> float | None:
        """Seconds left for a job of ``op`` that ran ``elapsed_s`` and is ``fraction`` done.

        Two measurements: this run's own throughput (elapsed / fraction), trusted more as the
        fraction grows (fully from 30 %), and the op's recent run time (the mean of its last 20
        successful runs in the store), which is all there is at the start.
        """
        rate = elapsed_s * (1.0 - fraction) / fraction if fraction >= 0.02 and elapsed_s > 0 else None
        typical = self.typical_run_s(op)
        history = max(0.0, typical - elapsed_s) if typical is not None else None
        if rate is None and history is None:
            return None
        if rate is None or history is None:
            eta = rate if rate is not None else history
        else:
            weight = min(1.0, fraction / 0.3)
            eta = weight * rate + (1.0 - weight) * history
        return round(float(eta), 1)  # type: ignore[arg-type]

    def typical_run_s(self, op: str) -> float | None:
        """Mean run time of the last 20 successful runs of ``op`` (None before the first); cached
        30 s (2 s while there is none yet), dropped when a job of ``op`` succeeds here."""
        cache = self.__dict__.setdefault("_typical_cache", {})
        hit = cache.get(op)
        if hit is not None and time.monotonic() - hit[0] < (30.0 if hit[1] is not None else 2.0):
            return hit[1]
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT finished_at - started_at FROM jobs WHERE op=? AND state='succeeded' AND cache_hit=0 "
                "AND started_at IS NOT NULL ORDER BY finished_at DESC LIMIT 20",
                (op,),
            ).fetchall()
        value = sum(float(r[0]) for r in rows) / len(rows) if rows else None
        cache[op] = (time.monotonic(), value)
        return value

    def progress(self, job_id: str, attempt: int, progress: Progress) -> bool:
        """Record progress of (job_id, attempt), with ``eta_s`` from measured throughput."""
        if progress.eta_s is None:
            with self.db.connect() as conn:
                row = conn.execute(
                    "SELECT op, started_at FROM jobs WHERE id=? AND attempt=? AND state='running'", (job_id, attempt)
                ).fetchone()
            if row is None:
                return False
            if row["started_at"] is not None:
                eta = self.eta_s(row["op"], time.time() - float(row["started_at"]), progress.fraction)
                progress = progress.model_copy(update={"eta_s": eta})
        with self.db.connect() as conn:
            cur = conn.execute(
                "UPDATE jobs SET progress_json=?, updated_at=? WHERE id=? AND attempt=? AND state='running'",
                (canonical_json(progress.model_dump()), time.time(), job_id, attempt),
            )
            if cur.rowcount == 1:
                self._add_event(conn, job_id, "progress", progress.model_dump())
        return cur.rowcount == 1

    def log(self, job_id: str, attempt: int, message: str) -> None:
        # immediate: a read that then writes must hold the write lock from the start, or SQLite
        # answers "database is locked" at once (no busy wait) when another writer got in between.
        with self.db.connect(immediate=True) as conn:
            row = conn.execute("SELECT attempt,state FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row and row["attempt"] == attempt and row["state"] == "running":
                self._add_event(conn, job_id, "log", {"message": message[:2000]})

    def _finish(
        self,
        job_id: str,
        attempt: int,
        state: JobState,
        *,
        outputs: list[dict[str, Any]] | None = None,
        result: dict[str, Any] | None = None,
        error: JobErrorInfo | None = None,
    ) -> bool:
        now = time.time()
        with self.db.connect(immediate=True) as conn:
            cur = conn.execute(
                "UPDATE jobs SET state=?, finished_at=?, updated_at=?, lease_owner=NULL, lease_until=NULL, "
                "outputs_json=?, result_json=?, error_json=?, progress_json=CASE WHEN ?='succeeded' "
                'THEN \'{"fraction":1.0,"stage":"done"}\' ELSE progress_json END '
                "WHERE id=? AND attempt=? AND state='running'",
                (
                    state.value,
                    now,
                    now,
                    canonical_json(outputs or []),
                    canonical_json(result or {}),
                    canonical_json(error.model_dump()) if error else None,
                    state.value,
                    job_id,
                    attempt,
                ),
            )
            if cur.rowcount != 1:
                return False
            for out in outputs or []:
                self._add_event(conn, job_id, "output", out)
            payload: dict[str, Any] = {"state": state.value, "attempt": attempt}
            if error:
                payload["error"] = error.model_dump()
            self._add_event(conn, job_id, "state", payload)
            self._add_event(conn, job_id, "completed", payload)
        return True

    def succeed(self, job_id: str, attempt: int, outputs: list[dict[str, Any]], result: dict[str, Any]) -> bool:
        """Commit the outputs of attempt ``attempt``; False if the attempt lost its lease (fenced)."""
        done = self._finish(job_id, attempt, JobState.succeeded, outputs=outputs, result=result)
        if done:
            self.__dict__.get("_typical_cache", {}).clear()  # a new run time to average in
        return done

    def fail(self, job_id: str, attempt: int, error: JobErrorInfo, result: dict[str, Any] | None = None) -> bool:
        """Attempt ``attempt`` failed. A retryable error with runs left re-queues the job after a
        backoff (an automatic retry); otherwise the job ends ``failed``, keeping ``result`` (what
        the op found, e.g. a failed quality report). False if fenced off."""
        if error.retryable and self._retry_later(job_id, attempt, error):
            return True
        return self._finish(job_id, attempt, JobState.failed, error=error, result=result)

    def _retry_later(self, job_id: str, attempt: int, error: JobErrorInfo) -> bool:
        now = time.time()
        delay = self.backoff_s(attempt)
        with self.db.connect(immediate=True) as conn:
            cur = conn.execute(
                "UPDATE jobs SET state='queued', lease_owner=NULL, lease_until=NULL, updated_at=?, error_json=?, "
                "not_before=?, published_at=NULL, publish_count=0 "
                "WHERE id=? AND attempt=? AND state='running' AND attempt<max_attempts AND cancel_requested=0",
                (now, canonical_json(error.model_dump()), now + delay, job_id, attempt),
            )
            if cur.rowcount != 1:
                return False
            self._add_event(
                conn,
                job_id,
                "state",
                {
                    "state": "queued",
                    "attempt": attempt,
                    "reason": "retry",
                    "retry_in_s": delay,
                    "error": error.model_dump(),
                },
            )
        return True

    def retry(self, job_id: str, *, force: bool = False) -> Job:
        """Queue a finished job again under the same id (``gpu retry``): a failed or canceled job
        always, a succeeded one only with ``force`` (its outputs are dropped and it runs again,
        bypassing the result cache). The job gets a fresh budget of ``max_attempts`` runs; its
        attempt counter keeps counting so late writes of old attempts stay fenced off.
        """
        now = time.time()
        with self.db.connect(immediate=True) as conn:
            row = conn.execute("SELECT state,attempt FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                raise StoreError(f"job {job_id} not found", 404)
            state = row["state"]
            if state in ("queued", "running"):
                if force and state == "running":
                    raise StoreError(f"job {job_id} is running: cancel it before re-running it", 409)
                return self.get(job_id)
            if state == "succeeded" and not force:
                raise StoreError(f"job {job_id} already succeeded: use --force to run it again", 409)
            conn.execute(
                "UPDATE jobs SET state='queued', max_attempts=?, cancel_requested=0, error_json=NULL, "
                "outputs_json='[]', result_json='{}', cache_hit=0, started_at=NULL, finished_at=NULL, "
                "progress_json='{}', updated_at=?, not_before=?, published_at=NULL, publish_count=0 WHERE id=?",
                (row["attempt"] + self.max_attempts, now, now, job_id),
            )
            self._add_event(conn, job_id, "state", {"state": "queued", "attempt": row["attempt"], "reason": "retry"})
        return self.get(job_id)

    def canceled(self, job_id: str, attempt: int, reason: str = "canceled") -> bool:
        return self._finish(
            job_id, attempt, JobState.canceled, error=JobErrorInfo(code=reason, message=f"job {reason}")
        )

    def request_cancel(self, job_id: str) -> Job:
        """Idempotent cancel: a queued job ends now; a running one is flagged for its runner."""
        now = time.time()
        with self.db.connect(immediate=True) as conn:
            row = conn.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                raise StoreError(f"job {job_id} not found", 404)
            if row["state"] == "queued":
                conn.execute(
                    "UPDATE jobs SET state='canceled', cancel_requested=1, finished_at=?, updated_at=? WHERE id=?",
                    (now, now, job_id),
                )
                payload = {"state": "canceled", "attempt": 0}
                self._add_event(conn, job_id, "state", payload)
                self._add_event(conn, job_id, "completed", payload)
            elif row["state"] == "running":
                conn.execute("UPDATE jobs SET cancel_requested=1, updated_at=? WHERE id=?", (now, job_id))
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        """The client confirmed it has the outputs (or gave up): forget the job.

        A running job is canceled first; its outputs stay as blobs until the GC evicts them.
        """
        with self.db.connect(immediate=True) as conn:
            row = conn.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                raise StoreError(f"job {job_id} not found", 404)
            if row["state"] in ("queued", "running"):
                raise StoreError(f"job {job_id} is {row['state']}: cancel it before deleting", 409)
            conn.execute("DELETE FROM jobs WHERE id=?", (job_id,))
            conn.execute("DELETE FROM events WHERE job_id=?", (job_id,))
            conn.execute("DELETE FROM webhooks WHERE job_id=?", (job_id,))

    # -- recovery ---------------------------------------------------------------------------

    def reap(self, *, now: float | None = None, owner: str | None = None) -> list[str]:
        """Re-queue running jobs whose lease expired (or, with ``owner``, all of that owner's).

        Each re-queue counts as a lost attempt; past ``max_attempts`` the job fails with
        ``worker_lost``. Returns the ids put back on the queue.
        """
        now = time.time() if now is None else now
        requeued: list[str] = []
        with self.db.connect(immediate=True) as conn:
            if owner is None:
                rows = conn.execute(
                    "SELECT id,attempt,max_attempts,cancel_requested FROM jobs WHERE state='running' AND lease_until<?",
                    (now,),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT id,attempt,max_attempts,cancel_requested FROM jobs WHERE state='running' AND lease_owner=?",
                    (owner,),
                ).fetchall()
            for row in rows:
                if row["cancel_requested"]:
                    state, err = "canceled", {"code": "canceled", "message": "job canceled", "retryable": False}
                elif row["attempt"] >= row["max_attempts"]:
                    state = "failed"
                    err = {
                        "code": "worker_lost",
                        "message": f"the worker was lost {row['attempt']} times running this job",
                        "retryable": True,
                    }
                else:
                    state, err = "queued", None
                conn.execute(
                    "UPDATE jobs SET state=?, lease_owner=NULL, lease_until=NULL, updated_at=?, error_json=?, "
                    "finished_at=CASE WHEN ?='queued' THEN NULL ELSE ? END, published_at=NULL, publish_count=0, "
                    "not_before=? WHERE id=?",
                    (state, now, canonical_json(err) if err else None, state, now, min(now, time.time()), row["id"]),
                )
                payload = {"state": state, "attempt": row["attempt"], "reason": "worker_lost"}
                self._add_event(conn, row["id"], "state", payload)
                if state == "queued":
                    requeued.append(row["id"])
                else:
                    self._add_event(conn, row["id"], "completed", payload)
        return requeued

    def expire(self, *, now: float | None = None) -> list[str]:
        """Delete finished jobs whose ``ttl_s`` passed since they finished; returns their ids."""
        now = time.time() if now is None else now
        with self.db.connect(immediate=True) as conn:
            rows = conn.execute(
                "SELECT id FROM jobs WHERE state IN ('succeeded','failed','canceled') AND finished_at+ttl_s<?", (now,)
            ).fetchall()
            for row in rows:
                conn.execute("DELETE FROM jobs WHERE id=?", (row["id"],))
                conn.execute("DELETE FROM events WHERE job_id=?", (row["id"],))
                conn.execute("DELETE FROM webhooks WHERE job_id=?", (row["id"],))
        return [r["id"] for r in rows]

    def running_on(self, owners: list[str]) -> list[Job]:
        """Jobs running now under a lease held by one of ``owners`` (worker names)."""
        if not owners:
            return []
        with self.db.connect() as conn:
            rows = conn.execute(
                f"SELECT * FROM jobs WHERE state='running' AND lease_owner IN ({','.join('?' * len(owners))})",
                owners,
            ).fetchall()
        return [_row_to_job(r) for r in rows]

    def running_attempts(self) -> dict[str, int]:
        """Job id → attempt of every running job (whose work folder is in use)."""
        with self.db.connect() as conn:
            rows = conn.execute("SELECT id,attempt FROM jobs WHERE state='running'").fetchall()
        return {r["id"]: int(r["attempt"]) for r in rows}

    def pinned_blobs(self) -> set[str]:
        """Blobs that must not be evicted: inputs of live jobs and outputs of kept jobs."""
        pinned: set[str] = set()
        with self.db.connect() as conn:
            for row in conn.execute("SELECT spec_json,outputs_json,state FROM jobs"):
                if row["state"] in ("queued", "running"):
                    pinned.update(ref["sha256"] for ref in json.loads(row["spec_json"])["inputs"].values())
                pinned.update(out["sha256"] for out in json.loads(row["outputs_json"]))
        return pinned
