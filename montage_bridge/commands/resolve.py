"""`montage-bridge resolve …`: install the Scripts-menu entries, read the media pool, build timelines.

Connection: the external scripting API of a running DaVinci Resolve Studio. For tests and demos
without Resolve set ``MONTAGE_RESOLVE=fake`` (an empty fake project) or ``MONTAGE_RESOLVE=fake:DIR``
(the media under DIR imported into bin "Footage"); ``MONTAGE_RESOLVE_PROFILE`` picks the fake's
build, e.g. ``studio-21``, ``free-19``, ``18.0``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import opentimelineio as otio
import typer
from pydantic import ValidationError
from rich.table import Table

from analysis.models import AnalysisResult
from kernel.errors import MontageError
from kernel.timebase import format_rate
from montage_bridge import json_output
from montage_bridge.console import err, out
from montage_bridge.json_output import JsonOpt
from nle_adapters.convert import read_timelines
from nle_adapters.plan_to_otio import build_timeline
from planner.models import EditPlan
from resolve_bridge.apply import BuildResult
from resolve_bridge.connect import connect
from resolve_bridge.install import install, scripts_dir
from resolve_bridge.media_pool import read_media_items
from resolve_bridge.timeline_builder import build_in_resolve

app = typer.Typer(help="DaVinci Resolve: Scripts-menu entries, media pool, timeline building.", no_args_is_help=True)


class InputError(MontageError):
    """A plan or timeline file given to `resolve build` that cannot be used."""


@app.command("install")
def install_cmd(
    all_users: Annotated[
        bool, typer.Option("--all-users", help="Install for every user (needs admin rights).")
    ] = False,
    uninstall: Annotated[bool, typer.Option("--uninstall", help="Remove the entries this command installed.")] = False,
    platform: Annotated[
        Optional[str], typer.Option("--platform", help="macos, windows or linux (default: this machine).")
    ] = None,
    launchers: Annotated[
        str,
        typer.Option(
            "--launchers",
            help="auto (by the edition and version found), lua, python or both. Free Resolve 21.1+ lists only Lua.",
        ),
    ] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Put the Montage Bridge entries in Resolve's Workspace ▸ Scripts menu (Utility folder), in Lua and/or Python."""
    if as_json:
        json_output.begin("resolve install")
    if launchers not in ("auto", "lua", "python", "both"):
        raise typer.BadParameter("choose auto, lua, python or both", param_hint="--launchers")
    folder = scripts_dir(platform, all_users=all_users)
    result = install(folder, uninstall=uninstall, launchers=launchers)
    if as_json:
        json_output.emit(
            json_output.InstallResult(
                folder=str(folder),
                uninstall=uninstall,
                written=[str(p) for p in result.written],
                removed=[str(p) for p in result.removed],
                reasons=list(result.reasons),
            )
        )
        return
    if uninstall:
        out.print(
            f"removed {len(result.removed)} Montage Bridge entr{'y' if len(result.removed) == 1 else 'ies'} "
            f"from {folder}"
        )
        return
    for reason in result.reasons:
        out.print(reason)
    for path in result.written:
        out.print(f"installed {path.name}")
    for path in result.removed:
        out.print(f"removed {path.name}")
    out.print(f"into {folder}")
    out.print("In Resolve: Workspace ▸ Scripts ▸ Montage Bridge - … (reopen the menu if they do not show yet)")


@app.command("menu-run", hidden=True)
def menu_run_cmd(
    action: Annotated[str, typer.Argument(help="auto_edit or analyze")],
    records: Annotated[Path, typer.Option("--records", help="Clip records JSON the Lua entry wrote.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for answer.tsv and the timeline file.")],
    product: Annotated[str, typer.Option("--product", help="Resolve's GetProductName().")] = "",
    resolve_version: Annotated[str, typer.Option("--resolve-version", help="Resolve's GetVersionString().")] = "",
) -> None:
    """The CLI half of the Lua Scripts-menu entries: records in, answer.tsv out (see resolve_bridge.lua_launcher)."""
    from resolve_bridge.lua_launcher import ANSWER_NAME, menu_run

    del product  # the format choice needs only the version; kept so the answer can grow without new flags
    status = menu_run(action, records, out_dir, resolve_version=resolve_version)
    if status:
        first = (out_dir / ANSWER_NAME).read_text(encoding="utf-8").split("\t", 1)[-1].strip()
        err.print(f"montage-bridge: {first}")
        raise typer.Exit(2)


@app.command("pool")
def pool_cmd(
    bin_path: Annotated[
        Optional[str], typer.Option("--bin", help="Bin to read, e.g. 'Footage/Day 1' (default: the current bin).")
    ] = None,
    selected: Annotated[bool, typer.Option("--selected", help="Read the clips selected in the media pool.")] = False,
    recursive: Annotated[bool, typer.Option("--recursive/--no-recursive", help="Include sub-bins.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """List the media pool's clips as the analysis pipeline sees them (path, rate, frames, start TC…)."""
    if as_json:
        json_output.begin("resolve pool")
    connection = connect()
    scan = read_media_items(connection.resolve, bin_path=bin_path, selected=selected, recursive=recursive)
    if as_json:
        data = json.loads(scan.model_dump_json())
        for line in scan.skipped:
            json_output.warn(f"skipped: {line}")
        json_output.emit(
            json_output.PoolResult(
                resolve=connection.capabilities.label, clips=data["clips"], audio=data["audio"], skipped=data["skipped"]
            )
        )
        return
    table = Table(title=f"media pool — {connection.capabilities.label}")
    for column in ("bin", "clip", "rate", "frames", "start TC", "size", "audio ch", "path"):
        table.add_column(column)
    for clip in [*scan.clips, *scan.audio]:
        m = clip.media
        table.add_row(
            clip.bin,
            m.name,
            format_rate(m.rate),
            str(m.frames),
            m.start_timecode if m.has_video else "",
            f"{m.width}x{m.height}" if m.has_video else "audio",
            str(m.audio_channels),
            str(m.path),
        )
    out.print(table)
    for line in scan.skipped:
        err.print(f"[yellow]skipped:[/] {line}")


def load_timeline(path: Path, analysis_path: Path | None) -> otio.schema.Timeline:
    """A plan (JSON: an EditPlan with --analysis, or {"plan", "analysis"}) or any timeline file."""
    if not path.is_file() and not (path.is_dir() and path.suffix.lower() == ".fcpxmld"):
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and "plan" in data:
                plan = EditPlan.model_validate(data["plan"])
                analysis = AnalysisResult.model_validate(data["analysis"])
            else:
                plan = EditPlan.model_validate(data)
                if analysis_path is None:
                    raise InputError(f"{path}: a bare edit plan needs --analysis ANALYSIS.json (the clips it cuts)")
                analysis = AnalysisResult.model_validate_json(analysis_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, ValidationError, KeyError, OSError) as exc:
            first = str(exc).splitlines()[0]
            raise InputError(f"{path}: not a Montage Bridge edit plan ({first})") from exc
        return build_timeline(plan, analysis)
    # Our readers, chosen by content and named explicitly: a suffix lookup in OTIO picks whichever
    # plugin loaded first (the upstream cmx_3600 read EDLs with no rate: "no frame rate").
    _, timelines = read_timelines(path)
    return timelines[0]


def print_result(result: BuildResult) -> None:
    lines = result.lines()
    out.print(("[green]" if result.ok else "[red]") + lines[0])
    for line in lines[1:]:
        (out if line.startswith(("note", "how")) else err).print(f"  {line}")


def send_to_resolve(
    timeline: otio.schema.Timeline,
    *,
    method: str = "auto",
    import_format: str = "auto",
    name: str | None = None,
    bin_name: str = "Montage Bridge",
    bins: dict[str, list[str]] | None = None,
) -> BuildResult:
    """Build ``timeline`` in the connected Resolve and print the verified outcome.

    ``bins`` ({bin name: file paths}) are imported into those bins before the build (see build_in_resolve).
    """
    connection = connect()
    err.print(f"connected to {connection.capabilities.label} ({connection.mode})")
    result = build_in_resolve(
        connection.resolve,
        timeline,
        method=method,
        import_format=import_format,
        name=name,
        bin_name=bin_name,
        log=lambda line: err.print(f"[dim]{line}[/]"),
        bins=bins,
    )
    print_result(result)
    return result


@app.command("build")
def build_cmd(
    plan_or_timeline: Annotated[Path, typer.Argument(help="Edit plan JSON, or a timeline file (.otio, .fcpxml…).")],
    analysis: Annotated[Optional[Path], typer.Option("--analysis", help="Analysis JSON for a bare edit plan.")] = None,
    method: Annotated[
        str, typer.Option("--method", help="append (API), import (file) or auto (append on 18.5+).")
    ] = "auto",
    import_format: Annotated[
        str, typer.Option("--import-format", help="otio, fcpxml, xml or auto, for the import method.")
    ] = "auto",
    name: Annotated[Optional[str], typer.Option("--name", help="Timeline name (never overwrites: suffixed).")] = None,
    bin_name: Annotated[str, typer.Option("--bin", help="Bin for clips imported into the pool.")] = "Montage Bridge",
    as_json: JsonOpt = False,
) -> None:
    """Build a timeline in Resolve from a plan or timeline file, then verify every clip landed."""
    if as_json:
        json_output.begin("resolve build")
    if method not in ("auto", "append", "import"):
        raise typer.BadParameter("choose append, import or auto", param_hint="--method")
    if import_format not in ("auto", "otio", "fcpxml", "xml"):
        raise typer.BadParameter("choose otio, fcpxml, xml or auto", param_hint="--import-format")
    timeline = load_timeline(plan_or_timeline, analysis)
    result = send_to_resolve(timeline, method=method, import_format=import_format, name=name, bin_name=bin_name)
    if as_json:
        error = None
        if not result.ok:
            message = f"Resolve's timeline is not as planned: {result.lines()[0]}"
            error = json_output.ErrorInfo(message=message, kind="partial", exit_code=1)
        json_output.emit(json_output.ResolveBuild.from_build(result), error=error)
    if not result.ok:
        raise typer.Exit(1)
