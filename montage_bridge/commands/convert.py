"""`montage-bridge convert IN OUT`: timeline files between OTIO, FCPXML, FCP7 XML and EDL, with a loss report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from montage_bridge import json_output
from montage_bridge.console import out
from montage_bridge.json_output import JsonOpt
from nle_adapters.convert import CONVERT_FORMATS, ConvertOptions, convert


def convert_command(
    source: Annotated[Path, typer.Argument(help="Timeline file (or folder of them) to convert.")],
    target: Annotated[
        Path,
        typer.Argument(
            help="Output file (a .fcpxmld name writes an FCPXML bundle folder), or a folder when SOURCE is one: "
            "each output is named after its input, inputs sharing a name keep their suffix (cut.xml.fcpxml)."
        ),
    ],
    to: Annotated[
        Optional[str],
        typer.Option("--to", help=f"Target format: {', '.join(CONVERT_FORMATS)} (default: OUT's suffix)."),
    ] = None,
    fcpxml_version: Annotated[
        str, typer.Option("--fcpxml-version", help="FCPXML version to write (1.8–1.11).")
    ] = "1.10",
    edl_track: Annotated[
        Optional[int],
        typer.Option("--edl-track", min=1, help="Write only this video track to the EDL (default: one EDL per track)."),
    ] = None,
    xmeml_version: Annotated[
        int, typer.Option("--xmeml-version", min=4, max=5, help="FCP7 XML version: 4 (Premiere) or 5 (Resolve).")
    ] = 4,
    rate: Annotated[
        Optional[str], typer.Option("--rate", help="Frame rate of an EDL input, e.g. 24000/1001 (default: inferred).")
    ] = None,
    as_json: JsonOpt = False,
    relink: Annotated[
        Optional[str],
        typer.Option("--relink", help="originals | proxies: switch the media (frame-exact, checked; see proxies)."),
    ] = None,
) -> None:
    """Convert timelines between formats with frame-exact adapters and report what the target cannot hold."""
    if as_json:
        json_output.begin("convert")
    transform = None
    if relink is not None:
        from proxies.relink import TARGETS, relink_timeline

        if relink not in TARGETS:
            raise typer.BadParameter(f"{relink!r}: choose originals or proxies", param_hint="--relink")

        def transform(timeline) -> None:  # type: ignore[no-untyped-def]
            report = relink_timeline(timeline, relink)
            for missing in report.missing:
                json_output.warn(f"no {relink[:-1] if relink == 'proxies' else 'original'} for {missing}")

    options = ConvertOptions(
        to=to,
        fcpxml_version=fcpxml_version,
        edl_track=edl_track,
        xmeml_version=xmeml_version,
        rate=rate,
        transform=transform,
    )
    reports = convert(source, target, options)
    if as_json:
        json_output.emit(json_output.ConvertResult.from_reports(reports))
        return
    table = Table(title="Conversion loss report")
    table.add_column("input")
    table.add_column("output")
    table.add_column("lost or approximated")
    for report in reports:
        losses = "\n".join(f"{item.feature} ({item.count}): {item.detail}" for item in report.losses) or "nothing"
        table.add_row(f"{report.source} [{report.format}]", "\n".join(report.outputs), losses)
    out.print(table)
