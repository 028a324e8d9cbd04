"""The watch loop: watchdog events + periodic rescans → arrived files → jobs → a bounded worker pool.

One thread (the caller's) owns the scan, the arrival state and the dispatch; each running job has
its own worker thread and its own journal connection. At most ``workers`` jobs are in memory at
once: the rest wait as rows in the journal, so a burst of hundreds of files keeps memory flat.

Restart after any stop (kill -9 included): jobs the journal shows mid-run are re-run, unless their
output folder already carries their fingerprint (the kill fell between the rename and the journal
commit), in which case they are recorded as written; files whose size+mtime match the journal
count as arrived at once, so finished jobs are recognised without waiting or re-hashing.

Resolve: a written job whose Resolve step is ``pending`` (Resolve was unreachable, or the daemon
stopped before trying) is built in Resolve again at start; one that ``watch retry`` marked
``retry`` is picked up at start or at the next full rescan. These Resolve-only runs take a worker
slot like a job and read only the job's outbox folder.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from analysis.engine import reap_orphaned_workers
from analysis.footage import Skipped, skipped_summary
from kernel.errors import MontageError
from kernel.media import MediaItem
from kernel.probe import probe_media
from montage_bridge.watch.arrival import ArrivalTracker, content_fingerprint, scan_jobs
from montage_bridge.watch.config import WatchConfig
from montage_bridge.watch.journal import RUNNING_STATES, FileRow, JobRow, Journal, JournalError
from montage_bridge.watch.lock import OutboxLock
from montage_bridge.watch.runner import (
    JobFile,
    JobOutcome,
    JobSpec,
    read_report_fingerprint,
    read_report_resolve,
    recover_outbox,
    resolve_written_job,
    run_job,
    user_reason,
    write_error,
)
from montage_bridge.watch.space import disk_full_reason, free_bytes, is_disk_full

JOURNAL_NAME = ".montage-watch.sqlite"


class WatchError(MontageError):
    """The daemon cannot start: a bad inbox/outbox layout."""


def journal_path_for(outbox: Path, config: WatchConfig) -> Path:
    return config.journal or (outbox / JOURNAL_NAME)


@dataclass
class Summary:
    written: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class _Events(FileSystemEventHandler):
    """Turns any filesystem event under the inbox into 'job X is dirty' (via ``mark``)."""

    def __init__(self, inbox: Path, mark: Callable[[str], None]) -> None:
        self._inbox, self._mark = inbox, mark

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads (ours included, while analysing) change nothing
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            path = Path(raw.decode() if isinstance(raw, bytes) else raw)
            try:
                rel = path.relative_to(self._inbox)
            except ValueError:
                continue
            if rel.parts:
                self._mark(rel.parts[0])


class WatchDaemon:
    """Watch ``inbox``; write each job's outputs to ``outbox/<job>/``. ``once``: drain and return."""

    def __init__(
        self,
        inbox: Path,
        outbox: Path,
        config: WatchConfig,
        *,
        once: bool = False,
        log: Callable[[str], None] = print,
    ) -> None:
        self.inbox = inbox.resolve()
        self.outbox = outbox.resolve()
        self.config = config
        self.once = once
        self.log = log
        self._check_layout()
        # One daemon per outbox (a second one exits 2 naming the first); released when run() ends.
        self._outbox_lock = OutboxLock(self.outbox)
        try:
            self.journal_path = journal_path_for(self.outbox, config)
            self.journal = Journal(self.journal_path)
            self.journal.check()  # a damaged journal is named at start, with the command that repairs it
        except BaseException:
            self._outbox_lock.release()
            raise
        self.tracker = ArrivalTracker(config.quiet_seconds, config.probe_retry_seconds, probe=self._probe_guarded)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._stats: dict[str, dict[str, tuple[int, int]]] = {}  # job → rel → (size, mtime_ns)
        self._changed_at: dict[str, float] = {}  # job → monotonic time of its last change
        self._skipped_notes: dict[str, Optional[str]] = {}  # job → the warning line on what is not footage
        self._unsettled: set[str] = set()  # jobs to evaluate again
        self._queue: list[str] = []
        self._pending_specs: dict[str, JobSpec] = {}
        self._resolve_queue: list[str] = []  # written jobs whose Resolve step is to run again
        self._inbox_unreadable = False
        self._stop_signal = ""
        self._running: dict[str, threading.Thread] = {}
        self._done: list[JobOutcome] = []
        # A full disk: new work waits, jobs it stopped wait in _paused, the free space is looked at every
        # disk_retry_seconds; when it is back they run again (with --once they count as failed instead).
        self._disk_full: Optional[str] = None
        self._paused: set[str] = set()
        self._free_at_pause = 0
        self._next_space_check = 0.0
        self.summary = Summary()
        self.on_outcome: Optional[Callable[[JobOutcome], None]] = None  # e.g. watch/metrics.py counts each run

    # layout and recovery ----------------------------------------------------------------------

    def _check_layout(self) -> None:
        if not self.inbox.is_dir():
            raise WatchError(f"{self.inbox}: inbox folder does not exist — create it or pass another")
        if self.outbox == self.inbox or self.inbox in self.outbox.parents or self.outbox in self.inbox.parents:
            raise WatchError(
                f"--out {self.outbox} and the inbox {self.inbox} overlap — outputs would be read as new footage; "
                "use separate folders"
            )
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            probe = self.outbox / f".mb-write-test-{time.monotonic_ns()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise WatchError(f"{self.outbox}: output folder is not writable ({exc.strerror or exc})") from exc

    def _queue_resolve_retries(self, states: tuple[str, ...]) -> None:
        """Queue the Resolve step of written jobs in ``states`` (not ones already queued or running)."""
        for job in self.journal.resolve_due(states):
            if job.name in self._resolve_queue or job.name in self._running or job.name in self._queue:
                continue
            self._resolve_queue.append(job.name)
            self.log(f"{job.name}: Resolve step to run again ({job.resolve_error or job.resolve_state})")

    def _recover(self) -> None:
        # Analysis workers of a run killed before they noticed (they die with their parent now, but
        # a run of an older version, or one whose watchdog never got the CPU, may have left some).
        ended = reap_orphaned_workers()
        if ended:
            pids = ", ".join(str(p) for p in ended)
            self.log(f"recovery: ended {len(ended)} analysis worker(s) left by a killed run (pid {pids})")
        for line in recover_outbox(self.outbox):
            self.log(f"recovery: {line}")
        for job in self.journal.interrupted_jobs():
            if job.fingerprint and read_report_fingerprint(self.outbox / job.name) == job.fingerprint:
                # Killed after the output was renamed into place but before the journal said so.
                self._record_published(job)
                self.log(f"recovery: {job.name} was written before the stop; recorded it")
            else:
                self.journal.mark_seen(job.name)
                self.log(f"recovery: {job.name} was interrupted; it will run again")

    def _record_published(self, job: JobRow) -> None:
        """Record as written the output in place for ``job``'s fingerprint (report.json says which)."""
        assert job.fingerprint is not None
        resolve = read_report_resolve(self.outbox / job.name)
        self.journal.finish_written(
            job.name,
            job.fingerprint,
            str(self.outbox / job.name),
            analysis_seconds=job.analysis_seconds,
            total_seconds=job.total_seconds or 0.0,
            resolve_state=resolve.state if resolve else None,
            resolve_error=resolve.summary() if resolve and resolve.state != "built" else None,
        )

    # main loop --------------------------------------------------------------------------------

    def _mark_dirty(self, job: str) -> None:
        """Called from the watchdog thread: scan ``job`` at the next tick, and wake the loop now."""
        with self._lock:
            self._dirty.add(job)
        self._wake.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> Summary:
        """Run until stopped (or, with ``once``, until everything present is done)."""
        self._recover()
        restore = self._install_signal_handlers()
        observer = None
        if not self.once and self.config.events:
            observer = Observer()
            observer.schedule(_Events(self.inbox, self._mark_dirty), str(self.inbox), recursive=True)
            observer.daemon = True
            observer.start()
        how = "events + rescan" if observer else "polling"
        self.log(
            f"watching {self.inbox} → {self.outbox} ({how} every {self.config.rescan_seconds:g} s, "
            f"quiet {self.config.quiet_seconds:g} s, {self.config.workers} worker(s), journal {self.journal_path})"
        )
        next_full = 0.0
        try:
            while not self._stop.is_set():
                # Cleared before the work, so a wake-up that arrives during it is not lost.
                self._wake.clear()
                if self._disk_full is not None:
                    if not self._wait_for_space():
                        continue
                    next_full = time.monotonic()  # look at everything again (not 0.0: that means start-up)
                try:
                    next_full = self._tick(next_full)
                except JournalError as exc:
                    if not is_disk_full(exc):
                        raise
                    if self.once:
                        reason = disk_full_reason(self.journal_path.parent, exc)
                        raise JournalError(f"{reason} (cannot update the watch journal)") from exc
                    self._enter_disk_full(disk_full_reason(self.journal_path.parent, exc))
                    continue
                if self.once and not (
                    (self._unsettled - self._paused) or self._queue or self._running or self._resolve_queue
                ):
                    break
                busy = self._unsettled or self._queue or self._running or self._resolve_queue
                timeout = min(0.1, self.config.quiet_seconds / 4) if busy else min(1.0, next_full - time.monotonic())
                self._wake.wait(max(0.01, timeout))
            if self._stop_signal:
                self.log(f"{self._stop_signal}: stopping after the running job(s)")
        finally:
            if observer is not None:
                observer.stop()
            self._shutdown()
            restore()
            self._outbox_lock.release()
        return self.summary

    def _tick(self, next_full: float) -> float:
        """One pass: scan, reap, evaluate, dispatch. Returns when the next full rescan is due."""
        now = time.monotonic()
        if now >= next_full:
            self._scan(None)
            # At start: what Resolve missed before; later: what `watch retry` asked for.
            self._queue_resolve_retries(("pending", "retry") if next_full == 0.0 else ("retry",))
            next_full = now + self.config.rescan_seconds
        else:
            with self._lock:
                dirty, self._dirty = self._dirty, set()
            # Jobs still arriving are re-read every tick too: the quiet period must see each
            # change even where no event comes (network shares, some copy tools).
            targets = dirty | (self._unsettled - set(self._running))
            if targets:
                self._scan(targets)
        self._reap()
        self._evaluate()
        self._dispatch()
        return next_full

    # a full disk ------------------------------------------------------------------------------

    def _enter_disk_full(self, reason: str) -> None:
        if self._disk_full is None:
            self._free_at_pause = free_bytes(self.outbox)
            self.log(
                f"disk full: {reason}; new jobs wait and stopped ones run again once space is freed "
                f"(looking every {self.config.disk_retry_seconds:g} s)"
            )
        self._disk_full = reason
        self._next_space_check = time.monotonic() + self.config.disk_retry_seconds

    def _wait_for_space(self) -> bool:
        """While the disk is full: reap finished jobs, look for space now and then. True once it is back."""
        self._reap()
        if self._disk_full is None:
            return True
        wait = self._next_space_check - time.monotonic()
        if wait > 0:
            self._wake.wait(min(wait, 1.0))
            return False
        self._next_space_check = time.monotonic() + self.config.disk_retry_seconds
        free = free_bytes(self.outbox)
        # Enough to be worth a try: a job's outputs are small, but the same few bytes would only fill up again.
        if free < min(self._free_at_pause + (4 << 20), 256 << 20):
            return False
        try:
            for job in sorted(self._paused):
                self.journal.pause_job(job, f"paused: {self._disk_full}")
        except JournalError as exc:
            if is_disk_full(exc):
                return False
            raise
        count = len(self._paused)
        self._unsettled |= self._paused
        self._paused.clear()
        self._disk_full = None
        self.log(f"disk space is back ({free >> 20} MiB free): resuming" + (f" {count} paused job(s)" if count else ""))
        return True

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, _frame: object) -> None:
            if self._stop.is_set():
                # A second signal: stop now; running jobs show as interrupted and re-run at the next start.
                raise KeyboardInterrupt
            # Only flags here: the loop logs and stops (printing inside a signal handler can deadlock).
            self._stop_signal = signal.Signals(signum).name
            self.request_stop()

        for sig in previous:
            signal.signal(sig, handler)

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore

    def _shutdown(self) -> None:
        deadline = time.monotonic() + self.config.shutdown_grace_seconds
        for thread in list(self._running.values()):
            thread.join(max(0.0, deadline - time.monotonic()))
        self._reap()
        if self._running:
            # Their threads are daemonic; the journal still says 'analyzing', so the next start re-runs them.
            self.log(f"stopped with {len(self._running)} job(s) unfinished; they resume at the next start")
        self.log("stopped")

    # scanning and arrival ---------------------------------------------------------------------

    def _scan(self, only: Optional[set[str]]) -> None:
        try:
            skipped: dict[str, list[Skipped]] = {}
            found = scan_jobs(self.inbox, self.config.ignore, only, skipped)
        except OSError as exc:
            if not self._inbox_unreadable:
                self.log(f"inbox {self.inbox} cannot be read ({exc.strerror or exc}); waiting for it to come back")
            self._inbox_unreadable = True
            return
        if self._inbox_unreadable:
            self.log(f"inbox {self.inbox} is readable again")
            self._inbox_unreadable = False
        if only is None:
            for gone in set(self._stats) - set(found):
                found[gone] = {}
        for job, items in skipped.items():
            # One warning line per job, logged when what is set aside there changes (not every scan).
            note = skipped_summary(items, self.inbox / job)
            if note != self._skipped_notes.get(job):
                self._skipped_notes[job] = note
                if note:
                    self.log(f"{job}: warning — {note}")
        now = time.monotonic()
        for job, files in found.items():
            before = self._stats.get(job, {})
            after = {rel: (st.st_size, st.st_mtime_ns) for rel, st in files.items()}
            if after == before:
                continue
            known = {row.path: row for row in self.journal.files(job)} if job not in self._stats else {}
            fresh_change = False
            for rel, st in files.items():
                if before.get(rel) == after[rel]:
                    continue
                row = known.get(rel)
                if row and (row.size, row.mtime_ns) == after[rel] and _crashed_a_probe(row):
                    # The last run died probing this exact file: probing it again would crash again.
                    self.tracker.condemn(rel, st, f"{self.inbox / rel}: {PROBE_CRASHED}")
                    fresh_change = True
                    continue
                if row and (row.size, row.mtime_ns) == after[rel] and row.fingerprint and not row.error:
                    self.tracker.settle(rel, st)  # unchanged since a previous run: arrived already
                    continue
                self.tracker.observe(rel, st)
                fresh_change = True
                self.journal.put_file(
                    FileRow(
                        path=rel, job=job, size=st.st_size, mtime_ns=st.st_mtime_ns, state="seen", updated=time.time()
                    )
                )
            removed = [rel for rel in before if rel not in after]
            for rel in removed:
                self.tracker.forget(rel)
            if removed:
                self.journal.forget_files(removed)
            # Files the journal lists for this job but that are gone since the last run.
            stale = [rel for rel in known if rel not in after]
            if stale:
                self.journal.forget_files(stale)
            if fresh_change or removed or stale:
                self._changed_at[job] = now
            self._stats[job] = after
            if not after:
                self._stats.pop(job, None)
                continue
            self._unsettled.add(job)

    def _evaluate(self) -> None:
        """Queue each quiet, complete job whose content has not been written (or failed) already."""
        now = time.monotonic()
        for job in sorted(self._unsettled):
            if job in self._running or job in self._queue or job in self._resolve_queue or job in self._paused:
                continue
            try:
                self._evaluate_job(job, now)
            except JournalError:
                self._unsettled.add(job)  # looked at again once the journal can be written
                raise

    def _evaluate_job(self, job: str, now: float) -> None:
        files = self._stats.get(job)
        if not files:
            self._unsettled.discard(job)
            return
        if now - self._changed_at.get(job, 0.0) < self.config.quiet_seconds:
            return
        ready: list[JobFile] = []
        damaged: list[tuple[str, str]] = []
        waiting = False
        for rel in sorted(files):
            status, media, error = self.tracker.status(rel, self.inbox / rel)
            if status == "waiting":
                waiting = True
                continue
            if status == "damaged":
                damaged.append((rel, error or f"{self.inbox / rel}: cannot be read"))
                self._record_file(job, rel, None, None, error)
                continue
            entry = self._arrived_file(job, rel, media)
            if entry is None:  # vanished or changed while being fingerprinted
                waiting = True
                continue
            ready.append(entry)
        if waiting:
            return
        self._unsettled.discard(job)
        settings = self.config.settings_for(job)
        fingerprint = _job_fingerprint(settings.model_dump_json(), ready, damaged, files)
        row = self.journal.ensure_job(job)
        if fingerprint == row.done_fingerprint:
            # Same content as last written (a re-copy or touch): nothing to do; files follow the job.
            self.journal.set_state(job, "written")
            return
        if fingerprint == row.failed_fingerprint:
            self.journal.set_state(job, "failed")
            return
        if damaged:
            rel, reason = damaged[0]
            more = f" (and {len(damaged) - 1} more damaged file(s))" if len(damaged) > 1 else ""
            message = " ".join(f"{reason}{more}".split())
            write_error(self.outbox / job, job, message)
            self.journal.finish_failed(job, fingerprint, message)
            self.summary.failed.append(job)
            self.log(f"{job}: failed — {message}")
            self._tell(JobOutcome(job, "failed", error=message))
            return
        if (
            row.state in RUNNING_STATES
            and row.fingerprint == fingerprint
            and read_report_fingerprint(self.outbox / job) == fingerprint
        ):
            # Put in place by a run whose journal update failed (a full disk): record it, do not redo it.
            self._record_published(row)
            self.log(f"{job}: recorded the output written before the journal could say so")
            return
        if row.fingerprint == fingerprint and row.attempts >= self.config.max_attempts:
            message = (
                f"job was started {row.attempts} times without finishing (the daemon was stopped or crashed "
                "during it each time) — check the log, then `montage-bridge watch retry` it"
            )
            write_error(self.outbox / job, job, message)
            self.journal.finish_failed(job, fingerprint, message)
            self.summary.failed.append(job)
            self.log(f"{job}: failed — {message}")
            self._tell(JobOutcome(job, "failed", error=message))
            return
        if row.state != "seen":
            self.journal.mark_seen(job)
        self._queue.append(job)
        self._pending_specs[job] = JobSpec(
            name=job,
            folder=self.inbox / job,
            files=ready,
            fingerprint=fingerprint,
            settings=settings,
            skipped_note=self._skipped_notes.get(job),
        )

    def _arrived_file(self, job: str, rel: str, media: object) -> Optional[JobFile]:
        full = self.inbox / rel
        try:
            st = full.stat()
        except OSError:
            return None
        if self._stats.get(job, {}).get(rel) != (st.st_size, st.st_mtime_ns):
            return None
        row = self.journal.file(rel)
        if row and (row.size, row.mtime_ns) == (st.st_size, st.st_mtime_ns) and row.fingerprint and row.kind:
            return JobFile(rel=rel, path=full, kind=row.kind, fingerprint=row.fingerprint)
        if media is None:  # journal lost the row between runs: probe again the slow way
            try:
                media = self._probe_guarded(full)
            except MontageError:
                return None
        kind = "video" if getattr(media, "has_video", False) else "audio"
        try:
            fingerprint = content_fingerprint(full)
        except OSError:
            return None
        self._record_file(job, rel, fingerprint, kind, None, st=(st.st_size, st.st_mtime_ns))
        return JobFile(rel=rel, path=full, kind=kind, fingerprint=fingerprint)

    def _probe_guarded(self, full: Path) -> MediaItem:
        """Probe in this process with the file marked ``probing`` in the journal meanwhile: if a
        decoder bug kills the daemon, the next start sees the mark and fails the file instead of
        probing it again (a restart loop under systemd or launchd otherwise)."""
        rel = full.relative_to(self.inbox).as_posix()
        self.journal.set_file_state(rel, "probing")
        try:
            return probe_media(full)
        finally:
            self.journal.set_file_state(rel, "seen")

    def _record_file(
        self,
        job: str,
        rel: str,
        fingerprint: Optional[str],
        kind: Optional[str],
        error: Optional[str],
        st: Optional[tuple[int, int]] = None,
    ) -> None:
        size, mtime_ns = st or self._stats.get(job, {}).get(rel, (0, 0))
        self.journal.put_file(
            FileRow(
                path=rel,
                job=job,
                size=size,
                mtime_ns=mtime_ns,
                fingerprint=fingerprint,
                kind=kind,
                state="failed" if error else "seen",
                error=error,
                updated=time.time(),
            )
        )

    # workers ----------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        if self._disk_full is not None and not self.once:
            return  # new work would only fill the disk again
        while self._queue and len(self._running) < self.config.workers and not self._stop.is_set():
            job = self._queue[0]
            spec = self._pending_specs[job]
            attempt = self.journal.start_job(job, spec.fingerprint)  # on a JournalError the job stays queued
            self._queue.pop(0)
            del self._pending_specs[job]
            self.log(f"{job}: analyzing {len(spec.files)} file(s)" + (f" (attempt {attempt})" if attempt > 1 else ""))
            thread = threading.Thread(target=self._work, args=(spec,), name=f"watch-{job}", daemon=True)
            self._running[job] = thread
            thread.start()
        while self._resolve_queue and len(self._running) < self.config.workers and not self._stop.is_set():
            job = self._resolve_queue.pop(0)
            thread = threading.Thread(target=self._work_resolve, args=(job,), name=f"resolve-{job}", daemon=True)
            self._running[job] = thread
            thread.start()

    def _work(self, spec: JobSpec) -> None:
        # Whatever happens here, an outcome reaches the loop: a job thread that died silently would
        # hold its worker slot for ever (the daemon alive, idle, and never starting another job).
        outcome = JobOutcome(spec.name, "failed", error="internal error: the job's thread ended without an outcome")
        journal: Optional[Journal] = None
        try:
            journal = Journal(self.journal_path)
            outcome = run_job(spec, self.outbox, journal)
        except Exception as exc:
            if is_disk_full(exc):
                outcome = JobOutcome(spec.name, "paused", error=disk_full_reason(self.outbox, exc))
            else:
                outcome = JobOutcome(spec.name, "failed", error=user_reason(exc), fingerprint=spec.fingerprint)
        finally:
            if journal is not None:
                try:
                    journal.close()
                except Exception:  # noqa: BLE001 - closing must not lose the outcome
                    pass
            with self._lock:
                self._done.append(outcome)
            self._wake.set()

    def _work_resolve(self, job: str) -> None:
        """Run only the Resolve step of written ``job``, with the project/bin its report recorded."""
        folder = self.outbox / job
        journal: Optional[Journal] = None
        try:
            journal = Journal(self.journal_path)
            recorded = read_report_resolve(folder)
            settings = self.config.settings_for(job)
            project = recorded.project if recorded else settings.resolve_project
            bin_name = recorded.bin if recorded else settings.resolve_bin
            if project:
                resolve = resolve_written_job(folder, job, project, bin_name, journal)
            else:  # the config no longer asks for Resolve; the job re-runs on its new fingerprint
                resolve = None
                journal.set_resolve(job, "problem", "no resolve_project configured for this job any more")
            outcome = JobOutcome(job, "written", output=folder, resolve=resolve, resolve_only=True)
        except Exception as exc:  # a broken outbox folder or journal must not kill the daemon
            outcome = JobOutcome(job, "written", output=folder, resolve_only=True, error=f"Resolve retry: {exc}")
        finally:
            if journal is not None:
                journal.close()
        with self._lock:
            self._done.append(outcome)
        self._wake.set()

    def _reap(self) -> None:
        with self._lock:
            done, self._done = self._done, []
        for outcome in done:
            self._running.pop(outcome.name, None)
            # Its files may have changed while it ran: look again (a changed fingerprint re-runs it).
            self._unsettled.add(outcome.name)
            for line in outcome.warnings:
                self.log(f"{outcome.name}: warning — {line}")
            if outcome.resolve is not None:
                self.log(f"{outcome.name}: Resolve {outcome.resolve.state} — {outcome.resolve.summary()}")
            elif outcome.resolve_only and outcome.error:
                self.log(f"{outcome.name}: {outcome.error}")
            if outcome.resolve_only:
                continue
            self._tell(outcome)
            if outcome.state == "written":
                self.summary.written.append(outcome.name)
                analysis = f"analysis {outcome.analysis_seconds:.2f} s, " if outcome.analysis_seconds else ""
                self.log(f"{outcome.name}: written to {outcome.output} ({analysis}total {outcome.total_seconds:.2f} s)")
            elif outcome.state == "paused":
                self._paused.add(outcome.name)
                self._record_pause(outcome)
            else:
                self.summary.failed.append(outcome.name)
                self.log(f"{outcome.name}: failed — {outcome.error}")
                self._record_failure(outcome)

    def _tell(self, outcome: JobOutcome) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _record_pause(self, outcome: JobOutcome) -> None:
        """A job the full disk stopped: due again (with --once: failed for this run, due at the next)."""
        reason = outcome.error or "the disk is full"
        try:
            self.journal.pause_job(outcome.name, f"paused: {reason}")
        except JournalError as exc:
            if not is_disk_full(exc):
                raise
            # Still marked running: recorded when space is back (or seen as interrupted at the next start).
        if self.once:
            self.summary.failed.append(outcome.name)
            self.log(f"{outcome.name}: not written — {reason}; it runs again at the next start")
        else:
            self.log(f"{outcome.name}: paused — {reason}")
            self._enter_disk_full(reason)

    def _record_failure(self, outcome: JobOutcome) -> None:
        """Record a failure the job's own connection could not (its thread died, or the journal was full)."""
        if outcome.fingerprint is None:
            return
        row = self.journal.job(outcome.name)
        if row is not None and row.state in RUNNING_STATES:
            self.journal.finish_failed(outcome.name, outcome.fingerprint, outcome.error or "failed")


PROBE_CRASHED = (
    "probing this file crashed the daemon (a decoder bug on damaged media); it is skipped until it "
    "changes — re-export or re-copy it"
)


def _crashed_a_probe(row: FileRow) -> bool:
    return row.state == "probing" or PROBE_CRASHED in (row.error or "")


def _job_fingerprint(
    settings_json: str, ready: list[JobFile], damaged: list[tuple[str, str]], stats: dict[str, tuple[int, int]]
) -> str:
    """Hash of the job's settings and each file's content (damaged files by size+mtime)."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(settings_json.encode())
    items = [(f.rel, f.fingerprint) for f in ready] + [(rel, json.dumps(stats[rel])) for rel, _ in damaged]
    for rel, fp in sorted(items):
        digest.update(f"\0{rel}\0{fp}".encode())
    return digest.hexdigest()
