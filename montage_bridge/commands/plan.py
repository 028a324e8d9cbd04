"""`montage-bridge plan`: analysis JSON + brief → edit plan JSON (heuristic or LLM)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from analysis.beats import analyze_music
from kernel.timebase import format_rate, frames_to_seconds
from montage_bridge import json_output
from montage_bridge.console import out
from montage_bridge.json_output import JsonOpt
from planner.brief import Brief, brief_from_mapping, load_brief
from planner.llm_config import load_llm_config
from planner.make_plan import make_plan
from planner.plan_io import load_analysis, write_plan


def brief_with_flags(brief_file: Optional[Path], **flags: object) -> Brief:
    """The brief file's fields (if any), overridden by the flags the user gave."""
    base = load_brief(brief_file).model_dump(exclude_unset=True) if brief_file else {}
    given = {k: v for k, v in flags.items() if v not in (None, [], ())}
    return brief_from_mapping({**base, **given}, str(brief_file) if brief_file else "command line")


def plan(
    analysis_file: Annotated[Path, typer.Argument(help="Analysis JSON (an AnalysisResult).")],
    brief: Annotated[Optional[Path], typer.Option("--brief", "-b", help="Brief file (.toml or .json).")] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Plan JSON to write (default: ANALYSIS.plan.json).")
    ] = None,
    style: Annotated[Optional[str], typer.Option("--style", "-s", help="Style name or .toml file.")] = None,
    mode: Annotated[Optional[str], typer.Option("--mode", help="music_montage, talking_head or highlights.")] = None,
    duration: Annotated[Optional[float], typer.Option("--duration", "-d", help="Target length in seconds.")] = None,
    aspect: Annotated[Optional[str], typer.Option("--aspect", help="16:9, 9:16 or 1:1.")] = None,
    pace: Annotated[Optional[str], typer.Option("--pace", help="slow, normal, fast or a factor like 1.5.")] = None,
    must_include: Annotated[
        Optional[list[str]], typer.Option("--must-include", help="Clip id that must appear (repeatable).")
    ] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Timeline name.")] = None,
    music: Annotated[
        Optional[Path], typer.Option("--music", "-m", help="Music to cut to, when the analysis has none.")
    ] = None,
    llm: Annotated[
        bool, typer.Option("--llm", help="Plan with an OpenAI-compatible LLM (falls back on failure).")
    ] = False,
    llm_config: Annotated[
        Optional[Path], typer.Option("--llm-config", help="TOML/JSON file with an [llm] table.")
    ] = None,
    llm_model: Annotated[Optional[str], typer.Option("--llm-model", help="Model name (overrides config/env).")] = None,
    llm_base_url: Annotated[
        Optional[str],
        typer.Option("--llm-base-url", help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1."),
    ] = None,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="Also source the brief's shots (footage, generation, titles) and print per shot and in total the "
            "tool, GPU seconds, money and wall time, fitted to the budget and deadline "
            "(writes ANALYSIS.production.json).",
        ),
    ] = False,
    production: Annotated[
        Optional[Path], typer.Option("--production", help="With --estimate: estimate this production plan JSON.")
    ] = None,
    budget: Annotated[
        Optional[float], typer.Option("--budget", help="Money cap for GPU work and LLM calls (catalogue currency).")
    ] = None,
    deadline: Annotated[
        Optional[float], typer.Option("--deadline", help="Wall-time cap for production work, seconds.")
    ] = None,
    worker: Annotated[
        Optional[str],
        typer.Option("--worker", envvar="MONTAGE_GPU_URL", help="With --estimate: count this GPU worker's queue."),
    ] = None,
    token: Annotated[
        Optional[str], typer.Option("--token", envvar="MONTAGE_GPU_TOKEN", help="GPU worker token.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make an edit plan from an analysis and a brief, and write it as JSON (with --estimate, the
    production plan too: where each of the brief's shots comes from and what it costs)."""
    if as_json:
        json_output.begin("plan")
    the_brief = brief_with_flags(
        brief,
        mode=mode,
        target_duration_seconds=duration,
        aspect=aspect,
        pace=pace,
        must_include=must_include,
        name=name,
        style=style,
        music=music,
        budget=budget,
        deadline_seconds=deadline,
    )
    analysis = load_analysis(analysis_file)
    if the_brief.music is not None and (analysis.music is None or music is not None):
        # The brief names music the analysis has not seen (or the flag replaces it): analyze it now.
        analysis = analysis.model_copy(update={"music": analyze_music(the_brief.music)})
    config = load_llm_config(llm_config, model=llm_model, base_url=llm_base_url) if llm else None
    fitted = None
    if estimate or production is not None:  # before anything is written: a missing shot list stops here
        from montage_bridge.commands import plan_estimate

        fitted = plan_estimate.production_estimate(
            analysis, the_brief, production=production, worker=worker, token=token
        )
    result = make_plan(analysis, the_brief, the_brief.style, llm=config)
    target = output or analysis_file.with_name(analysis_file.name.removesuffix(".json") + ".plan.json")
    write_plan(result, target)
    production_file = None
    if fitted is not None:
        production_file = target.with_name(target.name.removesuffix(".json").removesuffix(".plan") + ".production.json")
        plan_estimate.write_production(fitted.plan, production_file)
        if not fitted.fits:
            for note in fitted.plan.notes:
                if note.startswith("cannot "):
                    json_output.warn(note)
    from dashboard.picture import try_write_edit_picture  # edit.html/edit.png beside the plan

    picture, failed = try_write_edit_picture(target.parent, result, analysis, warnings=[*result.warnings])
    for warning in [*result.warnings, *failed]:
        json_output.warn(warning)
    seconds = float(frames_to_seconds(result.duration_frames, result.rate))
    if as_json:
        json_output.emit(
            json_output.PlanResult(
                plan_file=str(target),
                name=result.name,
                rate=json_output.rate_text(result.rate),
                aspect=result.aspect,
                mode=result.mode,
                style=result.style,
                planner=result.planner,
                cuts=sum(1 for c in result.cuts if c.kind == "video"),
                clips_used=len({c.clip_id for c in result.cuts}),
                clips_analyzed=len(analysis.clips),
                duration_frames=result.duration_frames,
                duration_seconds=round(seconds, 6),
                picture=[str(p) for p in picture],
                production=fitted.plan if fitted else None,
                production_file=str(production_file) if production_file else None,
            )
        )
        return
    table = Table(title=f"{result.name} — {format_rate(result.rate)} fps, {result.aspect}, style {result.style}")
    for column in ("planner", "cuts", "clips used", "duration"):
        table.add_column(column, justify="right")
    table.add_row(
        result.planner,
        str(sum(1 for c in result.cuts if c.kind == "video")),
        f"{len({c.clip_id for c in result.cuts})}/{len(analysis.clips)}",
        f"{seconds:.2f} s ({result.duration_frames} fr)",
    )
    out.print(table)
    if fitted is not None:
        out.print(plan_estimate.estimate_table(fitted.plan))
        for line in plan_estimate.cap_lines(fitted.plan):
            out.print(line)
        for note in fitted.plan.notes:
            if not note.startswith("cannot "):  # those went to stderr as warnings
                out.print(f"[dim]note:[/] {note}")
    for path in [target, *picture, *([production_file] if production_file else [])]:
        out.print(f"wrote {path}")
