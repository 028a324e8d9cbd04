"""`montage-bridge render TIMELINE -o out.mp4`: a watchable preview of a timeline, mixed and checked.

Exit codes: 0 rendered and every quality check passed; 2 nothing rendered (bad input, missing
media, ffmpeg failure: one line on stderr, no output file left); 3 rendered, but a quality check
failed (the file is kept; the failures are listed).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from montage_bridge import json_output
from montage_bridge.console import out
from montage_bridge.json_output import JsonOpt
from montage_bridge.progress import ProgressOpt, ProgressReporter
from nle_adapters.convert import read_timelines
from render.errors import RenderError
from render.layout import layout_timeline
from render.loudness import DEFAULT_TARGET, parse_target
from render.render import CODECS, RenderOptions, RenderReport, render_timeline

QC_FAILED_EXIT = 3


def find_timeline_file(path: Path) -> Path:
    """``path`` itself, or the one OTIO file of an ``auto`` output folder."""
    if not path.exists():
        raise RenderError(f"{path}: no such file or folder")
    if not path.is_dir() or path.suffix.lower() == ".fcpxmld":
        return path
    candidates = sorted(p for p in path.glob("*.otio") if p.is_file())
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise RenderError(f"{path}: no .otio timeline in this folder — pass the timeline file itself")
    names = ", ".join(p.name for p in candidates)
    raise RenderError(f"{path}: several timelines ({names}) — pass the one to render")


def _size(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d{2,5})\s*[xX:]\s*(\d{2,5})\s*", value)
    if not match:
        raise typer.BadParameter(f"{value!r}: give WIDTHxHEIGHT, e.g. 1280x720", param_hint="--size")
    width, height = int(match[1]), int(match[2])
    if width % 2 or height % 2:
        raise typer.BadParameter(f"{value}: width and height must be even (4:2:0 video)", param_hint="--size")
    return width, height


def _transcripts(timeline, speech_model: str | None) -> dict:
    """Speech analysis (cached by content) of every file heard on a dialogue track."""
    from montage_bridge.commands.auto_finish import transcribe

    return transcribe(layout_timeline(timeline), speech_model)


def render_command(
    timeline: Annotated[
        Path, typer.Argument(help="Timeline file (OTIO, FCPXML, FCP7 XML, EDL, AAF) or an `auto` output folder.")
    ],
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Video file to write (default: TIMELINE.mp4).")
    ] = None,
    codec: Annotated[str, typer.Option("--codec", help=f"Video codec: {', '.join(CODECS)}.")] = "h264",
    size: Annotated[
        Optional[str], typer.Option("--size", help="Frame size WIDTHxHEIGHT (default: the timeline's).")
    ] = None,
    crf: Annotated[
        Optional[int], typer.Option("--crf", help="Quality (lower is better): h264 20, h265 24, vp9 32 by default.")
    ] = None,
    loudness: Annotated[
        str,
        typer.Option(
            "--loudness",
            help="Integrated loudness target in LUFS (-16 web, -14 streaming, -23 EBU R128, -24 ATSC A/85) or 'off'.",
        ),
    ] = str(DEFAULT_TARGET),
    true_peak: Annotated[float, typer.Option("--true-peak", max=0.0, help="True-peak ceiling, dBTP.")] = -1.0,
    captions: Annotated[
        bool, typer.Option("--captions", help="Transcribe the dialogue and write OUTPUT.srt and OUTPUT.vtt.")
    ] = False,
    burn_captions: Annotated[
        bool, typer.Option("--burn-captions", help="Also burn the captions into the picture.")
    ] = False,
    speech_model: Annotated[
        Optional[str], typer.Option("--speech-model", help="faster-whisper model folder or cached name.")
    ] = None,
    clip_audio: Annotated[
        str,
        typer.Option(
            "--clip-audio", help="Play picture clips' own sound: auto (when there is no audio track), on, off."
        ),
    ] = "auto",
    duck: Annotated[
        bool, typer.Option("--duck/--no-duck", help="Lower the music under speech (depth set by the style).")
    ] = True,
    index: Annotated[
        int, typer.Option("--timeline", min=1, help="Which timeline of a file holding several (1-based).")
    ] = 1,
    rate: Annotated[Optional[str], typer.Option("--rate", help="Frame rate of an EDL input (EDLs state none).")] = None,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Run the quality check on the result.")] = True,
    as_json: JsonOpt = False,
    progress: ProgressOpt = "auto",
) -> None:
    """Render a timeline to a video file in one ffmpeg pass, mixed, loudness-normalised and checked.

    Exit code 0: rendered and checked; 2: nothing rendered (the error says why); 3: rendered but a quality check failed.
    """
    if as_json:
        json_output.begin("render")
    if codec not in CODECS:
        raise typer.BadParameter(f"{codec!r}: choose from {', '.join(CODECS)}", param_hint="--codec")
    if clip_audio not in ("auto", "on", "off"):
        raise typer.BadParameter(f"{clip_audio!r}: choose auto, on or off", param_hint="--clip-audio")
    frame_size = _size(size)
    target = None if loudness.strip().lower() in ("off", "none", "no") else parse_target(loudness)
    source = find_timeline_file(timeline)
    _, timelines = read_timelines(source, rate)
    if index > len(timelines):
        raise RenderError(f"{source}: holds {len(timelines)} timeline(s), not {index}")
    chosen = timelines[index - 1]
    suffix = {"prores": ".mov", "vp9": ".webm"}.get(codec, ".mp4")
    target_path = output or source.parent / (source.stem + suffix)
    transcripts = _transcripts(chosen, speech_model) if (captions or burn_captions) else None
    options = RenderOptions(
        codec=codec,
        crf=crf,
        size=frame_size,
        loudness=target,
        ceiling=true_peak,
        clip_audio=clip_audio,  # type: ignore[arg-type]
        duck=duck,
        transcripts=transcripts,
        captions=captions or burn_captions,
        burn_captions=burn_captions,
        check=check,
    )
    with ProgressReporter("render", progress, as_json=as_json) as bar:
        bar.start("render", "render", item=target_path.name, unit="seconds")
        report = render_timeline(
            chosen, target_path, options, progress=lambda done, total: bar.update("render", done=done, total=total)
        )
        bar.end("render")  # an exception ends it "failed" on the way out
    if as_json:
        emit_render(report)
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(QC_FAILED_EXIT)


def emit_render(report: RenderReport) -> None:
    """``render --json``: the report, ``ok: false`` (kind check_failed) when a quality check failed."""
    for warning in report.warnings:
        json_output.warn(warning)
    error = None
    if not report.ok:
        error = json_output.ErrorInfo(
            message=f"{report.output}: rendered, but the quality check failed: {'; '.join(report.failures)}",
            kind="check_failed",
            exit_code=QC_FAILED_EXIT,
        )
    json_output.emit(json_output.RenderResult.from_report(report), error=error)


def _print_report(report: RenderReport) -> None:
    data = report.as_dict()
    table = Table(title=f"Rendered {report.output}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("length", f"{report.frames} frames at {report.rate} fps ({report.seconds:.2f} s)")
    table.add_row("video", f"{report.codec} {report.width}x{report.height}")
    table.add_row("render time", f"{report.elapsed:.1f} s ({data['speed']}x real time)")
    before, after = data["loudness_before"], data["loudness_after"]
    if before:
        table.add_row(
            "mix before",
            f"{before['integrated_lufs']} LUFS, LRA {before['lra_lu']} LU, true peak {before['true_peak_dbtp']} dBTP",
        )
    if after:
        mode = f" ({report.normalization} normalisation)" if report.normalization else ""
        table.add_row(
            "render",
            f"{after['integrated_lufs']} LUFS, LRA {after['lra_lu']} LU, "
            f"true peak {after['true_peak_dbtp']} dBTP{mode}",
        )
    if report.ducked_spans:
        table.add_row("ducking", f"music lowered under {report.ducked_spans} speech span(s)")
    if report.captions:
        fast = f", {report.captions_too_fast} faster than 17 chars/s" if report.captions_too_fast else ""
        table.add_row("captions", f"{report.caption_count} cues{fast}: " + ", ".join(p.name for p in report.captions))
    for warning in report.warnings:
        table.add_row("[yellow]warning", warning)
    for failure in report.failures:
        table.add_row("[red]check failed", failure)
    if report.quality is not None and not report.failures:
        table.add_row("check", "passed (duration, black, frozen, silence, loudness)")
    out.print(table)
