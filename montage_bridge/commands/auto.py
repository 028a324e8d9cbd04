"""`montage-bridge auto`: footage folder + music → timeline files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from kernel.timebase import format_rate, frames_to_seconds, parse_timeline_rate
from montage_bridge import json_output
from montage_bridge.console import out
from montage_bridge.json_output import JsonOpt
from montage_bridge.pipeline import AutoResult, run_auto
from montage_bridge.production_run import GENERATED_BIN, production_options
from montage_bridge.progress import ProgressOpt, ProgressReporter
from montage_bridge.remote_media import GpuOptions
from nle_adapters.formats import DEFAULT_FORMATS, FORMATS
from planner.brief import Brief, BriefError, brief_from_mapping, load_brief
from planner.llm_config import load_llm_config


def auto(
    footage_dir: Annotated[Path, typer.Argument(help="Folder of clips to cut.")],
    music: Annotated[
        Optional[Path], typer.Option("--music", "-m", help="Music track to cut to (or set music in the brief).")
    ] = None,
    duration: Annotated[
        Optional[float],
        typer.Option("--duration", "-d", min=1.0, help="Target length in seconds (default: the music, at most 60 s)."),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the timeline files.")] = Path("out"),
    rate: Annotated[
        Optional[str],
        typer.Option("--rate", help="Timeline rate, e.g. 24000/1001 or 25 (default: the clips' most common)."),
    ] = None,
    formats: Annotated[str, typer.Option("--formats", help=f"Comma-separated: {', '.join(FORMATS)}.")] = ",".join(
        DEFAULT_FORMATS
    ),
    name: Annotated[Optional[str], typer.Option("--name", help="Timeline name (default: the folder name).")] = None,
    skip_unreadable: Annotated[
        bool, typer.Option("--skip-unreadable", help="Leave out files that are not readable video instead of stopping.")
    ] = False,
    resolve: Annotated[
        bool, typer.Option("--resolve", help="Also build the timeline in the running DaVinci Resolve (Studio).")
    ] = False,
    brief: Annotated[Optional[Path], typer.Option("--brief", "-b", help="Brief file (.toml or .json).")] = None,
    style: Annotated[
        Optional[str], typer.Option("--style", "-s", help="Style name (dynamic, cinematic, ...) or .toml file.")
    ] = None,
    llm: Annotated[
        bool, typer.Option("--llm", help="Plan with an OpenAI-compatible LLM (MONTAGE_LLM_* settings).")
    ] = False,
    gpu: Annotated[
        Optional[str],
        typer.Option(
            "--gpu",
            help="GPU worker URL: run the plan's remote ops (upscale, stabilize) there; the timeline uses the results.",
        ),
    ] = None,
    gpu_token: Annotated[
        Optional[str], typer.Option("--gpu-token", envvar="MONTAGE_GPU_TOKEN", help="GPU worker token.")
    ] = None,
    gpu_required: Annotated[
        bool,
        typer.Option("--gpu-required", help="Fail instead of keeping the original media when a remote op fails."),
    ] = False,
    mode: Annotated[
        Optional[str],
        typer.Option("--mode", help="music-montage | talking-head | highlights (overrides the brief)."),
    ] = None,
    aspect: Annotated[
        Optional[str],
        typer.Option(
            "--aspect",
            help="16:9 | 9:16 | 1:1 | 4:5, or horizontal/vertical/square (overrides brief and style); "
            "not 16:9: every clip is reframed to follow its subject (faces, then motion).",
        ),
    ] = None,
    pace: Annotated[
        Optional[str],
        typer.Option(
            "--pace", help="slow | relaxed | normal | fast | frantic, or a factor on the cuts per bar (0.5 = half)."
        ),
    ] = None,
    must_include: Annotated[
        Optional[list[str]],
        typer.Option(
            "--must-include",
            help="A clip that must appear: file name, stem or path (repeat, or separate with commas).",
        ),
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Also take the clips in folders inside FOOTAGE_DIR.")
    ] = False,
    save_plan: Annotated[
        bool, typer.Option("--save-plan", help="Also write the edit plan as OUTPUT/plan.json.")
    ] = False,
    render: Annotated[
        bool,
        typer.Option(
            "--render",
            help="Also render the timeline to OUTPUT/NAME.mp4 (render defaults: H.264, -16 LUFS) and check it; "
            "exit code 3 when a check fails.",
        ),
    ] = False,
    captions: Annotated[
        bool,
        typer.Option(
            "--captions",
            help="Transcribe the used clips' speech: OUTPUT/NAME.srt and .vtt, and captions in the FCPXML.",
        ),
    ] = False,
    speech_model: Annotated[
        Optional[str], typer.Option("--speech-model", help="faster-whisper model folder or cached name (--captions).")
    ] = None,
    link: Annotated[
        str,
        typer.Option(
            "--link",
            help="originals (default) or proxies: the timelines link each clip's proxy made by `montage-bridge "
            "proxies` (checked frame for frame; analysis still reads the originals).",
        ),
    ] = "originals",
    analyze_on: Annotated[
        str,
        typer.Option(
            "--analyze-on",
            help="originals (default) or proxies: analysis decodes each clip's proxy where one exists (faster; "
            "checked frame for frame), while the timelines still link what --link says.",
        ),
    ] = "originals",
    generate_missing: Annotated[
        bool,
        typer.Option(
            "--generate-missing",
            help="Run a production plan (--production-plan, else one sourced from the brief's shot list) after a "
            "budget check: generate its missing shots on the --gpu worker (quality-checked, regenerated once, else "
            "footage) into OUTPUT/generated, and cut them into the edit.",
        ),
    ] = False,
    production_plan: Annotated[
        Optional[Path],
        typer.Option("--production-plan", help="Production plan JSON for --generate-missing (plan, dashboard)."),
    ] = None,
    generate_param: Annotated[
        Optional[list[str]],
        typer.Option(
            "--generate-param",
            help="--generate-missing setting key=value: width, height, fps, steps, guidance_scale, seed, "
            "negative_prompt, max_frames (repeatable; wins over the tool catalogue's).",
        ),
    ] = None,
    progress: ProgressOpt = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Cut the footage (to the music's beats) and write OTIO, FCPXML, FCP7 XML and EDL timelines."""
    if as_json:
        json_output.begin("auto")
    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise typer.BadParameter(
            f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}", param_hint="--formats"
        )
    try:
        timeline_rate = parse_timeline_rate(rate) if rate else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rate") from exc
    if link not in ("originals", "proxies"):
        raise typer.BadParameter(f"{link!r}: choose originals or proxies", param_hint="--link")
    if analyze_on not in ("originals", "proxies"):
        raise typer.BadParameter(f"{analyze_on!r}: choose originals or proxies", param_hint="--analyze-on")
    if gpu_required and not gpu:
        raise typer.BadParameter("--gpu-required needs --gpu URL", param_hint="--gpu-required")
    if (production_plan or generate_param) and not generate_missing:
        raise typer.BadParameter("needs --generate-missing", param_hint="--production-plan/--generate-param")
    if generate_missing and not gpu:
        raise typer.BadParameter("--generate-missing needs --gpu URL (the worker that generates)", param_hint="--gpu")
    gpu_options = GpuOptions(url=gpu, token=gpu_token, required=gpu_required) if gpu else None
    the_brief = _with_flags(load_brief(brief) if brief else Brief(), mode=mode, aspect=aspect, pace=pace)
    clips_wanted = [name for value in must_include or [] for name in value.split(",") if name.strip()]
    llm_config = load_llm_config() if llm else None

    with ProgressReporter("auto", progress, as_json=as_json) as bar:
        report = bar.stages(lambda phase: {"analysis": "files", "reframe": "clips"}.get(phase, "steps"))
        started: set[str] = set()

        def remote(clip_id: str, op: str, fraction: float, stage: str) -> None:
            # One task per clip and op, fed from the worker's event stream (called from worker threads).
            key = f"{op} {clip_id}"
            if key not in started:
                started.add(key)
                bar.start(key, "remote", item=key, total=1.0, unit="fraction")
            bar.update(key, done=fraction if fraction >= 0 else None, message=stage or None)
            if stage in ("done", "succeeded", "failed", "canceled"):
                bar.end(key, "done" if stage in ("done", "succeeded") else stage, hide=True)

        result = run_auto(
            footage_dir,
            music,
            output,
            duration_seconds=duration,
            rate=timeline_rate,
            formats=chosen,
            name=name,
            skip_unreadable=skip_unreadable,
            progress=report,
            brief=the_brief,
            style=style,
            llm=llm_config,
            gpu=gpu_options,
            gpu_progress=remote,
            recursive=recursive,
            must_include=clips_wanted,
            save_plan=save_plan,
            link=link,
            analyze_on=analyze_on,
            production=production_options(gpu_options, production_plan, generate_param or [], remote)
            if generate_missing and gpu_options is not None
            else None,
        )
        report.finish()  # type: ignore[attr-defined]
    plan = result.plan
    for warning in result.warnings:
        json_output.warn(warning)
    music_info = result.analysis.music
    if not as_json:
        _print_summary(result)
        for path in [*result.files, *result.picture]:
            out.print(f"wrote {path}")
        if gpu_options is not None:
            if not plan.remote_ops:
                out.print("gpu: the plan requests no remote operations")
            for done in result.processed.values():
                out.print(f"processed {done.clip_id} ({'+'.join(done.ops)}): {done.path}")
        if result.production is not None:
            for note in result.production.plan.notes:
                out.print(f"production plan: {note}")
            for made in result.production.generated.values():
                out.print(f"generated shot {made.shot_index + 1} ({made.tool}, job {made.job_id}): {made.path}")
    stem = result.files[0].stem if result.files else plan.name
    caption_files: list[Path] = []
    if captions:
        from montage_bridge.commands.auto_finish import add_captions

        caption_files = add_captions(result.timeline, output, stem, chosen, speech_model)
        if not as_json:
            for path in caption_files:
                out.print(f"wrote {path}")
    rendered = None
    if render:
        from montage_bridge.commands.auto_finish import render_preview

        rendered = render_preview(result.timeline, output / f"{stem}.mp4", progress, as_json=as_json)
    built = None
    if resolve:
        from montage_bridge.commands.resolve import send_to_resolve

        # The worker's outputs go into their own "processed" bin, beside the originals.
        processed = {"processed": [str(done.path) for done in result.processed.values()]}
        if result.production is not None:  # generated clips: their own bin
            processed[GENERATED_BIN] = [str(path) for path in result.production.paths]
        built = send_to_resolve(result.timeline, bins=processed)
    from montage_bridge.commands.render import QC_FAILED_EXIT

    code = 1 if built is not None and not built.ok else QC_FAILED_EXIT if rendered and not rendered.ok else 0
    if as_json:
        error = None
        if built is not None and not built.ok:
            message = f"the timeline files are written, but Resolve's timeline is not complete: {built.lines()[0]}"
            error = json_output.ErrorInfo(message=message, kind="partial", exit_code=code)
        elif rendered is not None and not rendered.ok:
            message = f"{rendered.output}: rendered, but the quality check failed: {'; '.join(rendered.failures)}"
            error = json_output.ErrorInfo(message=message, kind="check_failed", exit_code=code)
        json_output.emit(
            json_output.AutoResult(
                name=plan.name,
                rate=json_output.rate_text(plan.rate),
                start_timecode=plan.start_timecode,
                style=plan.style,
                planner=plan.planner,
                duration_frames=plan.duration_frames,
                duration_seconds=round(float(frames_to_seconds(plan.duration_frames, plan.rate)), 6),
                cuts=sum(1 for c in plan.cuts if c.kind == "video"),
                clips_used=len({c.clip_id for c in plan.cuts}),
                clips_analyzed=len(result.analysis.clips),
                cut_points=result.cut_points,
                cuts_on_beat=result.cuts_on_beat if music_info else None,
                tempo_bpm=round(music_info.beat_grid.tempo_bpm, 3) if music_info else None,
                files=[str(p) for p in result.files],
                picture=[str(p) for p in result.picture],
                captions=[str(p) for p in caption_files],
                processed=[
                    json_output.ProcessedClip(clip_id=d.clip_id, ops=list(d.ops), path=str(d.path))
                    for d in result.processed.values()
                ],
                render=json_output.RenderResult.from_report(rendered) if rendered is not None else None,
                resolve=json_output.ResolveBuild.from_build(built) if built is not None else None,
            ),
            error=error,
        )
    if code:
        raise typer.Exit(code)


def _print_summary(result: AutoResult) -> None:
    plan = result.plan
    table = Table(
        title=f"{plan.name} — {format_rate(plan.rate)} fps, starts {plan.start_timecode}, "
        f"{plan.style or 'default'} style, {plan.planner}"
    )
    table.add_column("clips used", justify="right")
    table.add_column("cuts", justify="right")
    table.add_column("duration", justify="right")
    table.add_column("cuts on beat", justify="right")
    table.add_column("tempo", justify="right")
    seconds = float(frames_to_seconds(plan.duration_frames, plan.rate))
    music_info = result.analysis.music
    table.add_row(
        f"{len({c.clip_id for c in plan.cuts})}/{len(result.analysis.clips)}",
        str(sum(1 for c in plan.cuts if c.kind == "video")),
        f"{seconds:.2f} s ({plan.duration_frames} fr)",
        f"{result.cuts_on_beat}/{result.cut_points}" if music_info else "—",
        f"{music_info.beat_grid.tempo_bpm:.2f} BPM" if music_info else "—",
    )
    out.print(table)


def _with_flags(brief: Brief, **flags: str | None) -> Brief:
    """``brief`` with the ``--mode``/``--aspect``/``--pace`` flags given on the command line laid
    over it, each checked by the Brief's own rules (so the flags accept what a brief file does)."""
    update = {}
    for key, value in flags.items():
        if value is None:
            continue
        try:
            parsed = brief_from_mapping({key: value}, f"--{key}")
        except BriefError as exc:
            message = str(exc).split(": ", 2)[-1]
            raise typer.BadParameter(f"{value!r}: {message}", param_hint=f"--{key}") from exc
        update[key] = getattr(parsed, key)
    return brief.model_copy(update=update) if update else brief
