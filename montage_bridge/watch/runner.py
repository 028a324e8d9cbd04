"""Run one watch job: pick its music, run the `auto` pipeline, put the outputs in place atomically.

Outputs are built in ``OUTBOX/.mb-tmp-<job>-<random>/`` and the finished folder is renamed to
``OUTBOX/<job>/``; an older output is first renamed aside to ``.mb-old-…`` and removed after. A
kill at any point leaves either the old folder, the new one, or an ``.mb-old-…`` that
:func:`recover_outbox` renames back, never a half-written folder. ``report.json`` carries the
job's fingerprint so a restart can tell that a rename happened just before the journal recorded it.

Music: the config's ``music`` (a glob inside the job folder, or an absolute path) when set; else
the job's one audio-only file. No audio file, or several and no ``music`` setting, fails the job
with a message saying which.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Optional

from pydantic import BaseModel

from kernel.atomic_io import PROCESS_UMASK, fsync_dir, write_text_atomic
from kernel.errors import MontageError
from kernel.timebase import parse_rate
from montage_bridge.pipeline import run_auto, safe_stem
from montage_bridge.watch.config import EffectiveSettings
from montage_bridge.watch.journal import Journal, JournalError
from montage_bridge.watch.resolve_step import ResolveOutcome, build_job, not_tried, record
from montage_bridge.watch.space import disk_full_reason, is_disk_full

TMP_PREFIX = ".mb-tmp-"
OLD_PREFIX = ".mb-old-"
REPORT = "report.json"
ERROR_FILE = "ERROR.txt"


class JobError(MontageError):
    """A job cannot run as laid out (no music, ambiguous music, no clips)."""


@dataclass
class JobFile:
    rel: str  # relative to the inbox
    path: Path
    kind: str  # 'video' | 'audio'
    fingerprint: str


@dataclass
class JobSpec:
    name: str
    folder: Path
    files: list[JobFile]
    fingerprint: str
    settings: EffectiveSettings
    skipped_note: Optional[str] = None  # the one warning line on files in the job folder that are not footage


@dataclass
class JobOutcome:
    name: str
    state: str  # 'written' | 'failed' | 'paused' (the disk filled up: runs again when space is freed)
    error: Optional[str] = None
    output: Optional[Path] = None
    analysis_seconds: Optional[float] = None
    total_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    resolve: Optional[ResolveOutcome] = None
    resolve_only: bool = False  # a retry of the Resolve step of a job written earlier
    fingerprint: Optional[str] = None  # of the content that failed (so the daemon can record a failure)


class JobReport(BaseModel):
    """``OUTBOX/<job>/report.json``: what ran, on what, with which settings, and how long it took."""

    job: str
    fingerprint: str
    finished_utc: str
    settings: EffectiveSettings
    music: str
    footage: list[str]
    timeline_files: list[str]
    clips: list[dict]
    tempo_bpm: float
    cuts: int
    duration_frames: int
    rate: str
    analysis_seconds: Optional[float]
    total_seconds: float
    warnings: list[str]
    resolve: Optional[ResolveOutcome] = None


def choose_music(spec: JobSpec) -> tuple[Path, list[Path]]:
    """``(music, footage)`` for the job; see the module docstring for the rule."""
    wanted = spec.settings.music
    videos = [f for f in spec.files if f.kind == "video"]
    audios = [f for f in spec.files if f.kind == "audio"]
    if wanted and Path(wanted).expanduser().is_absolute():
        music = Path(wanted).expanduser()
        if not music.is_file():
            raise JobError(f"music file {music} (from the config's music setting) does not exist")
    elif wanted:
        inside = [f for f in spec.files if fnmatch.fnmatch(_in_job(f.rel), wanted)]
        if not inside:
            raise JobError(f"no file in the job folder matches music = {wanted!r} — add it or change the config")
        if len(inside) > 1:
            names = ", ".join(_in_job(f.rel) for f in inside[:5])
            raise JobError(f"music = {wanted!r} matches {len(inside)} files ({names}) — make the glob name one")
        music = inside[0].path
        videos = [f for f in videos if f.path != music]
    elif len(audios) == 1:
        music = audios[0].path
    elif not audios:
        raise JobError("no music: put one audio file (wav, mp3, m4a, …) in the job folder, or set music in the config")
    else:
        names = ", ".join(_in_job(f.rel) for f in audios[:5])
        raise JobError(f"{len(audios)} audio files ({names}) — keep one, or name it with music = '…' in the config")
    if not videos:
        raise JobError("no video clips in the job folder")
    return music, [f.path for f in videos]


def _in_job(rel: str) -> str:
    return rel.split("/", 1)[1] if "/" in rel else rel


def run_job(spec: JobSpec, outbox: Path, journal: Journal) -> JobOutcome:
    """Run ``spec`` to the end, recording each state in ``journal``. Never raises for job errors."""
    started = time.perf_counter()
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "planning" and "analysis" not in marks:
            marks["analysis"] = time.perf_counter() - started
        elif stage == "writing" and "planned" not in marks:
            marks["planned"] = time.perf_counter() - started
            journal.set_state(spec.name, "planned", analysis_seconds=marks.get("analysis"))

    tmp: Optional[Path] = None
    final: Optional[Path] = None
    try:
        music, footage = choose_music(spec)
        settings = spec.settings
        rate: Optional[Fraction] = parse_rate(settings.rate) if settings.rate else None
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{safe_stem(spec.name)}-", dir=outbox))
        result = run_auto(
            spec.folder,
            music,
            tmp,
            duration_seconds=settings.duration_seconds,
            rate=rate,
            formats=tuple(settings.formats),
            name=settings.name or spec.name,
            skip_unreadable=settings.skip_unreadable,
            progress=progress,
            footage_files=footage,
        )
        write_text_atomic(tmp / "plan.json", result.plan.model_dump_json(indent=2) + "\n")
        write_text_atomic(tmp / "analysis.json", result.analysis.model_dump_json(indent=2) + "\n")
        total = time.perf_counter() - started
        assert result.analysis.music is not None
        report = JobReport(
            job=spec.name,
            fingerprint=spec.fingerprint,
            finished_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            settings=settings,
            music=str(music),
            footage=[str(p) for p in footage],
            timeline_files=[p.name for p in result.files],
            clips=[
                {
                    "id": c.id,
                    "file": c.media.name,
                    "rate": str(c.media.rate),
                    "frames": c.media.frames,
                    "start_timecode": c.media.start_timecode,
                    "shots": len(c.shots),
                }
                for c in result.analysis.clips
            ],
            tempo_bpm=round(result.analysis.music.beat_grid.tempo_bpm, 3),
            cuts=len(result.plan.cuts),
            duration_frames=result.plan.duration_frames,
            rate=str(result.plan.rate),
            analysis_seconds=_round(marks.get("analysis")),
            total_seconds=round(total, 3),
            warnings=([spec.skipped_note] if spec.skipped_note else []) + result.warnings,
            resolve=not_tried(settings.resolve_project, settings.resolve_bin) if settings.resolve_project else None,
        )
        write_text_atomic(tmp / REPORT, report.model_dump_json(indent=2) + "\n")
        final = publish(tmp, outbox / spec.name)
        tmp = None
        journal.finish_written(
            spec.name,
            spec.fingerprint,
            str(final),
            analysis_seconds=marks.get("analysis"),
            total_seconds=total,
            resolve_state=report.resolve.state if report.resolve else None,
            resolve_error=report.resolve.error if report.resolve else None,
        )
    except Exception as exc:  # any failure of one job is that job's failure, never the daemon's
        total = time.perf_counter() - started
        if tmp is not None:  # first: a full disk gets back what this job took
            shutil.rmtree(tmp, ignore_errors=True)
            tmp = None
        if is_disk_full(exc):
            reason = disk_full_reason(outbox, exc)
            if final is not None:  # in place; only the journal could not say so: the daemon records it later
                return JobOutcome(
                    spec.name,
                    "written",
                    output=final,
                    total_seconds=total,
                    warnings=[f"written, but the journal could not record it yet ({reason})"],
                )
            # Not a failure of the job: the journal keeps it due (the daemon says so), it runs again.
            write_error(outbox / spec.name, spec.name, reason, paused=True)
            return JobOutcome(spec.name, "paused", error=reason, total_seconds=total)
        reason = user_reason(exc)
        write_error(outbox / spec.name, spec.name, reason)
        try:
            journal.finish_failed(spec.name, spec.fingerprint, reason, total_seconds=total)
        except JournalError:
            pass  # the outcome carries the fingerprint: the daemon records the failure from its own connection
        return JobOutcome(spec.name, "failed", error=reason, total_seconds=total, fingerprint=spec.fingerprint)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    # The files are in place: from here on nothing can fail the job, only its Resolve step.
    resolve = None
    warnings: list[str] = []
    if spec.settings.resolve_project:
        try:
            resolve = resolve_written_job(
                final, spec.name, spec.settings.resolve_project, spec.settings.resolve_bin, journal
            )
        except MontageError as exc:  # the journal could not record it: it still says pending, so a restart retries
            warnings.append(f"Resolve outcome not recorded: {exc}")
    return JobOutcome(
        spec.name,
        "written",
        output=final,
        analysis_seconds=marks.get("analysis"),
        total_seconds=time.perf_counter() - started,
        warnings=warnings,
        resolve=resolve,
    )


def resolve_written_job(
    folder: Path, job: str, project: str, bin_name: Optional[str], journal: Journal
) -> ResolveOutcome:
    """Build the written job in ``folder`` in Resolve and record the outcome (report, RESOLVE.txt, journal)."""
    outcome = build_job(folder, project, bin_name)
    try:
        record(folder, job, outcome)
    except OSError as exc:  # the outbox went away or filled up: the journal still has the outcome
        outcome.warnings.append(f"could not record the Resolve outcome in {folder} ({exc.strerror or exc})")
    journal.set_resolve(job, outcome.state, None if outcome.state == "built" else outcome.summary())
    return outcome


def user_reason(exc: BaseException) -> str:
    """One line for the job's ERROR.txt and the log: our own message, or what broke and where."""
    if isinstance(exc, MontageError):
        reason = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        reason = f"cannot read or write a file{where}: {exc.strerror}"
    else:
        reason = f"internal error: {exc.__class__.__name__}: {exc} (please report it)"
    return " ".join(reason.split())


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 3)


def publish(tmp: Path, final: Path) -> Path:
    """Rename the finished folder ``tmp`` to ``final``, replacing an older one without a gap."""
    os.chmod(tmp, 0o777 & ~PROCESS_UMASK)  # mkdtemp makes it 0700; give it a plain mkdir's permissions
    fsync_dir(tmp)
    old: Optional[Path] = None
    if final.exists():
        old = final.with_name(f"{OLD_PREFIX}{final.name}-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(final, old)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def write_error(folder: Path, job: str, reason: str, *, paused: bool = False) -> bool:
    """``folder/ERROR.txt`` with the reason; earlier good outputs in ``folder`` are kept.

    Best effort: on a full (or gone) disk nothing is written, and a folder made here is removed
    again rather than left empty. Returns whether ERROR.txt was written.
    """
    made = not folder.exists()
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    previous = " Files beside this one are from an earlier successful run." if (folder / REPORT).exists() else ""
    if paused:
        text = (
            f"job {job} paused at {stamp}:\n{reason}\n\nThe watch daemon runs it again by itself once space "
            f"is freed (or at its next start).{previous}\n"
        )
    else:
        text = (
            f"job {job} failed at {stamp}:\n{reason}\n\nFix the files in the job folder (or the config); "
            f"the job runs again when its content changes.{previous}\n"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / ERROR_FILE, text)
        return True
    except OSError:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        return False


def read_report_fingerprint(folder: Path) -> Optional[str]:
    """The fingerprint recorded in ``folder/report.json``, or None."""
    try:
        return json.loads((folder / REPORT).read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def read_report_resolve(folder: Path) -> Optional[ResolveOutcome]:
    """The Resolve outcome recorded in ``folder/report.json``, or None (none asked for, or unreadable)."""
    try:
        data = json.loads((folder / REPORT).read_text(encoding="utf-8")).get("resolve")
        return ResolveOutcome.model_validate(data) if data else None
    except (OSError, ValueError, AttributeError):
        return None


def recover_outbox(outbox: Path) -> list[str]:
    """Undo what a killed run left: temp folders go, an old output set aside comes back.

    Returns one line per action, for the log.
    """
    actions: list[str] = []
    for entry in sorted(outbox.iterdir()) if outbox.is_dir() else []:
        if entry.name.startswith(TMP_PREFIX) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            actions.append(f"removed unfinished output {entry.name}")
        elif entry.name.startswith(OLD_PREFIX) and entry.is_dir():
            job = _report_job(entry)
            if job and not (outbox / job).exists():
                os.replace(entry, outbox / job)
                actions.append(f"restored previous output of {job}")
            else:
                shutil.rmtree(entry, ignore_errors=True)
                actions.append(f"removed replaced output {entry.name}")
    return actions


def _report_job(folder: Path) -> Optional[str]:
    try:
        job = json.loads((folder / REPORT).read_text(encoding="utf-8")).get("job")
    except (OSError, ValueError, AttributeError):
        return None
    return job if isinstance(job, str) and job and "/" not in job and not job.startswith(".") else None
