"""`montage-bridge search "QUERY" [FOLDER]`: find shots by meaning — spoken words, descriptions, file names,
and the looks the analysis measured (dark, bright, colourful, still, moving, faces … :mod:`planner.shot_search`).

The folder is analysed first (from the cache when it was analysed before), with speech on, so the
words said in each shot are searchable; with a vision model configured (``MONTAGE_LLM_VISION_MODEL``,
``--vision-model`` or ``vision_model`` in the ``[llm]`` table of ``--llm-config``) every shot is also
described in words once, and the descriptions are cached with the analysis. FOLDER may also be one
media file, or an analysis JSON written by ``analyze --output``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from analysis.cache import AnalysisCache, default_cache_dir
from analysis.describe import describe_shots
from analysis.engine import EngineOptions
from analysis.models import AnalysisResult
from kernel.errors import MediaError, MontageError
from montage_bridge import json_output
from montage_bridge.commands.analyze import _expand, _run_with_progress
from montage_bridge.console import err, out
from montage_bridge.json_output import JsonOpt
from planner.llm_config import load_llm_config
from planner.plan_io import load_analysis
from planner.shot_search import ShotIndex


class SearchCommandError(MontageError):
    """The footage to search cannot be read."""


def _analysis(
    target: Path,
    *,
    speech: bool,
    speech_model: Optional[str],
    cache: Optional[Path],
    recursive: bool,
    quiet: bool,
) -> AnalysisResult:
    if target.is_file() and target.suffix.lower() == ".json":
        return load_analysis(target)
    if not target.exists():
        raise SearchCommandError(f"{target}: no such folder or file to search")
    files, notes = _expand([target], recursive)
    for note in notes:
        json_output.warn(note)
    if not files:
        raise MediaError(f"{target}: no media files to search")
    options = EngineOptions(speech=speech, speech_model=speech_model, cache_dir=cache)
    result = _run_with_progress(files, options, quiet=quiet)
    for failure in result.failures:
        json_output.warn(f"skipped: {failure.message}")
    if not result.clips:
        raise SearchCommandError(
            f"{target}: none of the {len(files)} file(s) could be analyzed (first: {result.failures[0].message})"
        )
    return result.analysis()


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):d}:{rest:05.2f}"


def search(
    query: Annotated[str, typer.Argument(help="What to find, in words (e.g. 'dog on the beach').")],
    folder: Annotated[
        Optional[Path],
        typer.Argument(help="Footage folder, a media file, or an analysis JSON (default: the current folder)."),
    ] = None,
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Most shots to list.")] = 10,
    min_score: Annotated[
        float, typer.Option("--min-score", min=0.0, max=1.0, help="Leave out shots that match less (0..1).")
    ] = 0.0,
    speech: Annotated[
        bool, typer.Option("--speech/--no-speech", help="Transcribe speech so spoken words are searched.")
    ] = True,
    speech_model: Annotated[
        Optional[str], typer.Option("--speech-model", help="faster-whisper model folder (default: bundled tiny.en).")
    ] = None,
    describe: Annotated[
        bool,
        typer.Option("--describe/--no-describe", help="Describe shots with the vision model, when one is set."),
    ] = True,
    vision_model: Annotated[
        Optional[str], typer.Option("--vision-model", help="Vision-capable model that describes shots.")
    ] = None,
    llm_config: Annotated[
        Optional[Path],
        typer.Option(
            "--llm-config", help="TOML/JSON file of LLM settings (its llm table: vision_model, base_url, api_key)."
        ),
    ] = None,
    llm_base_url: Annotated[
        Optional[str], typer.Option("--llm-base-url", help="OpenAI-compatible base URL for the vision model.")
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Also search the media in folders inside FOLDER.")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Analyze again and do not store results.")] = False,
    cache_dir: Annotated[
        Optional[Path], typer.Option("--cache-dir", help="Cache folder (default: $MONTAGE_CACHE_DIR or ~/.cache).")
    ] = None,
) -> None:
    """Find shots by meaning: spoken words, descriptions, file names and measured looks ("dark static shot",
    "people talking"); ranked shots with their source times and why they match."""
    if as_json:
        json_output.begin("search")
    if not query.strip():
        raise typer.BadParameter("give some words to search for", param_hint="QUERY")
    target = folder if folder is not None else Path.cwd()
    cache = None if no_cache else (cache_dir or default_cache_dir())
    analysis = _analysis(
        target, speech=speech, speech_model=speech_model, cache=cache, recursive=recursive, quiet=as_json
    )
    if describe:
        settings = load_llm_config(llm_config, vision_model=vision_model, base_url=llm_base_url).vision_settings()
        if settings is not None:
            store = AnalysisCache(cache) if cache is not None else None
            try:
                report = describe_shots(analysis, settings, store)
            finally:
                if store is not None:
                    store.close()
            for warning in report.warnings:
                json_output.warn(warning)
            err.print(
                f"shot descriptions ({escape(settings.model)}): {report.described} new, {report.cached} cached, "
                f"{report.failed} failed",
                highlight=False,
            )
    described = sum(1 for c in analysis.clips for s in c.shots if s.description)
    index = ShotIndex(analysis)
    hits = index.search(query, limit=limit, min_score=min_score)
    spoken = sum(1 for c in analysis.clips if c.transcript and c.transcript.segments)
    if as_json:
        json_output.emit(
            json_output.SearchResult(
                query=query,
                hits=hits,
                clips=len(analysis.clips),
                shots=len(index.docs),
                described=described,
                with_speech=spoken,
            )
        )
        return
    if not hits:
        out.print(
            f"no shot matches {escape(repr(query))} ({len(index.docs)} shots of {len(analysis.clips)} clip(s) "
            f"searched, {spoken} with speech, {described} described)",
            highlight=False,
            soft_wrap=True,
        )
        return
    table = Table(
        title=f"{len(hits)} shot(s) for {escape(repr(query))}",
        caption=f"{len(index.docs)} shot(s) of {len(analysis.clips)} clip(s) searched, {spoken} with speech, "
        f"{described} described",
    )
    for name, justify in [("#", "right"), ("score", "right"), ("clip", "left"), ("shot", "right")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("in", justify="right")
    table.add_column("out", justify="right")
    table.add_column("why", overflow="fold")
    for rank, hit in enumerate(hits, 1):
        table.add_row(
            str(rank),
            f"{hit.score:.2f}",
            escape(hit.clip_name),
            "-" if hit.shot is None else str(hit.shot + 1),
            _clock(hit.source_in_seconds),
            _clock(hit.source_out_seconds),
            escape(hit.why),
        )
    out.print(table)
