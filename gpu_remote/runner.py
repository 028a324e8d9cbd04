"""Runs claimed jobs: inputs from the blob store, a lease kept alive by heartbeats, progress
events, prompt cancellation and timeouts, outputs published to the blob store before the
state is committed (fenced by attempt, so a run that lost its lease cannot overwrite anything).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from gpu_remote.blob_s3 import BlobStoreUnavailable
from gpu_remote.blobs import BlobError, BlobStore
from gpu_remote.errors import Canceled, DatabaseUnavailable, OpError
from gpu_remote.models import Job, JobErrorInfo, Progress
from gpu_remote.ops import OPS, OpContext
from gpu_remote.ops.base import kill_recorded_groups
from gpu_remote.quality import assess_processed
from gpu_remote.store import JobStore

log = logging.getLogger("montage_bridge.gpu_remote.runner")


@dataclass
class RunnerSettings:
    lease_s: float = 30.0  # seconds a claim stays valid without a heartbeat
    heartbeat_s: float = 5.0  # seconds between heartbeats (also how often cancel is noticed)
    slots: int = 1  # concurrent jobs (one per GPU; more for CPU ops)


def make_owner(tag: str = "") -> str:
    """A lease owner id unique to this process: host:pid[:tag]."""
    return f"{socket.gethostname()}:{os.getpid()}" + (f":{tag}" if tag else "")


class Runner:
    """Executes jobs from ``store``. ``start()`` runs ``slots`` claim loops in threads."""

    def __init__(
        self, store: JobStore, blobs: BlobStore, work_root: Path, settings: RunnerSettings, owner: str
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.work_root = work_root
        self.settings = settings
        self.owner = owner
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, int] = {}  # job id → attempt, for the worker registry
        self._running_lock = threading.Lock()
        work_root.mkdir(parents=True, exist_ok=True)

    def running_jobs(self) -> list[str]:
        with self._running_lock:
            return sorted(self._running)

    # -- loop -------------------------------------------------------------------------------

    def start(self) -> None:
        for index in range(self.settings.slots):
            thread = threading.Thread(target=self._loop, name=f"gpu-runner-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def wake(self) -> None:
        """A job was queued: stop waiting for the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        outage = 0.0
        while not self._stop.is_set():
            # Clear before claiming so a wake() that races with an empty claim is not lost.
            self._wake.clear()
            try:
                job = self.store.claim(self.owner, self.settings.lease_s)
                if job is not None:
                    self.run_claimed(job)
                outage = 0.0
            except DatabaseUnavailable as exc:  # wait for the database; the runner thread lives on
                if not outage:
                    log.warning("%s: waiting for it", exc)
                outage = min(5.0, max(0.5, outage * 2))
                self._stop.wait(outage)
                continue
            except Exception:  # noqa: BLE001 - a runner thread must outlive any one failure
                log.exception("runner pass failed")
                self._stop.wait(1.0)
                continue
            if job is None:
                self._wake.wait(0.5)

    def _until_stored(self, write, what: str):  # type: ignore[no-untyped-def]
        """Run ``write`` (a fenced store write) until the database takes it: a run's end must not be
        lost to a database restart. A write that lands after the lease expired is fenced off."""
        wait = 0.5
        while True:
            try:
                return write()
            except DatabaseUnavailable as exc:
                if self._stop.is_set():
                    raise
                log.warning("%s: %s; trying again in %.1f s", what, exc, wait)
                self._stop.wait(wait)
                wait = min(5.0, wait * 2)

    # -- one job ----------------------------------------------------------------------------

    def run_claimed(self, job: Job) -> None:
        """Run a job this process has claimed (state running, ``job.attempt`` ours) to its end."""
        attempt = job.attempt
        cancel = threading.Event()
        reason = ["canceled"]
        spec = self.store.spec(job.id)
        work_dir = self.work_root / f"{job.id}.{attempt}"
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir.mkdir(parents=True)
        last_report = [0.0]

        def report(fraction: float, stage: str) -> None:
            now = time.monotonic()
            # At most 2 progress events per second, but always the final one.
            if fraction < 1.0 and now - last_report[0] < 0.5:
                return
            last_report[0] = now
            try:
                self.store.progress(job.id, attempt, Progress(fraction=max(0.0, min(1.0, fraction)), stage=stage))
            except DatabaseUnavailable:
                pass  # progress is advisory: the next report (or the end) carries it

        started = time.monotonic()
        done = threading.Event()

        def watch() -> None:
            # Cancel must be noticed within ~0.2 s (a cheap read); the lease is renewed every heartbeat_s.
            last_beat = time.monotonic()
            while not done.wait(0.2):
                now = time.monotonic()
                try:
                    if now - last_beat >= self.settings.heartbeat_s:
                        ours, cancel_requested = self.store.heartbeat(job.id, attempt, self.settings.lease_s)
                        last_beat = now
                        if not ours:
                            reason[0] = "lease_lost"
                            cancel.set()
                    else:
                        cancel_requested = self.store.cancel_requested(job.id)
                except DatabaseUnavailable:
                    # The job runs on; if the outage outlasts the lease, the reaper re-queues it
                    # and the first heartbeat after the database returns finds the lease lost.
                    cancel_requested = False
                except Exception:  # noqa: BLE001 - e.g. SQLite "database is locked" after its busy wait
                    # A dead watcher would stop heartbeats, cancel and the timeout while the job runs on,
                    # and the reaper would then start a second run beside it: log, try again next tick.
                    log.warning("job %s attempt %d: lease check failed; retrying", job.id, attempt, exc_info=True)
                    cancel_requested = False
                if cancel_requested:
                    cancel.set()
                if now - started > spec.timeout_s:
                    reason[0] = "timeout"
                    cancel.set()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        with self._running_lock:
            self._running[job.id] = attempt
        try:
            self._execute(job, spec.params, work_dir, attempt, report, cancel, reason)
        finally:
            done.set()
            with self._running_lock:
                self._running.pop(job.id, None)
            watcher.join(5)
            kill_recorded_groups(work_dir)  # anything an op left running dies with the attempt
            shutil.rmtree(work_dir, ignore_errors=True)

    def _execute(self, job, params, work_dir, attempt, report, cancel, reason) -> None:  # type: ignore[no-untyped-def]
        op = OPS.get(job.op)
        try:
            if op is None:
                raise OpError(f"op {job.op} is not available on this worker", code="invalid_params")
            try:
                parsed = op.params.model_validate(params)
            except ValidationError as exc:
                raise OpError(f"invalid params for {op.name}: {exc.errors()[0]['msg']}", code="invalid_params") from exc
            spec = self.store.spec(job.id)
            inputs: dict[str, Path] = {}
            for name, ref in spec.inputs.items():
                inputs[name] = self._fetch_input(name, ref.sha256, cancel, reason)
                self.blobs.touch(ref.sha256)
            ctx = OpContext(
                job_id=job.id,
                attempt=attempt,
                inputs=inputs,
                work_dir=work_dir,
                report=report,
                cancel_event=cancel,
                log=lambda msg: self._log(job.id, attempt, msg),
                cancel_reason=reason,
            )
            ctx.check_cancel()
            result = op.run(ctx, parsed)
            ctx.check_cancel()
            if op.quality_source and "video" in result.outputs:
                quality = assess_processed(result.outputs["video"], inputs[op.quality_source])
                result.result = {**result.result, "quality": quality}
                if not quality["ok"]:
                    raise OpError(
                        "the processed clip failed the quality gate: " + "; ".join(quality["problems"]),
                        code="quality_failed",
                        result=result.result,
                    )
            outputs = []
            for name, path in result.outputs.items():
                sha, size = self._until_stored(lambda p=path: self._add_output(p), f"job {job.id} output {name}")
                outputs.append(
                    {
                        "name": name,
                        "sha256": sha,
                        "size": size,
                        "mime": result.mimes.get(name, "application/octet-stream"),
                    }
                )
            stored = self._until_stored(
                lambda: self.store.succeed(job.id, attempt, outputs, result.result), f"job {job.id} result"
            )
            if not stored:
                log.warning("job %s attempt %d finished after losing its lease; result discarded", job.id, attempt)
        except Canceled as exc:
            if exc.reason == "timeout":
                timeout = JobErrorInfo(code="timeout", message="job ran past its timeout_s")
                self._until_stored(lambda: self.store.fail(job.id, attempt, timeout), f"job {job.id} timeout")
            elif exc.reason != "lease_lost":
                self._until_stored(lambda: self.store.canceled(job.id, attempt), f"job {job.id} cancel")
        except OpError as exc:
            error = JobErrorInfo(code=exc.code, message=str(exc), retryable=exc.retryable)
            found = exc.result
            self._until_stored(lambda: self.store.fail(job.id, attempt, error, result=found), f"job {job.id}")
        except DatabaseUnavailable:
            raise  # before the op ran (reading its spec or inputs): the lease expires, the job is re-queued
        except Exception as exc:  # an op bug must fail the job, not kill the runner thread
            log.error("job %s crashed:\n%s", job.id, traceback.format_exc())
            crash = JobErrorInfo(code="internal", message=f"{exc.__class__.__name__}: {exc}"[:500], retryable=False)
            self._until_stored(lambda: self.store.fail(job.id, attempt, crash), f"job {job.id}")

    def _fetch_input(self, name: str, sha256: str, cancel: threading.Event, reason: list[str]) -> Path:
        """An input as a local file; with a shared blob store (S3) fetched into this machine's cache.
        While the store is unreachable the run waits (its lease kept by heartbeats), honouring
        cancel and timeout; a blob that is gone or corrupt fails the job with a reason."""
        wait = 0.5
        while True:
            try:
                return self.blobs.fetch(sha256)
            except BlobStoreUnavailable as exc:
                log.warning("input %s (%s): %s; trying again in %.1f s", name, sha256[:12], exc, wait)
                if cancel.wait(wait):
                    raise Canceled(reason[0]) from exc
                wait = min(5.0, wait * 2)
            except BlobError as exc:
                if exc.status == 404:
                    message = f"input {name} ({sha256[:12]}) vanished from the worker"
                    raise OpError(message, code="missing_input") from exc
                code = "corrupt_input" if exc.status == 502 else "input_unavailable"
                raise OpError(f"input {name}: {exc}", code=code, retryable=exc.status == 507) from exc

    def _log(self, job_id: str, attempt: int, message: str) -> None:
        try:
            self.store.log(job_id, attempt, message)
        except DatabaseUnavailable:
            pass  # a log line is not worth stopping a job for

    def _add_output(self, path: Path) -> tuple[str, int]:
        """Import an output file as a blob. A hard link keeps its bytes reachable if the blob
        store moved the file but could not record it (database gone): the retry imports the link."""
        keep = path.with_name(path.name + ".keep")
        if path.exists() and not keep.exists():
            try:
                os.link(path, keep)
            except OSError:
                pass  # another filesystem: no safety link (a retry after a lost move then fails)
        if path.exists():
            added = self.blobs.add_file(path)
        else:  # a previous try moved it into the store and its record did not commit
            added = self.blobs.add_file(keep, move=False)
        keep.unlink(missing_ok=True)
        return added


def reap_work_dirs(store: JobStore, work_root: Path) -> list[str]:
    """Remove attempt folders (``JOB.ATTEMPT``) whose attempt is not running any more, after killing
    the process groups they recorded on this host: what a killed worker leaves behind."""
    removed: list[str] = []
    if not work_root.is_dir():
        return removed
    # List first, then read which attempts run: a folder listed was made after its claim was
    # committed, so a claim racing with this pass is always seen as running.
    entries = list(work_root.iterdir())
    live = store.running_attempts()
    for entry in entries:
        job_id, _, attempt = entry.name.rpartition(".")
        if not entry.is_dir() or (attempt.isdigit() and live.get(job_id) == int(attempt)):
            continue
        kill_recorded_groups(entry)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed
