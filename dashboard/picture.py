"""Write ``edit.html`` and ``edit.png`` beside a timeline: the entry point `auto`, `plan` and the
watch daemon call once their files are written."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from analysis.models import AnalysisResult
from dashboard.edit_html import render_html
from dashboard.edit_png import render_png
from dashboard.edit_view import build_view
from kernel.atomic_io import write_bytes_atomic, write_text_atomic
from planner.models import EditPlan

HTML_NAME = "edit.html"
PNG_NAME = "edit.png"


def write_edit_picture(
    out_dir: Path,
    plan: EditPlan,
    analysis: AnalysisResult,
    *,
    timeline: otio.schema.Timeline | None = None,
    files: list[Path] | None = None,
    warnings: list[str] | None = None,
) -> list[Path]:
    """Write ``out_dir/edit.html`` and ``out_dir/edit.png``; returns their paths."""
    view = build_view(plan, analysis, timeline=timeline, files=files, warnings=warnings)
    html_path, png_path = out_dir / HTML_NAME, out_dir / PNG_NAME
    write_text_atomic(html_path, render_html(view))
    write_bytes_atomic(png_path, render_png(view))
    return [html_path, png_path]


def try_write_edit_picture(
    out_dir: Path, plan: EditPlan, analysis: AnalysisResult, **kwargs: object
) -> tuple[list[Path], list[str]]:
    """:func:`write_edit_picture`, where a failure is a warning: the picture never costs the edit."""
    try:
        return write_edit_picture(out_dir, plan, analysis, **kwargs), []  # type: ignore[arg-type]
    except Exception as exc:
        return [], [f"could not draw the edit picture: {exc.__class__.__name__}: {exc}"]


def find_picture(target: Path) -> Path | None:
    """The ``edit.html`` that belongs to ``target``: a folder's own, or the one beside a timeline/plan file."""
    folder = target if target.is_dir() else target.parent
    candidate = folder / HTML_NAME
    return candidate if candidate.is_file() else None
