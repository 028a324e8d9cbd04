"""The footage analysis engine: many files in, one :class:`ClipAnalysis` per file out.

For each file: content fingerprint → cache lookup; on a miss, probe → one decode pass (shots,
quality, motion, shake, faces, thumbnails) → audio (silences, EBU R128 loudness) → speech (optional).
Misses run in parallel in a process pool bounded by ``jobs``; cache hits never start the pool, so
re-running over analyzed footage costs a fingerprint and a SQLite read per file. Results come
back in input order whatever order the workers finish in, and a bad file becomes a
:class:`FileFailure` (its one-line reason) instead of stopping the others, even when its decoder
crashes the worker process (see :func:`_run_pool`). Workers end with the process that started
them, ``kill -9`` included (:func:`die_with_parent`), and list themselves in
:func:`worker_registry_dir` so a later run can end any that a killed run left
(:func:`reap_orphaned_workers`, called by the watch daemon at start).
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import multiprocessing.connection
import multiprocessing.spawn
import multiprocessing.util
import os
import queue as queue_mod
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from analysis.cache import AnalysisCache, default_cache_dir, fingerprint, open_cache, params_key
from analysis.footage import clip_id_for
from analysis.frame_pass import FramePassOptions
from analysis.models import AnalysisResult, ClipAnalysis, MusicAnalysis, Transcript
from kernel.errors import MediaError, MontageError
from kernel.media import MediaItem

# Bump when a change to any analyzer changes its results: old cache entries then miss.
ANALYZER_VERSION = "3"  # 2: camera shake per shot; 3: picture interest over each shot (in-points)


@dataclass(frozen=True)
class EngineOptions:
    """What to analyze and how. ``jobs=None`` means one worker per CPU; ``cache_dir=None`` disables caching."""

    speech: bool = False
    speech_model: str | None = None
    jobs: int | None = None
    cache_dir: Path | None = field(default_factory=default_cache_dir)
    require_video: bool = False
    frame: FramePassOptions = FramePassOptions()
    silence_min_duration: float = 0.25

    def clip_params(self) -> str:
        return params_key({"frame": self.frame.cache_params(), "silence_min": self.silence_min_duration})

    def speech_params(self, model_label: str) -> str:
        return params_key({"model": model_label, "beam_size": 5, "vad": True, "words": True})


@dataclass(frozen=True)
class ProgressEvent:
    """One file's progress. ``stage``: cached, probing, frames, audio, speech, done, failed.

    ``done``/``total`` count frames in the ``frames`` stage and are 0/1 or 1/1 otherwise;
    ``fraction`` is the file's overall completion, 0..1.
    """

    index: int
    path: Path
    stage: str
    done: int
    total: int
    fraction: float


EngineProgress = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class FileFailure:
    path: Path
    message: str
    audio_only: bool = False  # readable sound with no picture: set aside, not an error, by callers that cut picture


@dataclass
class EngineResult:
    clips: list[ClipAnalysis]
    failures: list[FileFailure]
    cached: int = 0
    analyzed: int = 0

    def analysis(self, music: MusicAnalysis | None = None) -> AnalysisResult:
        return AnalysisResult(clips=self.clips, music=music)


@dataclass(frozen=True)
class _Task:
    index: int
    path: Path
    fingerprint: str
    need_clip: bool
    need_speech: bool
    options: EngineOptions
    thumbnails_dir: Path | None
    threads: int
    call: int = 0  # which analyze call the task belongs to: a warm pool's queue may hold late events of the last


# Stage weights inside one file, for the overall progress bar and its ETA.
_FRAMES_SHARE = 0.85
# Resolution of silence edges, seconds.
_LEVEL_HOP = 0.01

_worker_queue = None


def _init_worker(q, spawned: _SpawnedFrom | None = None) -> None:  # pragma: no cover - runs in pool processes
    global _worker_queue
    _worker_queue = q
    die_with_parent(pdeathsig=spawned is not None and spawned.main_thread)
    register_worker()


class _SpawnedFrom:
    """Which thread started the worker, recorded when the worker is started (pickled for it).

    Linux delivers ``PR_SET_PDEATHSIG`` when the *thread* that started the process exits, not the
    process: a worker of the watch daemon's warm pool started from a job thread would be killed
    when that job ends. So the signal is only asked for by workers the main thread started; the
    others rely on the parent watchdog (which is what every worker gets on macOS and Windows)."""

    main_thread = False

    def __getstate__(self) -> dict:
        # Runs in the thread that starts the process: spawn pickles the process object there.
        return {"main_thread": threading.current_thread() is threading.main_thread()}

    def __setstate__(self, state: dict) -> None:
        self.main_thread = bool(state.get("main_thread"))


# Registry of live analysis workers: one small JSON file per worker, so a later run (the watch
# daemon at start) can end workers whose parent was killed before they noticed (see reap_orphaned_workers).
WORKER_MARK = "montage-bridge analysis worker"


def worker_registry_dir() -> Path:
    """``<cache dir>/workers`` (the default cache dir whatever ``--cache-dir`` says: one place to look)."""
    return default_cache_dir() / "workers"


def process_start_time(pid: int) -> float | None:
    """When ``pid`` started (an opaque, comparable number), or None when unknown or not running.

    With the pid and this, a process is identified even after its pid is reused by another.
    """
    try:
        import psutil  # optional: exact on every OS

        return float(psutil.Process(pid).create_time())
    except ImportError:
        pass
    except Exception:  # psutil.NoSuchProcess, AccessDenied
        return None
    try:  # Linux without psutil: field 22 of /proc/PID/stat, clock ticks since boot
        text = Path(f"/proc/{pid}/stat").read_text()
        return float(text.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """Running and not a zombie (a dead child nobody reaped yet is not a survivor)."""
    try:
        import psutil

        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except Exception:
            return False
    except ImportError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def die_with_parent(pdeathsig: bool = True) -> None:  # pragma: no cover - runs in pool processes
    """Make this worker process end when its parent does, ``kill -9`` of the parent included.

    A pool worker otherwise waits forever on its task queue: every worker holds both ends of that
    pipe, so the parent's death never shows as end-of-file and the workers (~120 MB each) live on.
    Two guards: on Linux the kernel's parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)``),
    and everywhere a watchdog thread that waits on the parent's sentinel (a pipe whose other end
    only the parent holds, or its process handle on Windows) and exits the moment it closes,
    falling back to polling the parent pid once a second.
    """
    parent = multiprocessing.parent_process()
    parent_pid = parent.pid if parent is not None and parent.pid else os.getppid()
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl (musl without it, seccomp): the watchdog below still works
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the signal was armed (we were re-parented already)
    sentinel = getattr(parent, "sentinel", None)

    def watch() -> None:
        if sentinel is not None:
            try:
                multiprocessing.connection.wait([sentinel])
            except OSError:
                pass
            os._exit(1)
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def register_worker(directory: Path | None = None) -> Path | None:  # pragma: no cover - runs in pool processes
    """Record this worker (pid, start time, parent pid and start time) in the registry; the entry
    goes again when the worker exits normally. Returns the entry, or None when it cannot be written."""
    directory = directory or worker_registry_dir()
    # The parent multiprocessing started us from, not getppid(): after a parent's death that is init.
    spawner = multiprocessing.parent_process()
    pid, parent = os.getpid(), (spawner.pid if spawner is not None and spawner.pid else os.getppid())
    entry = directory / f"{pid}.json"
    record = {
        "mark": WORKER_MARK,
        "pid": pid,
        "started": process_start_time(pid),
        "parent": parent,
        "parent_started": process_start_time(parent),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, entry)
    except OSError:
        return None  # a read-only home: the worker still dies with its parent, it just is not listed
    multiprocessing.util.Finalize(None, _unregister, args=(entry,), exitpriority=10)
    return entry


def _unregister(entry: Path) -> None:  # pragma: no cover - runs in pool processes
    try:
        entry.unlink()
    except OSError:
        pass


def reap_orphaned_workers(directory: Path | None = None, grace_seconds: float = 2.0) -> list[int]:
    """End analysis workers whose parent is gone (a run killed before its workers noticed); returns their pids.

    A registry entry is trusted only while the pid still has the start time it recorded, so a pid
    reused by another program is never touched. Entries of workers that are gone are removed;
    workers whose parent still runs are left alone. SIGTERM first, SIGKILL after ``grace_seconds``.
    """
    import signal

    directory = directory or worker_registry_dir()
    try:
        entries = sorted(directory.glob("*.json"))
    except OSError:
        return []
    ended: list[int] = []
    for entry in entries:
        try:
            record = json.loads(entry.read_text())
            pid, started = int(record["pid"]), record.get("started")
            parent, parent_started = int(record["parent"]), record.get("parent_started")
        except (OSError, ValueError, KeyError, TypeError):
            entry.unlink(missing_ok=True)  # torn or foreign: nothing can be matched against it
            continue
        if record.get("mark") != WORKER_MARK:
            continue
        same_worker = started is not None and _alive(pid) and process_start_time(pid) == started
        if not same_worker:
            entry.unlink(missing_ok=True)
            continue
        parent_lives = _alive(parent) and parent_started is not None and process_start_time(parent) == parent_started
        if parent_lives:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            continue
        ended.append(pid)
    deadline = time.monotonic() + grace_seconds
    for pid in ended:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            try:
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            except OSError:
                pass
    for pid in ended:
        (directory / f"{pid}.json").unlink(missing_ok=True)
    return ended


def _report_to_queue(call: int, event: ProgressEvent) -> None:
    if _worker_queue is not None:
        _worker_queue.put((call, event))


_NO_VIDEO = "has no video stream — audio belongs in --music, not the footage folder"


@dataclass(frozen=True)
class _TaskError:
    """Why one file failed, as it crosses the worker-process boundary (pickled)."""

    message: str
    audio_only: bool = False  # readable sound with no picture (FileFailure.audio_only)


class _NoVideo(MediaError):
    """A file with sound and no picture where the caller wants picture."""


def _require_video(media: MediaItem) -> None:
    if not media.has_video:
        raise _NoVideo(f"{media.path}: {_NO_VIDEO}")


def _analyze_task(
    task: _Task, report: EngineProgress | None = None
) -> tuple[int, dict | None, dict | None, _TaskError | None]:
    """Analyze one file; returns (index, clip payload, speech payload, error message)."""
    from analysis.audio import LOUDNESS_RATE, AudioMeter, iter_audio, silences_from_levels
    from analysis.frame_pass import run_frame_pass
    from kernel.probe import probe_media

    report = report or (lambda event: _report_to_queue(task.call, event))
    path = task.path

    def say(stage: str, done: int, total: int, fraction: float) -> None:
        report(ProgressEvent(task.index, path, stage, done, total, fraction))

    try:
        say("probing", 0, 1, 0.0)
        media = probe_media(path)
        if task.options.require_video:
            _require_video(media)
        clip_payload = None
        if task.need_clip:
            shots = []
            if media.has_video:
                # ffmpeg's decoder gets the worker's share of the cores less the one its per-frame
                # analyzers keep busy (on 2 cores, 2 decoder threads cost ~4% more CPU and were no
                # faster than 1). 0 (in-process) leaves the choice to ffmpeg.
                decode_threads = max(1, task.threads - 1) if task.threads > 0 else 0
                frame_options = FramePassOptions(**{**task.options.frame.__dict__, "threads": decode_threads})
                shots = run_frame_pass(
                    media,
                    frame_options,
                    thumbnails_dir=task.thumbnails_dir,
                    progress=lambda d, t: say("frames", d, t, _FRAMES_SHARE * d / max(1, t)),
                )
            say("audio", 0, 1, _FRAMES_SHARE)
            silences, loudness = [], None
            if media.audio_channels:
                # Streamed: memory stays small however long the clip is.
                meter = None
                for chunk in iter_audio(path, LOUDNESS_RATE):
                    meter = meter or AudioMeter(LOUDNESS_RATE, chunk.shape[0], level_hop=_LEVEL_HOP)
                    meter.feed(chunk)
                if meter is not None and meter.samples:
                    loudness = meter.loudness()
                    silences = silences_from_levels(
                        meter.levels_db(),
                        _LEVEL_HOP,
                        meter.duration,
                        min_duration=task.options.silence_min_duration,
                    )
            clip = ClipAnalysis(id="_", media=media, shots=shots, silences=silences, loudness_lufs=loudness)
            clip_payload = clip.model_dump(mode="json", exclude={"transcript"})
        speech_payload = None
        if task.need_speech:
            from analysis.speech import transcribe_file

            say("speech", 0, 1, 0.95)
            transcript = transcribe_file(path, model=task.options.speech_model, cpu_threads=task.threads)
            speech_payload = {"transcript": transcript.model_dump(mode="json") if transcript else None}
        say("done", 1, 1, 1.0)
        return task.index, clip_payload, speech_payload, None
    except MontageError as exc:
        say("failed", 1, 1, 1.0)
        return task.index, None, None, _TaskError(str(exc), audio_only=isinstance(exc, _NoVideo))
    except Exception as exc:  # media is untrusted: a decoder library may raise anything on a bad file
        say("failed", 1, 1, 1.0)
        return task.index, None, None, _TaskError(f"{path}: cannot be analyzed ({exc.__class__.__name__}: {exc})")


def _thumbnails_ok(payload: dict) -> bool:
    """A cached clip whose thumbnails were deleted is re-analyzed rather than handed out broken."""
    for shot in payload.get("shots", []):
        thumb = shot.get("thumbnail")
        if thumb and not Path(thumb).is_file():
            return False
    return True


def _initial_failure(path: Path) -> str | None:
    if not path.exists():
        return f"{path}: no such file"
    if not path.is_file():
        return f"{path}: is not a file"
    if path.stat().st_size == 0:
        return f"{path}: file is empty (0 bytes) — was the copy interrupted?"
    return None


def analyze_paths(
    paths: list[Path],
    options: EngineOptions | None = None,
    *,
    progress: EngineProgress | None = None,
) -> EngineResult:
    """Analyze every file in ``paths`` (in that order); see the module docstring."""
    options = options or EngineOptions()
    with open_cache(options.cache_dir) as cache:
        return _analyze(paths, options, cache, progress)


def _analyze(
    paths: list[Path], options: EngineOptions, cache: AnalysisCache | None, progress: EngineProgress | None
) -> EngineResult:
    clip_key = options.clip_params()
    speech_key = None
    if options.speech:
        from analysis.speech import resolve_model

        speech_key = options.speech_params(resolve_model(options.speech_model)[1])
    emit = progress or (lambda event: None)
    clip_payloads: dict[int, dict] = {}
    speech_payloads: dict[int, dict] = {}
    errors: dict[int, _TaskError] = {}
    tasks: list[_Task] = []
    cached = 0
    jobs = max(1, options.jobs or os.cpu_count() or 1)
    for i, path in enumerate(paths):
        path = Path(path)
        problem = _initial_failure(path)
        if problem:
            errors[i] = _TaskError(problem)
            emit(ProgressEvent(i, path, "failed", 1, 1, 1.0))
            continue
        try:
            fp = fingerprint(path)
        except OSError as exc:
            errors[i] = _TaskError(f"{path}: cannot be read ({exc.strerror or exc})")
            emit(ProgressEvent(i, path, "failed", 1, 1, 1.0))
            continue
        clip_hit = cache.get(fp, "clip", ANALYZER_VERSION, clip_key) if cache else None
        if clip_hit is not None and not _thumbnails_ok(clip_hit):
            clip_hit = None
        speech_hit = cache.get(fp, "speech", ANALYZER_VERSION, speech_key) if cache and speech_key else None
        if clip_hit is not None:
            clip_payloads[i] = clip_hit
        if speech_hit is not None:
            speech_payloads[i] = speech_hit
        need_clip = clip_hit is None
        need_speech = bool(options.speech) and speech_hit is None
        if not need_clip and not need_speech:
            cached += 1
            emit(ProgressEvent(i, path, "cached", 1, 1, 1.0))
            continue
        thumbs = cache.directory / "thumbnails" / fp if cache else None
        tasks.append(_Task(i, path, fp, need_clip, need_speech, options, thumbs, 0))

    if not tasks:
        results = []
    elif not spawn_works():
        # Inside a host application: decode here, one file at a time (no crash isolation there).
        results = [_analyze_task(task, emit) for task in tasks]
    else:
        # Even one file goes to a worker, so a decoder crash on a damaged file fails that file
        # instead of killing the caller; the pool stays warm between calls (_WarmPool).
        workers = min(jobs, len(tasks))
        threads = max(1, (os.cpu_count() or 1) // workers)
        tasks = [_Task(**{**t.__dict__, "threads": threads}) for t in tasks]
        results = _run_pool(tasks, workers, emit)

    by_index = {t.index: t for t in tasks}
    for index, clip_payload, speech_payload, error in results:
        task = by_index[index]
        if error is not None:
            errors[index] = error
            continue
        if clip_payload is not None:
            clip_payloads[index] = clip_payload
            if cache:
                cache.put(task.fingerprint, "clip", ANALYZER_VERSION, clip_key, clip_payload)
        if speech_payload is not None:
            speech_payloads[index] = speech_payload
            if cache and speech_key:
                cache.put(task.fingerprint, "speech", ANALYZER_VERSION, speech_key, speech_payload)

    clips: list[ClipAnalysis] = []
    failures: list[FileFailure] = []
    taken: set[str] = set()
    for i, path in enumerate(paths):
        path = Path(path)
        if i in errors:
            failures.append(FileFailure(path, errors[i].message, audio_only=errors[i].audio_only))
            continue
        clip = _clip_from_payload(path, clip_payloads[i], speech_payloads.get(i))
        if options.require_video and not clip.media.has_video:
            failures.append(FileFailure(path, f"{path}: {_NO_VIDEO}", audio_only=True))
            continue
        clip.id = clip_id_for(path, taken)
        clips.append(clip)
    return EngineResult(clips=clips, failures=failures, cached=cached, analyzed=len(tasks))


def _clip_from_payload(path: Path, payload: dict, speech: dict | None) -> ClipAnalysis:
    """Rebuild a clip from a (possibly cached) payload, pointing it at ``path`` (renames hit the cache)."""
    clip = ClipAnalysis.model_validate(payload)
    clip.media.path = path.resolve()
    clip.media.name = path.name
    if speech and speech.get("transcript"):
        clip.transcript = Transcript.model_validate(speech["transcript"])
    return clip


def spawn_works() -> bool:
    """Whether worker processes can be started: they run ``multiprocessing``'s executable, which
    inside a host application's embedded Python (Resolve running a menu script) is the host itself."""
    exe = multiprocessing.spawn.get_executable() or ""
    name = os.path.basename(os.fsdecode(exe)).lower()
    return name.startswith("python")


class _WarmPool:
    """One worker pool kept for the life of the process, so a long-running caller (the watch daemon)
    does not pay the workers' start-up (Python, NumPy, OpenCV, PyAV: ~0.5 s) on every job. One call
    uses it at a time; a call that finds it busy starts a pool of its own for the call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: ProcessPoolExecutor | None = None
        self.events = None
        self.workers = 0

    def take(self, workers: int, ctx) -> tuple[ProcessPoolExecutor, object, bool]:
        """(pool, its event queue, whether it is the warm one: release it with :meth:`give_back`)."""
        if self.lock.acquire(blocking=False):
            if self.pool is None or self.workers != workers:
                self.discard()
                self.events = ctx.Queue()
                self.pool = _new_pool(workers, ctx, self.events)
                self.workers = workers
            return self.pool, self.events, True
        events = ctx.Queue()
        return _new_pool(workers, ctx, events), events, False

    def give_back(self, broken: bool) -> None:
        if broken:  # a dead worker breaks the whole pool: the next call starts a fresh one
            self.discard()
        self.lock.release()

    def discard(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool, self.events, self.workers = None, None, 0


_WARM = _WarmPool()
_calls = itertools.count(1)


def _new_pool(workers: int, ctx, events) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(events, _SpawnedFrom())
    )


def _run_pool(tasks: list[_Task], workers: int, emit: EngineProgress) -> list:
    """Run tasks in a spawn-based process pool, forwarding the workers' progress events.

    A worker that dies (a decoder crashing on a damaged file, the OOM killer) breaks the whole pool;
    the tasks it left unfinished then run again one per process, so only the file that kills its
    process fails, with a message that says so, and every other file is still analyzed."""
    # spawn, not fork: the parent may hold threads (rich's refresh thread, numba, ctranslate2)
    # whose locks a forked child would inherit mid-use.
    ctx = multiprocessing.get_context("spawn")
    call = next(_calls)
    tasks = [_Task(**{**t.__dict__, "call": call}) for t in tasks]
    pool, events, warm = _WARM.take(workers, ctx)
    results = []
    unfinished: list[_Task] = []
    try:
        pending: dict[Future, _Task] = {}
        for task in tasks:
            try:
                pending[pool.submit(_analyze_task, task)] = task
            except BrokenProcessPool:  # a worker died while earlier tasks were being handed out
                unfinished.append(task)
        while pending:
            done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(events, call, emit)
            for future in done:
                task = pending.pop(future)
                try:
                    results.append(future.result())
                except BrokenProcessPool:
                    unfinished.append(task)
        _drain(events, call, emit)
    finally:
        if warm:
            _WARM.give_back(broken=bool(unfinished))
        else:
            pool.shutdown(wait=True)
    if unfinished:
        results.extend(_run_each_alone(unfinished, workers, ctx, call, emit))
    return results


def _run_each_alone(tasks: list[_Task], workers: int, ctx, call: int, emit: EngineProgress) -> list:
    """Each task in a process of its own, ``workers`` at a time; a crash of that process is the
    failure of that file alone."""
    events = ctx.Queue()
    results = []
    queued = list(tasks)
    running: dict[Future, tuple[_Task, ProcessPoolExecutor]] = {}
    try:
        while queued or running:
            while queued and len(running) < workers:
                task = queued.pop(0)
                pool = _new_pool(1, ctx, events)
                running[pool.submit(_analyze_task, task)] = (task, pool)
            done, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(events, call, emit)
            for future in done:
                task, pool = running.pop(future)
                pool.shutdown(wait=True)
                try:
                    results.append(future.result())
                except BrokenProcessPool:
                    emit(ProgressEvent(task.index, task.path, "failed", 1, 1, 1.0))
                    results.append(
                        (
                            task.index,
                            None,
                            None,
                            _TaskError(
                                f"{task.path}: the analysis process died while decoding this file (a decoder "
                                "crash or out of memory) — the file is probably damaged; re-export or re-copy it"
                            ),
                        )
                    )
        _drain(events, call, emit)
    finally:
        for _, pool in running.values():
            pool.shutdown(wait=False, cancel_futures=True)
    return results


def _drain(events, call: int, emit: EngineProgress) -> None:
    """Forward this call's queued progress events; late ones of an earlier call are dropped."""
    while True:
        try:
            owner, event = events.get_nowait()
        except queue_mod.Empty:
            return
        if owner == call:
            emit(event)


def files_done_progress(total: int, progress: Callable[[str, int, int], None] | None) -> EngineProgress:
    """Adapt the engine's per-file events to a ``progress(stage, done, total)`` callback that counts
    finished files (done, cached or failed) — what the CLI bars and the menu Console show."""
    finished: set[int] = set()

    def on_event(event: ProgressEvent) -> None:
        if event.stage in ("done", "failed", "cached"):
            finished.add(event.index)
        if progress:
            progress(f"analysis: {event.path.name}", len(finished), total)

    return on_event


def analyze_media_items(
    items: list[MediaItem],
    options: EngineOptions | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[ClipAnalysis]:
    """Analyze clips already probed elsewhere (e.g. read from Resolve's media pool).

    The engine does the work (one decode pass, cached, shots with quality); each result keeps the
    caller's :class:`MediaItem`, whose rate, frames and start timecode are the source of truth
    there. A file that fails raises :class:`MediaError` naming it. ``progress(stage, done, total)``
    counts finished files.
    """
    options = options or EngineOptions(require_video=True)
    result = analyze_paths([Path(i.path) for i in items], options, progress=files_done_progress(len(items), progress))
    if result.failures:
        raise MediaError(result.failures[0].message)
    out: list[ClipAnalysis] = []
    for item, clip in zip(items, result.clips, strict=True):
        shots = [s for s in clip.shots if s.start < item.frames]
        if shots and shots[-1].end != item.frames:
            shots[-1] = shots[-1].model_copy(update={"end": item.frames})
        out.append(clip.model_copy(update={"media": item, "shots": shots}))
    return out
