"""A watch job's optional last step: build its timeline in DaVinci Resolve too.

Runs after the job's files are in ``OUTBOX/<job>/`` and reads only them (``plan.json`` +
``analysis.json``), so a retry days later needs nothing else. The outcome is one of:

- ``built``: the timeline is in the project and verification found every clip where planned;
- ``pending``: Resolve could not be reached (not running, not installed, scripting refused). The
  daemon tries again at its next start and after ``watch retry``;
- ``problem``: Resolve was reached but the project could not be opened/created, the build failed,
  or verification found dropped or misplaced clips. Not retried on its own: a retry adds another
  timeline beside the faulty one (names are suffixed, never overwritten), so it waits for
  ``watch retry JOB`` once the cause is fixed.

The job itself stays ``written`` in every case; the Resolve outcome is kept in ``report.json``
(``resolve``), in the journal (``resolve_state``/``resolve_error``) and, unless built, in
``OUTBOX/<job>/RESOLVE.txt``.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, Field, ValidationError

from analysis.models import AnalysisResult
from kernel.atomic_io import write_text_atomic
from kernel.errors import MontageError
from nle_adapters.plan_to_otio import build_timeline
from planner.models import EditPlan
from resolve_bridge.connect import connect
from resolve_bridge.errors import ResolveBuildError, ResolveConnectionError
from resolve_bridge.timeline_builder import build_in_resolve

RESOLVE_FILE = "RESOLVE.txt"
DEFAULT_BIN = "Montage Bridge"
ResolveState = Literal["built", "pending", "problem"]

# One build at a time per process: AppendToTimeline works on the *current* timeline of the
# *current* project, so two workers building at once would put clips in each other's timelines.
_RESOLVE_LOCK = threading.Lock()


class ResolveOutcome(BaseModel):
    """``report.json`` → ``resolve``: what happened when the job's timeline was sent to Resolve."""

    state: ResolveState
    project: str
    bin: str
    timeline: Optional[str] = Field(None, description="name of the timeline built (may carry a suffix)")
    placed: Optional[int] = Field(None, description="clips verified in place")
    expected: Optional[int] = Field(None, description="clips the plan has")
    dropped: list[str] = Field(default_factory=list)
    mismatched: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    error: Optional[str] = None
    resolve: Optional[str] = Field(None, description="the Resolve build connected to")
    attempted_utc: Optional[str] = None

    def summary(self) -> str:
        """One line for the log, the journal and ``watch status``."""
        if self.state == "built":
            return f"built '{self.timeline}' in project '{self.project}' ({self.placed}/{self.expected} clips)"
        return self.error or f"Resolve step {self.state}"


def not_tried(project: str, bin_name: Optional[str]) -> ResolveOutcome:
    """The outcome recorded before the first try (a kill before it ends leaves it pending)."""
    return ResolveOutcome(
        state="pending", project=project, bin=bin_name or DEFAULT_BIN, error="not tried yet: the job was just written"
    )


def _open_project(resolve: Any, name: str) -> Any:
    """The project ``name``: already current, loaded, or created (Resolve answers None, never raises)."""
    manager = resolve.GetProjectManager()
    if not manager:
        raise ResolveBuildError("Resolve has no project manager (no database?) — open Resolve's project manager once")
    current = manager.GetCurrentProject()
    if current and current.GetName() == name:
        return current
    project = manager.LoadProject(name) or manager.CreateProject(name)
    if not project:
        raise ResolveBuildError(
            f"Resolve could neither load nor create project '{name}' — the open project may have unsaved "
            "changes blocking the switch: save it in Resolve, then `montage-bridge watch retry`"
        )
    return project


def build_job(folder: Path, project_name: str, bin_name: Optional[str]) -> ResolveOutcome:
    """Build the timeline of the job written in ``folder`` in Resolve; never raises.

    Whatever goes wrong (a scripting library that loads but misbehaves included) becomes the
    outcome: this runs in a worker thread after the job's files are in place, and an exception
    there would leave the job neither reaped nor recorded.
    """
    outcome = ResolveOutcome(
        state="problem",
        project=project_name,
        bin=bin_name or DEFAULT_BIN,
        attempted_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    try:
        _build(folder, project_name, outcome)
    except Exception as exc:
        outcome.state = "problem"
        outcome.error = f"Resolve step failed: internal error: {exc.__class__.__name__}: {exc}"
    outcome.error = " ".join(outcome.error.split()) if outcome.error else None
    return outcome


def _build(folder: Path, project_name: str, outcome: ResolveOutcome) -> None:
    """Fill ``outcome`` in place (its state starts as ``problem``)."""
    bin_name = outcome.bin
    try:
        plan = EditPlan.model_validate_json((folder / "plan.json").read_text(encoding="utf-8"))
        analysis = AnalysisResult.model_validate_json((folder / "analysis.json").read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        outcome.error = f"{folder}: cannot read the job's plan/analysis for Resolve ({exc.__class__.__name__})"
        return
    timeline = build_timeline(plan, analysis)
    with _RESOLVE_LOCK:
        try:
            connection = connect()
        except ResolveConnectionError as exc:
            outcome.state, outcome.error = "pending", f"Resolve not reachable: {exc}"
            return
        outcome.resolve = connection.capabilities.label
        try:
            _open_project(connection.resolve, project_name)
            result = build_in_resolve(connection.resolve, timeline, bin_name=bin_name)
        except ResolveConnectionError as exc:  # Resolve went away mid-build
            outcome.state, outcome.error = "pending", f"Resolve not reachable: {exc}"
            return
        except MontageError as exc:
            outcome.error = f"Resolve build failed: {exc}"
            return
        saved = connection.resolve.GetProjectManager().SaveProject()
    outcome.timeline, outcome.placed, outcome.expected = result.timeline_name, result.placed, result.expected
    outcome.dropped, outcome.mismatched = list(result.dropped), list(result.mismatched)
    outcome.warnings = list(result.warnings)
    if not saved:
        outcome.warnings.append(f"Resolve did not save project '{project_name}' — save it in Resolve")
    if result.ok:
        outcome.state = "built"
    else:
        first = (result.dropped or result.mismatched or [f"{result.placed}/{result.expected} clips placed"])[0]
        more = len(result.dropped) + len(result.mismatched) - 1
        outcome.error = (
            f"timeline '{result.timeline_name}' in project '{project_name}' is incomplete: "
            f"{result.placed}/{result.expected} clips placed; {first}" + (f" (and {more} more)" if more > 0 else "")
        )


def record(folder: Path, job: str, outcome: ResolveOutcome) -> None:
    """Put ``outcome`` in ``folder/report.json`` and write (or, once built, remove) ``RESOLVE.txt``."""
    report_path = folder / "report.json"
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = None
    if isinstance(report, dict):
        report["resolve"] = json.loads(outcome.model_dump_json())
        write_text_atomic(report_path, json.dumps(report, indent=2) + "\n")
    note = folder / RESOLVE_FILE
    if outcome.state == "built":
        note.unlink(missing_ok=True)
        return
    what = {
        "pending": "will be tried again when the watch daemon next starts, or after `montage-bridge watch retry`",
        "problem": f"is not retried on its own (a retry adds a new timeline): fix the cause, then "
        f"`montage-bridge watch retry {job}`",
    }[outcome.state]
    write_text_atomic(
        note,
        f"job {job}: its timeline files are written, but building it in DaVinci Resolve "
        f"(project '{outcome.project}', bin '{outcome.bin}') did not succeed at {outcome.attempted_utc or 'start'}:\n"
        f"{outcome.error}\n\nThe Resolve step {what}.\n",
    )
