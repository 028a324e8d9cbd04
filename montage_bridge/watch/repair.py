"""`montage-bridge watch repair`: set a damaged journal aside and rebuild one from the outbox.

Each finished job folder carries ``report.json`` with the job's name and the fingerprint of the
content it was made from, which is all the daemon needs to know the job is done: rebuilt rows say
``written`` with that fingerprint, so the daemon does not run those jobs again (it re-reads each
file's fingerprint once, at its next start). What a journal alone knew is lost with it: failures
(folders with only ERROR.txt run again), attempt counts, and timings of jobs without a report.

The damaged file is kept (renamed ``<journal>.damaged-<UTC time>``, with its -wal/-shm) for a
post-mortem. A healthy journal is left alone. The outbox lock is held throughout, so a repair never
runs beside a daemon.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from montage_bridge.watch.journal import Journal, JournalDamagedError, JournalError
from montage_bridge.watch.lock import OutboxLock
from montage_bridge.watch.runner import ERROR_FILE, REPORT, read_report_resolve

_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass
class RepairResult:
    journal: Path
    damage: Optional[str] = None  # what was wrong; None: healthy (nothing done) or absent
    moved_to: Optional[Path] = None
    rebuilt: list[str] = field(default_factory=list)  # jobs recorded as written
    rerun: list[str] = field(default_factory=list)  # job folders without a usable report: they run again
    healthy: bool = False


def diagnose(journal: Path) -> Optional[str]:
    """What is wrong with ``journal`` (None when it is sound or does not exist)."""
    if not journal.exists():
        return None
    try:
        db = Journal(journal, create=False)
    except JournalDamagedError as exc:
        return _detail(exc)
    try:
        db.check()
    except JournalDamagedError as exc:
        return _detail(exc)
    finally:
        db.close()
    return None


def repair(outbox: Path, journal: Path) -> RepairResult:
    """Move a damaged (or rebuild a missing) ``journal`` and rebuild it from ``outbox``'s job folders."""
    outbox = outbox.resolve()
    if not outbox.is_dir():
        raise JournalError(f"{outbox}: no such outbox folder — pass the --out the daemon writes to")
    with OutboxLock(outbox, purpose="repair"):
        result = RepairResult(journal=journal)
        existed = journal.exists()
        result.damage = diagnose(journal)
        if existed and result.damage is None:
            result.healthy = True
            return result
        if existed:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            result.moved_to = journal.with_name(f"{journal.name}.damaged-{stamp}")
            os.replace(journal, result.moved_to)
            for suffix in _SIDE_FILES:
                side = journal.with_name(journal.name + suffix)
                if side.exists():
                    os.replace(side, result.moved_to.with_name(result.moved_to.name + suffix))
        db = Journal(journal)
        try:
            for folder in sorted(p for p in outbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
                report = _read_report(folder)
                if report is None:
                    if (folder / ERROR_FILE).exists() or any(folder.iterdir()):
                        result.rerun.append(folder.name)
                    continue
                resolve = read_report_resolve(folder)
                db.restore_written(
                    folder.name,
                    report["fingerprint"],
                    str(folder),
                    analysis_seconds=_number(report.get("analysis_seconds")),
                    total_seconds=_number(report.get("total_seconds")),
                    finished=_finished(report, folder),
                    resolve_state=resolve.state if resolve else None,
                    resolve_error=resolve.summary() if resolve and resolve.state != "built" else None,
                )
                result.rebuilt.append(folder.name)
        finally:
            db.close()
        return result


def _detail(exc: JournalDamagedError) -> str:
    cause = exc.__cause__
    return str(cause) if cause is not None else str(exc)


def _read_report(folder: Path) -> Optional[dict]:
    try:
        data = json.loads((folder / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("job") != folder.name:
        return None
    fingerprint = data.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        return None
    return data


def _number(value: object) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _finished(report: dict, folder: Path) -> float:
    try:
        return datetime.fromisoformat(str(report["finished_utc"])).timestamp()
    except (KeyError, ValueError):
        try:
            return (folder / REPORT).stat().st_mtime
        except OSError:
            return time.time()
