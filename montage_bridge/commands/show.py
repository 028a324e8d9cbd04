"""`montage-bridge show TIMELINE_OR_FOLDER`: open the edit's picture (edit.html) in the browser."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from kernel.errors import MontageError
from montage_bridge import json_output
from montage_bridge.console import out
from montage_bridge.json_output import JsonOpt


class ShowError(MontageError):
    """There is no picture of an edit where the user pointed."""


def show(
    target: Annotated[Path, typer.Argument(help="An output folder of auto/watch, or a timeline or plan file in it.")],
    no_open: Annotated[bool, typer.Option("--no-open", help="Print the page's path instead of opening it.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Open the picture of an edit: its tracks, cuts and why, the music's beats, what was left out."""
    if as_json:
        json_output.begin("show")
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
    opened = not no_open and webbrowser.open(page.as_uri())
    if as_json:
        json_output.emit(json_output.ShowResult(page=str(page), url=page.as_uri(), opened=opened))
    elif not opened:
        out.print(str(page), soft_wrap=True, highlight=False)
