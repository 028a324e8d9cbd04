"""`montage-bridge show TIMELINE_OR_FOLDER`: open the edit's picture (edit.html) in the browser."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from kernel.errors import MontageError
from montage_bridge.console import out


class ShowError(MontageError):
    """There is no picture of an edit where the user pointed."""


def show(
    target: Annotated[Path, typer.Argument(help="An output folder of auto/watch, or a timeline or plan file in it.")],
    no_open: Annotated[bool, typer.Option("--no-open", help="Print the page's path instead of opening it.")] = False,
) -> None:
    """Open the picture of an edit: its tracks, cuts and why, the music's beats, what was left out."""
    from dashboard.picture import HTML_NAME, find_picture

    if not target.exists():
        raise ShowError(f"{target}: no such file or folder")
    page = find_picture(target)
    if page is None:
        folder = target if target.is_dir() else target.parent
        raise ShowError(
            f"{folder}: no {HTML_NAME} here — `montage-bridge auto` and `plan` write one beside the timeline; "
            "run one of them again to draw it"
        )
    page = page.resolve()
    if no_open or not webbrowser.open(page.as_uri()):
        out.print(str(page), soft_wrap=True, highlight=False)
