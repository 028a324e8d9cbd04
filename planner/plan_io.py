"""Reading analysis JSON and writing plan JSON: untrusted input in, atomic output out."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from analysis.models import AnalysisResult
from kernel.atomic_io import write_text_atomic
from kernel.errors import MontageError
from planner.models import EditPlan


class PlanFileError(MontageError):
    """An analysis or plan file that cannot be read or written."""


def _where(exc: ValidationError) -> str:
    err = exc.errors()[0]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{'.'.join(str(p) for p in err['loc']) or 'top level'}: {err['msg']}{more}"


def load_analysis(path: Path) -> AnalysisResult:
    """An :class:`AnalysisResult` from a JSON file; errors name the file, line or field."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PlanFileError(f"{path}: no such analysis file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"{path}: cannot read analysis ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    try:
        return AnalysisResult.model_validate(data)
    except ValidationError as exc:
        raise PlanFileError(f"{path}: not an analysis result: {_where(exc)}") from exc


def load_plan(path: Path) -> EditPlan:
    """An :class:`EditPlan` from a JSON file written by :func:`write_plan`."""
    try:
        return EditPlan.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read plan ({exc})") from exc
    except ValidationError as exc:
        raise PlanFileError(f"{path}: not an edit plan: {_where(exc)}") from exc


def write_plan(plan: EditPlan, path: Path) -> None:
    """Write ``plan`` as indented JSON, atomically (a crash leaves the old file or none)."""
    if not path.parent.is_dir():
        raise PlanFileError(f"{path.parent}: output folder does not exist")
    try:
        write_text_atomic(path, plan.model_dump_json(indent=2) + "\n")
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot write plan ({exc.strerror or exc})") from exc
