"""`montage-bridge proxies`: proxies of a footage folder (or of a timeline's media) beside the originals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from montage_bridge import json_output
from montage_bridge.console import out
from montage_bridge.json_output import JsonOpt
from montage_bridge.progress import ProgressOpt, ProgressReporter

_TIMELINE_SUFFIXES = {".otio", ".otioz", ".fcpxml", ".fcpxmld", ".xml", ".edl", ".aaf"}


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r}: give WIDTHxHEIGHT, e.g. 960x540", param_hint="--size") from exc
    if width < 16 or height < 16:
        raise typer.BadParameter(f"{text!r}: at least 16x16", param_hint="--size")
    return width, height


def _originals(source: Path, recursive: bool) -> list[Path]:
    """The media to make proxies of: a folder's footage, or every file a timeline links."""
    if source.is_dir() and source.suffix.lower() != ".fcpxmld":
        from analysis.footage import find_footage
        from proxies.make import LAYOUTS

        files, _ = find_footage(source, recursive, ignore=[parts[0] for parts in LAYOUTS.values()])
        return files
    if source.suffix.lower() not in _TIMELINE_SUFFIXES:
        raise typer.BadParameter(f"{source}: not a folder or a timeline file", param_hint="FOLDER_OR_TIMELINE")
    from nle_adapters.convert import read_timelines
    from nle_adapters.timeline_facts import media_url, url_to_path

    _, timelines = read_timelines(source, None)
    paths = {Path(url_to_path(media_url(c) or "")) for t in timelines for c in t.find_clips() if media_url(c)}
    return sorted(p for p in paths if p.is_file())


def proxies_command(
    source: Annotated[Path, typer.Argument(help="Footage folder, or a timeline whose media get proxies.")],
    size: Annotated[str, typer.Option("--size", help="Largest proxy picture, WIDTHxHEIGHT (aspect kept).")] = "960x540",
    codec: Annotated[str, typer.Option("--codec", help="prores_proxy | h264 | dnxhr_lb.")] = "prores_proxy",
    layout: Annotated[
        str,
        typer.Option(
            "--layout",
            help="resolve: FOLDER/Proxy Media/; fcp: FOLDER/Transcoded Media/Proxy Media/ (beside each file).",
        ),
    ] = "resolve",
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Also the footage in nested folders.")] = False,
    progress: ProgressOpt = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Proxies with each original's exact rate, frame count, start timecode, audio channels and name.

    Resumable: proxies that already match are kept; run it again after an interruption."""
    if as_json:
        json_output.begin("proxies")
    from kernel.proxy_recipe import CODECS
    from proxies.make import LAYOUTS, make_proxy, proxy_path

    box = _size(size)
    if codec not in CODECS:
        raise typer.BadParameter(f"{codec!r}: choose one of {', '.join(CODECS)}", param_hint="--codec")
    if layout not in LAYOUTS:
        raise typer.BadParameter(f"{layout!r}: choose {' or '.join(LAYOUTS)}", param_hint="--layout")
    if not source.exists():
        raise typer.BadParameter(f"{source}: no such file or folder", param_hint="FOLDER_OR_TIMELINE")
    from kernel.errors import MediaError
    from kernel.probe import probe_media
    from proxies.make import ProxyError, ProxyResult

    originals = _originals(source, recursive)
    if not originals:
        raise typer.BadParameter(f"{source}: no media found", param_hint="FOLDER_OR_TIMELINE")
    results: list[ProxyResult] = []
    skipped: list[Path] = []
    with ProgressReporter("proxies", progress, as_json=as_json, transient=False) as bar:
        for path in originals:
            bar.start(path.name, "proxy", item=path.name, unit="frames")
            try:
                media = probe_media(path)
                if not media.has_video:
                    bar.end(path.name, "skipped", message="no picture")
                    skipped.append(path)
                    continue
                bar.update(path.name, total=media.frames)
                result = make_proxy(
                    media,
                    layout,
                    box,
                    codec,
                    (lambda key: lambda _p, done, total: bar.update(key, done=done, total=total))(path.name),
                )
            except (ProxyError, MediaError) as exc:
                result = ProxyResult(path, proxy_path(path, layout), "failed", str(exc))
            bar.end(path.name, "failed" if result.status == "failed" else "done", message=result.status)
            results.append(result)
    failed = sum(1 for r in results if r.status == "failed")
    if as_json:
        error = None
        if failed:
            message = f"{failed} of {len(results)} proxies could not be made (see result.proxies)"
            error = json_output.ErrorInfo(message=message, kind="partial", exit_code=1)
        json_output.emit(
            json_output.ProxiesResult(
                codec=codec,
                layout=layout,
                max_width=box[0],
                max_height=box[1],
                proxies=[
                    json_output.ProxyItem(
                        original=str(r.original),
                        proxy=str(r.proxy),
                        status=r.status,
                        detail=r.detail,  # type: ignore[arg-type]
                    )
                    for r in results
                ],
                skipped=[str(p) for p in skipped],
            ),
            error=error,
        )
        if failed:
            raise typer.Exit(1)
        return
    table = Table(title=f"Proxies ({codec}, {layout} layout)")
    table.add_column("original")
    table.add_column("proxy")
    table.add_column("status")
    for result in results:
        table.add_row(result.original.name, str(result.proxy), result.detail or result.status)
    out.print(table)
    if failed:
        raise typer.Exit(1)
