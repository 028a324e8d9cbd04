"""`montage-bridge analyze PATH...`: run the analysis engine and show or save what it found."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from analysis.cache import default_cache_dir
from analysis.engine import EngineOptions, EngineResult, ProgressEvent, analyze_paths
from analysis.footage import find_footage, skipped_summary
from analysis.models import AnalysisResult
from kernel.atomic_io import write_text_atomic
from kernel.errors import MediaError, MontageError
from kernel.timebase import format_rate
from montage_bridge import json_output
from montage_bridge.console import err, out
from montage_bridge.json_output import JsonOpt


class AnalyzeError(MontageError):
    """Some inputs could not be analyzed."""


def _expand(paths: list[Path], recursive: bool = False) -> tuple[list[Path], list[str]]:
    """(files, warnings): files as given, folders expanded to the media inside them (sorted; see
    ``analysis.footage.find_footage``), and one line per folder naming what was set aside there."""
    files: list[Path] = []
    notes: list[str] = []
    for path in paths:
        if path.is_dir():
            media, skipped = find_footage(path, recursive)
            files.extend(media)
            note = skipped_summary(skipped, path)
            if note:
                notes.append(f"{path}: {note}" if len(paths) > 1 else note)
        else:
            files.append(path)
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, notes


def _run_with_progress(files: list[Path], options: EngineOptions, quiet: bool) -> EngineResult:
    """Run the engine with one bar per file (frames) and an overall bar with ETA, on stderr."""
    with Progress(
        TextColumn("[bold]{task.description}", justify="left"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=quiet,
    ) as bar:
        overall = bar.add_task("all files", total=len(files), stage="")
        per_file: dict[int, TaskID] = {}
        fractions = [0.0] * len(files)

        def on_event(event: ProgressEvent) -> None:
            task = per_file.get(event.index)
            if task is None and event.stage not in ("cached", "failed"):
                task = per_file[event.index] = bar.add_task(event.path.name, total=None, stage="")
            if task is not None:
                if event.stage == "frames":
                    bar.update(task, completed=event.done, total=event.total, stage="frames")
                else:
                    bar.update(task, stage=event.stage)
                if event.stage in ("done", "failed"):
                    bar.remove_task(task)
                    del per_file[event.index]
            fractions[event.index] = max(fractions[event.index], event.fraction)
            bar.update(overall, completed=sum(fractions))

        return analyze_paths(files, options, progress=on_event)


def _summary(result: EngineResult, seconds: float) -> Table:
    table = Table(title=f"{len(result.clips)} analyzed ({result.cached} from cache) in {seconds:.1f} s")
    for name, justify in [
        ("clip", "left"),
        ("rate", "right"),
        ("frames", "right"),
        ("shots", "right"),
        ("quality", "right"),
        ("faces", "right"),
        ("loudness", "right"),
        ("silences", "right"),
        ("words", "right"),
        ("notes", "left"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for clip in result.clips:
        media = clip.media
        scores = [s.quality.score for s in clip.shots if s.quality]
        faces = max((s.quality.faces for s in clip.shots if s.quality), default=0)
        words = sum(len(seg.words) for seg in clip.transcript.segments) if clip.transcript else None
        notes = []
        if media.variable_frame_rate:
            notes.append("VFR")
        if media.rotation:
            notes.append(f"rotated {media.rotation}°")
        if not media.has_video:
            notes.append("audio only")
        table.add_row(
            clip.id,
            format_rate(media.rate) if media.has_video else "-",
            str(media.frames) if media.has_video else "-",
            str(len(clip.shots)),
            f"{sum(scores) / len(scores):.2f}" if scores else "-",
            str(faces),
            f"{clip.loudness_lufs:.1f} LUFS" if clip.loudness_lufs is not None else "-",
            str(len(clip.silences)),
            "-" if words is None else str(words),
            ", ".join(notes),
        )
    for failure in result.failures:
        table.add_row(failure.path.name, "", "", "", "", "", "", "", "", "[red]failed[/] (see below)")
    return table


def _write_transcripts(result: EngineResult, folder: Path) -> list[Path]:
    from analysis.speech import transcript_to_json, transcript_to_srt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for clip in result.clips:
        if clip.transcript is None:
            continue
        for suffix, text in (
            (".srt", transcript_to_srt(clip.transcript)),
            (".json", transcript_to_json(clip.transcript)),
        ):
            target = folder / f"{clip.id}{suffix}"
            write_text_atomic(target, text)
            written.append(target)
    return written


def analyze(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Media files or folders of them.")] = None,
    speech: Annotated[bool, typer.Option("--speech", help="Transcribe speech (faster-whisper, offline).")] = False,
    jobs: Annotated[
        Optional[int], typer.Option("--jobs", "-j", min=1, help="Clips analyzed in parallel (default: CPU count).")
    ] = None,
    as_json: JsonOpt = False,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Also write the analysis JSON to this file.")
    ] = None,
    transcripts: Annotated[
        Optional[Path], typer.Option("--transcripts", help="Folder for each clip's transcript as .srt and .json.")
    ] = None,
    speech_model: Annotated[
        Optional[str],
        typer.Option("--speech-model", help="faster-whisper model folder (default: bundled tiny.en)."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Analyze again and do not store results.")] = False,
    cache_dir: Annotated[
        Optional[Path], typer.Option("--cache-dir", help="Cache folder (default: $MONTAGE_CACHE_DIR or ~/.cache).")
    ] = None,
    skip_unreadable: Annotated[
        bool, typer.Option("--skip-unreadable", help="Report unreadable files but still succeed.")
    ] = False,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON schema of the analysis output and exit.")
    ] = False,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Also analyze the media in folders inside the given folders.")
    ] = False,
) -> None:
    """Analyze footage: shots, picture quality, motion, faces, loudness, silences and (with --speech) words."""
    if schema:
        out.out(json.dumps(AnalysisResult.model_json_schema(), indent=2), highlight=False)
        return
    if as_json:
        json_output.begin("analyze")
    if not paths:
        raise AnalyzeError("give at least one media file or folder to analyze (PATH...), or --schema")
    if transcripts is not None and not speech:
        raise typer.BadParameter("--transcripts needs --speech", param_hint="--transcripts")
    files, notes = _expand(paths, recursive)
    for note in notes:
        json_output.warn(note)
    if not files:
        raise MediaError("no media files found in the given paths")
    options = EngineOptions(
        speech=speech,
        speech_model=speech_model,
        jobs=jobs,
        cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
    )
    started = time.perf_counter()
    result = _run_with_progress(files, options, quiet=False)
    seconds = time.perf_counter() - started
    failed = bool(result.failures) and not skip_unreadable
    if failed:
        # No output files when we exit with an error: the table shows every failure and the good
        # clips are cached, so the rerun with --skip-unreadable (or fixed files) is cheap.
        if not as_json:
            out.print(_summary(result, seconds))
            for failure in result.failures:
                out.print(f"failed: {failure.message}", highlight=False, soft_wrap=True)
        raise AnalyzeError(
            f"{len(result.failures)} of {len(files)} file(s) could not be analyzed "
            f"(first: {result.failures[0].message}); rerun with --skip-unreadable to accept the rest"
        )
    analysis = result.analysis()
    text = analysis.model_dump_json(indent=2) + "\n"
    if output is not None:
        write_text_atomic(output, text)
    written = _write_transcripts(result, transcripts) if transcripts is not None else []
    for path in written:
        err.print(f"wrote {path}", highlight=False)
    for failure in result.failures:
        json_output.warn(f"skipped: {failure.message}")
    if as_json:
        json_output.emit(
            json_output.AnalyzeResult(
                analysis=analysis,
                files=len(result.clips),
                cached=result.cached,
                seconds=round(seconds, 3),
                skipped=[json_output.AnalyzeFailure(path=str(f.path), message=f.message) for f in result.failures],
                output=None if output is None else str(output),
                transcripts=[str(p) for p in written],
            )
        )
    else:
        out.print(_summary(result, seconds))
        if output is not None:
            out.print(f"wrote {output}", highlight=False)
