"""`--json`: every command that prints a result prints it as one JSON document on stdout instead.

One envelope for every command (docs/json-output.md is generated from these models by
``scripts/json_schemas.py``)::

    {"schema": "montage-bridge/<command>@1", "ok": true,  "result": {...}, "warnings": [...]}
    {"schema": "montage-bridge/<command>@1", "ok": false, "error": {"message", "kind", "exit_code"},
     "warnings": [...], "result": {...}}   # result only when the command did part of its work

``<command>`` is the command's words joined by ``-`` (``auto``, ``watch-status``, ``gpu-status``).
With ``--json`` nothing else reaches stdout: :func:`begin` points the process's stdout (file
descriptor 1, so ffmpeg and other children too) at stderr, and the document goes to the real
stdout at the end; progress (JSON lines with ``--json``), logs and the error line stay on stderr.
The exit code is the one the command has without ``--json``.

How a command uses it::

    if as_json:
        json_output.begin("auto")
    ...
    json_output.warn("...")                      # stderr, and the envelope's warnings
    if as_json:
        json_output.emit(AutoResult(...))        # ok: true
        # or, work done in part: emit(result, error=ErrorInfo(...)); then raise typer.Exit(code)

Errors raised out of the command (``MontageError``, usage errors, interrupts, bugs) become the
``ok: false`` document in ``montage_bridge.cli.main`` through :func:`finish`.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from dataclasses import dataclass, field
from typing import IO, Annotated, Any, Literal, Optional, Union

import typer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from analysis.models import AnalysisResult
from planner.production import ProductionPlan
from planner.shot_search import SearchHit
from planner.tool_catalogue import CatalogueSettings, Measurement, Tool, ToolBench

VERSION = 1
SCHEMA_PREFIX = "montage-bridge/"

JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print the result as one JSON document on stdout (schema: docs/json-output.md); "
        "progress and messages go to stderr.",
    ),
]


def schema_id(command: str) -> str:
    """``"watch status"`` or ``"watch-status"`` → ``"montage-bridge/watch-status@1"``."""
    return f"{SCHEMA_PREFIX}{command.replace(' ', '-')}@{VERSION}"


# ------------------------------------------------------------------------------------ the envelope

ErrorKind = Literal["usage", "failed", "check_failed", "partial", "interrupted", "internal"]


class ErrorInfo(BaseModel):
    """Why the command did not succeed."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="One line for a person: what went wrong, where, and what to do.")
    kind: ErrorKind = Field(
        description="usage: the command line is wrong (an unknown option, a bad value); "
        "failed: the command could not do its work (a bad or missing input file, an unreachable worker, "
        "Resolve not running); check_failed: the work was done but a check of it failed (`result` holds it); "
        "partial: some items failed and the others were done (`result` says which); "
        "interrupted: stopped by the user; internal: a bug (please report it)."
    )
    exit_code: int = Field(description="The process's exit code, the same as without --json.")


class Result(BaseModel):
    """Base of every command's result: no keys beyond the documented ones, and no infinite or NaN
    number (JSON has none: a result must say null, not let the encoder turn it into one)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# ----------------------------------------------------------------------------- shared result parts


class Loudness(Result):
    """An EBU R128 measurement; a value that is minus infinity (digital silence) is null."""

    integrated_lufs: Optional[float] = Field(description="Integrated loudness, LUFS; null for digital silence.")
    lra_lu: Optional[float] = Field(description="Loudness range, LU; null when it cannot be measured.")
    true_peak_dbtp: Optional[float] = Field(description="True peak, dBTP; null for digital silence.")

    @classmethod
    def from_dict(cls, data: Optional[dict[str, Any]]) -> Optional[Loudness]:
        """From ``render.render``'s measurement dict (None stays None; infinities become null)."""
        if data is None:
            return None
        return cls(**{k: v if isinstance(v, (int, float)) and math.isfinite(v) else None for k, v in data.items()})


class RenderResult(Result):
    """A rendered video file and what was measured and checked on it."""

    output: str = Field(description="Path of the video file written.")
    frames: int = Field(description="Length in timeline frames.")
    rate: str = Field(description="Frame rate as an exact rational, e.g. '24000/1001' or '25'.")
    seconds: float = Field(description="Length in seconds.")
    codec: str = Field(description="Video codec: h264, h265, prores or vp9.")
    width: int = Field(description="Picture width, pixels.")
    height: int = Field(description="Picture height, pixels.")
    elapsed_seconds: float = Field(description="Wall-clock time the render took, seconds.")
    speed: Optional[float] = Field(description="Seconds of video rendered per second of wall-clock time.")
    loudness_before: Optional[Loudness] = Field(description="The mix before normalisation; null without audio.")
    normalization: Optional[str] = Field(
        description="How the loudness was reached: 'linear' gain or 'linear+limiter'; null when not normalised."
    )
    loudness_after: Optional[Loudness] = Field(description="The rendered file's loudness; null when not checked.")
    frames_rendered: Optional[int] = Field(description="Frames the check decoded from the file; null when not checked.")
    captions: list[str] = Field(description="Caption files written (.srt, .vtt).")
    caption_count: int = Field(description="Caption cues written.")
    captions_too_fast: int = Field(description="Cues faster than 17 characters a second.")
    ducked_spans: int = Field(description="Speech spans the music was lowered under.")
    checked: bool = Field(description="Whether the quality check ran (duration, black, frozen, silence, loudness).")
    failures: list[str] = Field(description="Quality checks that failed, one sentence each; empty when all passed.")

    @classmethod
    def from_report(cls, report: Any) -> RenderResult:
        """From a ``render.render.RenderReport``."""
        data = report.as_dict()
        return cls(
            output=data["output"],
            frames=data["frames"],
            rate=data["rate"],
            seconds=data["seconds"],
            codec=data["codec"],
            width=report.width,
            height=report.height,
            elapsed_seconds=data["elapsed_seconds"],
            speed=data["speed"],
            loudness_before=Loudness.from_dict(data["loudness_before"]),
            normalization=data["normalization"],
            loudness_after=Loudness.from_dict(data["loudness_after"]),
            frames_rendered=data["frames_rendered"],
            captions=data["captions"],
            caption_count=data["caption_count"],
            captions_too_fast=data["captions_too_fast"],
            ducked_spans=data["ducked_spans"],
            checked=report.quality is not None,
            failures=data["failures"],
        )


class ResolveBuild(Result):
    """A timeline built in DaVinci Resolve and how it compares with what was asked."""

    timeline_name: str = Field(description="The timeline's name in Resolve (suffixed, never overwritten).")
    method: str = Field(description="How it was built: 'append' (the API) or 'import' (a timeline file).")
    ok: bool = Field(description="Every clip placed where the plan says, none dropped or different.")
    clips_expected: int = Field(description="Clips the timeline should hold.")
    clips_placed: int = Field(description="Clips found on the built timeline.")
    markers_expected: int = Field(description="Markers the timeline should hold.")
    markers_added: int = Field(description="Markers added.")
    dropped: list[str] = Field(description="Clips that did not land, one sentence each.")
    mismatched: list[str] = Field(description="Clips that landed differently from the plan, one sentence each.")
    notes: list[str] = Field(description="What Resolve could not hold exactly, one sentence each.")
    how: list[str] = Field(description="What was placed how, e.g. '12 clips: AppendToTimeline, 4 calls'.")

    @classmethod
    def from_build(cls, build: Any) -> ResolveBuild:
        """From a ``resolve_bridge.apply.BuildResult``."""
        return cls(
            timeline_name=build.timeline_name,
            method=build.method,
            ok=build.ok,
            clips_expected=build.expected,
            clips_placed=build.placed,
            markers_expected=build.markers_expected,
            markers_added=build.markers_added,
            dropped=list(build.dropped),
            mismatched=list(build.mismatched),
            notes=list(build.warnings),
            how=list(build.how),
        )


def rate_text(rate: Any) -> str:
    """A ``Fraction`` rate as the exact text the schemas use: ``"24000/1001"``, ``"25"``."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


# -------------------------------------------------------------------------------- command results


class ProcessedClip(Result):
    """A clip whose media the GPU worker processed; the timeline links the result."""

    clip_id: str = Field(description="The clip's id in the analysis.")
    ops: list[str] = Field(description="The operations run on it, in order (e.g. 'stabilize', 'upscale').")
    path: str = Field(description="The processed file the timeline links.")


class AutoResult(Result):
    """`auto`: the edit that was cut and the files written."""

    name: str = Field(description="Timeline name.")
    rate: str = Field(description="Timeline rate as an exact rational, e.g. '24000/1001' or '25'.")
    start_timecode: str = Field(description="Timeline start timecode, HH:MM:SS:FF (';' before frames for DF).")
    style: Optional[str] = Field(description="The style the edit was cut in; null for the default.")
    planner: str = Field(description="The planner that made the edit (heuristic mode or LLM).")
    duration_frames: int = Field(description="Timeline length in frames.")
    duration_seconds: float = Field(description="Timeline length in seconds.")
    cuts: int = Field(description="Video cuts on the timeline.")
    clips_used: int = Field(description="Distinct clips the edit uses.")
    clips_analyzed: int = Field(description="Clips analysed in the footage folder.")
    cut_points: int = Field(description="Cut points after the timeline's start.")
    cuts_on_beat: Optional[int] = Field(description="Cut points within one frame of a beat; null without music.")
    tempo_bpm: Optional[float] = Field(description="The music's tempo, beats per minute; null without music.")
    files: list[str] = Field(description="Timeline files written (OTIO, FCPXML, FCP7 XML, EDL, ...).")
    picture: list[str] = Field(description="The edit's picture: edit.html and edit.png (`montage-bridge show`).")
    captions: list[str] = Field(description="Files written by --captions (.srt, .vtt, the FCPXML with captions).")
    processed: list[ProcessedClip] = Field(description="Clips processed on the GPU worker (--gpu).")
    render: Optional[RenderResult] = Field(description="The preview render (--render); null without it.")
    resolve: Optional[ResolveBuild] = Field(description="The timeline built in Resolve (--resolve); null without it.")


class AnalyzeFailure(Result):
    """A file that could not be analysed (left out with --skip-unreadable)."""

    path: str = Field(description="The file.")
    message: str = Field(description="Why it could not be analysed.")


class AnalyzeResult(Result):
    """`analyze`: what the analysis engine found, and the files it wrote."""

    analysis: AnalysisResult = Field(
        description="The analysis (the same document `--output` writes and `plan` reads; `analyze --schema`)."
    )
    files: int = Field(description="Files analysed (from the cache or not).")
    cached: int = Field(description="Files whose analysis came from the cache.")
    seconds: float = Field(description="Wall-clock time of the analysis, seconds.")
    skipped: list[AnalyzeFailure] = Field(description="Unreadable files left out (--skip-unreadable).")
    output: Optional[str] = Field(description="The analysis file written by --output; null without it.")
    transcripts: list[str] = Field(description="Transcript files written by --transcripts (.srt, .json).")


class PlanResult(Result):
    """`plan`: the edit plan made and written."""

    plan_file: str = Field(description="The edit plan JSON written.")
    name: str = Field(description="Timeline name.")
    rate: str = Field(description="Timeline rate as an exact rational, e.g. '24000/1001' or '25'.")
    aspect: str = Field(description="Picture aspect: 16:9, 9:16, 1:1 or 4:5.")
    mode: str = Field(description="music_montage, talking_head or highlights.")
    style: Optional[str] = Field(description="The style the plan was made in; null for the default.")
    planner: str = Field(description="The planner that made the plan (heuristic mode or LLM).")
    cuts: int = Field(description="Video cuts in the plan.")
    clips_used: int = Field(description="Distinct clips the plan uses.")
    clips_analyzed: int = Field(description="Clips in the analysis.")
    duration_frames: int = Field(description="Plan length in frames.")
    duration_seconds: float = Field(description="Plan length in seconds.")
    picture: list[str] = Field(description="The edit's picture written beside the plan (edit.html, edit.png).")
    production: Optional[ProductionPlan] = Field(
        description="With --estimate: the production plan — each of the brief's shots with its source, alternatives "
        "and estimate, the totals, the budget and deadline and the changes made to fit them; null without it."
    )
    production_file: Optional[str] = Field(
        description="With --estimate: the production plan JSON written; null without it."
    )


class Loss(Result):
    """One feature the target format cannot hold, or holds only approximately."""

    feature: str = Field(description="What is lost, e.g. 'speed effects'.")
    count: int = Field(description="How many times it occurs in the timeline.")
    detail: str = Field(description="What happens to it in the target, one sentence.")


class Conversion(Result):
    """One input timeline file converted to one format."""

    source: str = Field(description="The input timeline file.")
    target: str = Field(description="The format written (fcpxml, xml, edl, otio, resolve-otio, ...).")
    format: str = Field(description="The input's format, as read.")
    outputs: list[str] = Field(description="Files written (an EDL of several tracks writes one per track).")
    lossless: bool = Field(description="True when the target holds everything in the timeline.")
    losses: list[Loss] = Field(description="What the target cannot hold; empty when lossless.")


class ConvertResult(Result):
    """`convert`: every conversion done and its loss report."""

    conversions: list[Conversion] = Field(description="One per input timeline file, in order.")

    @classmethod
    def from_reports(cls, reports: list[Any]) -> ConvertResult:
        """From ``nle_adapters.loss_report.LossReport`` objects."""
        return cls(
            conversions=[
                Conversion(
                    source=r.source,
                    target=r.target,
                    format=r.format,
                    outputs=list(r.outputs),
                    lossless=not r.losses,
                    losses=[Loss(feature=i.feature, count=i.count, detail=i.detail) for i in r.losses],
                )
                for r in reports
            ]
        )


class ProxyItem(Result):
    """One original and its proxy."""

    original: str = Field(description="The original media file.")
    proxy: str = Field(description="The proxy file (made, or already there).")
    status: Literal["made", "up to date", "remade", "failed"] = Field(
        description="made: new; up to date: an existing proxy matched and was kept; remade: an existing one did "
        "not match and was made again; failed: see detail."
    )
    detail: str = Field(description="Why it failed, or more about the status; empty when nothing to add.")


class ProxiesResult(Result):
    """`proxies`: a proxy per original, with each original's exact rate, frames and start timecode."""

    codec: str = Field(description="Proxy codec: prores_proxy, h264 or dnxhr_lb.")
    layout: str = Field(description="Where the proxies live: resolve or fcp.")
    max_width: int = Field(description="Largest proxy picture width (aspect kept), pixels.")
    max_height: int = Field(description="Largest proxy picture height (aspect kept), pixels.")
    proxies: list[ProxyItem] = Field(description="One per original with a picture, in order.")
    skipped: list[str] = Field(description="Originals without a picture (no proxy needed).")


class ShowResult(Result):
    """`show`: where the edit's picture is."""

    page: str = Field(description="Absolute path of edit.html.")
    url: str = Field(description="The page as a file:// URL.")
    opened: bool = Field(description="Whether a browser was asked to open it (false with --no-open).")


class WatchJob(Result):
    """One job (an inbox subfolder) in the watch journal."""

    name: str = Field(description="The job's folder name in the inbox.")
    state: str = Field(description="seen, analyzing, planned, written or failed.")
    files: int = Field(description="Files of the job the journal knows.")
    writes: int = Field(description="Times the job's timelines were written.")
    attempts: int = Field(description="Times the job was run.")
    analysis_seconds: Optional[float] = Field(description="Time the last run spent analysing, seconds.")
    total_seconds: Optional[float] = Field(description="Time the last run took, seconds.")
    finished: Optional[float] = Field(description="When the last run finished, Unix time; null if it has not.")
    resolve_state: Optional[str] = Field(description="built, pending, problem or retry; null when Resolve is off.")
    resolve_error: Optional[str] = Field(description="Why the Resolve build did not succeed, or null.")
    error: Optional[str] = Field(description="Why the job failed, or null.")
    output: Optional[str] = Field(description="The job's folder in the outbox, or null.")


class WatchStatusResult(Result):
    """`watch status`: the watch daemon's journal."""

    journal: str = Field(description="The journal file read.")
    jobs: list[WatchJob] = Field(description="Every job, in the journal's order.")
    counts: dict[str, int] = Field(description="Jobs per state.")
    files_waiting: int = Field(description="Files seen and not yet part of a run.")
    not_built_in_resolve: list[str] = Field(description="Written jobs whose Resolve build is pending or failed.")


class WatchRetryResult(Result):
    """`watch retry`: what will run again at the daemon's next scan."""

    journal: str = Field(description="The journal file changed.")
    failed_jobs: int = Field(description="Failed jobs that will run again.")
    resolve_builds: int = Field(description="Written jobs that will be built in Resolve again.")


class WatchRepairResult(Result):
    """`watch repair`: the journal checked and, when damaged or absent, rebuilt from the outbox."""

    journal: str = Field(description="The journal file.")
    healthy: bool = Field(description="The journal was sound: nothing was changed.")
    damage: Optional[str] = Field(description="What was wrong with it, or null.")
    moved_to: Optional[str] = Field(description="Where the damaged journal was moved, or null.")
    rebuilt: list[str] = Field(description="Written jobs recorded again from their report.json (not run again).")
    rerun: list[str] = Field(description="Job folders without a finished report: they run again at the next start.")


class WatchRunResult(Result):
    """`watch INBOX --once`: the jobs processed."""

    written: list[str] = Field(description="Jobs whose timelines were written.")
    failed: list[str] = Field(description="Jobs that failed (`watch status` says why).")


class PoolResult(Result):
    """`resolve pool`: the media pool's clips as the analysis sees them."""

    resolve: str = Field(description="The Resolve connected to (edition and version).")
    clips: list[dict[str, Any]] = Field(
        description="Video clips: {media: the clip's facts (path, rate, frames, start timecode, ...), bin, unique_id}."
    )
    audio: list[dict[str, Any]] = Field(description="Audio-only clips, the same shape.")
    skipped: list[str] = Field(description="Pool items left out, one sentence each.")


class InstallResult(Result):
    """`resolve install`: the Scripts-menu entries installed or removed."""

    folder: str = Field(description="Resolve's Scripts/Utility folder.")
    uninstall: bool = Field(description="True when the entries were removed (--uninstall).")
    written: list[str] = Field(description="Entries written.")
    removed: list[str] = Field(description="Entries removed.")
    reasons: list[str] = Field(description="Why these launchers (the edition and version found), one line each.")


class GpuQualityCheck(Result):
    """One check of the quality gate."""

    name: str = Field(description="finite, black, frozen, flicker, similarity, first/last_frame_similarity, ...")
    ok: bool = Field(description="The check passed.")
    value: Any = Field(description="The figure measured.")
    limit: Any = Field(description="The limit it is held against.")


class GpuQuality(Result):
    """The quality gate's report on a generated or processed clip, as stored with the job."""

    ok: bool = Field(description="Every check passed.")
    checks: list[GpuQualityCheck] = Field(description="Each check that ran.")
    problems: list[str] = Field(description="What failed, one sentence each.")
    metrics: dict[str, Any] = Field(description="The figures measured (frames sampled, luma, motion, similarity).")


class GpuQueue(Result):
    """Where a queued job stands."""

    ahead: int = Field(description="Queued jobs of the same route that run first.")
    running: int = Field(description="Jobs running on the workers that serve its route.")
    slots: int = Field(description="Slots of the live workers that serve its route.")
    starts_in_s: Optional[float] = Field(description="Estimated seconds until it starts, or null.")
    reason: Optional[str] = Field(description="What holds it besides the queue (no live worker, retry wait), or null.")


class GpuJob(Result):
    """A job on the GPU worker."""

    id: str = Field(description="Job id (stable: the same op, input and parameters give the same id).")
    op: str = Field(description="The operation: stabilize, upscale, transcribe, generate, noop, ...")
    state: Literal["queued", "running", "succeeded", "failed", "canceled"] = Field(description="The job's state.")
    fraction: float = Field(description="Progress, 0..1.")
    stage: str = Field(description="What the job is doing now (the op's own words), or empty.")
    attempt: int = Field(description="Attempts so far.")
    cancel_requested: bool = Field(description="A cancel was asked and the job has not stopped yet.")
    error: Optional[str] = Field(description="Why the job failed, or null.")
    eta_s: Optional[float] = Field(description="Estimated seconds until it is done (queued or running), or null.")
    queue: Optional[GpuQueue] = Field(description="A queued job's place and estimated start, else null.")
    quality: Optional[GpuQuality] = Field(description="The quality gate's report on its clip, or null.")

    @classmethod
    def from_job(cls, job: Any) -> GpuJob:
        """From a ``gpu_remote.models.Job``."""
        report = job.result.get("quality") if isinstance(job.result, dict) else None
        quality = None
        if isinstance(report, dict):
            quality = GpuQuality(
                ok=bool(report.get("ok")),
                checks=[GpuQualityCheck(**c) for c in report.get("checks", [])],
                problems=list(report.get("problems", [])),
                metrics=dict(report.get("metrics", {})),
            )
        queue = getattr(job, "queue", None)
        return cls(
            id=job.id,
            op=job.op,
            state=job.state.value,
            fraction=job.progress.fraction,
            stage=job.progress.stage,
            attempt=job.attempt,
            cancel_requested=job.cancel_requested,
            error=job.error.message if job.error else None,
            eta_s=job.progress.eta_s if not job.state.terminal else None,
            queue=GpuQueue(**queue.model_dump()) if queue is not None else None,
            quality=quality,
        )


class GpuWorkerHealth(Result):
    """The worker's answer to its health check."""

    url: str = Field(description="The worker's URL.")
    status: str = Field(description="The worker's own word for its health ('ok', 'degraded', ...).")
    queued: int = Field(description="Jobs waiting.")
    running: int = Field(description="Jobs running.")
    workers: int = Field(description="Live worker processes.")
    problems: list[str] = Field(description="What the worker says is wrong, one sentence each.")


class GpuStatusResult(Result):
    """`gpu status`: the worker's health and the jobs asked about."""

    worker: GpuWorkerHealth = Field(description="The worker's health.")
    jobs: list[GpuJob] = Field(description="The jobs named, or every job this machine submitted.")


class GpuSaved(Result):
    """An output downloaded from the worker."""

    job: str = Field(description="The job id.")
    output: str = Field(description="The output's name in the op (e.g. 'video').")
    path: str = Field(description="Where it was saved (verified by its sha256).")


class GpuSubmitResult(Result):
    """`gpu submit`: the jobs queued and, with --wait, how they ended and the outputs saved."""

    jobs: list[GpuJob] = Field(description="One per job submitted (identical inputs share a job).")
    inputs: dict[str, list[Optional[str]]] = Field(description="Job id → the input files it was submitted for.")
    waited: bool = Field(description="True with --wait: `jobs` holds their final states.")
    saved: list[GpuSaved] = Field(description="Outputs downloaded (--wait).")


class GpuFetchResult(Result):
    """`gpu fetch`: outputs downloaded."""

    saved: list[GpuSaved] = Field(description="Outputs downloaded.")
    not_finished: list[GpuJob] = Field(description="Jobs named that had nothing to fetch (not succeeded).")
    released: list[str] = Field(description="Jobs released on the worker after the download (without --keep).")


class GpuJobsResult(Result):
    """`gpu cancel` and `gpu retry`: the jobs' states after the request."""

    jobs: list[GpuJob] = Field(description="One per job named, in order.")


class GpuDeleteResult(Result):
    """`gpu delete`: jobs forgotten on the worker."""

    deleted: list[str] = Field(description="The job ids deleted.")


class GpuWorkerInfo(Result):
    """A live worker process."""

    name: str = Field(description="The worker's node name.")
    kind: str = Field(description="How it runs (e.g. 'thread', 'celery').")
    routes: list[str] = Field(description="The queues it takes jobs from (op and model).")
    models: dict[str, Any] = Field(description="Model per op it has loaded or can load.")
    gpus: list[dict[str, Any]] = Field(description="Its GPUs (name, memory, ...); empty on a CPU worker.")
    free_slots: int = Field(description="Jobs it can start now.")
    slots: int = Field(description="Jobs it can run at once.")
    running: list[str] = Field(description="Jobs it runs now.")


class GpuWorkersResult(Result):
    """`gpu workers`: the live workers."""

    workers: list[GpuWorkerInfo] = Field(description="Every live worker.")


class SearchResult(Result):
    """`search`: the shots that match the query, best first."""

    query: str = Field(description="The query as given.")
    hits: list[SearchHit] = Field(description="Matching shots, best first (at most --limit).")
    clips: int = Field(description="Clips searched.")
    shots: int = Field(description="Shots searched (a clip without shots counts as one).")
    described: int = Field(description="Shots with a description from the vision model.")
    with_speech: int = Field(description="Clips with transcribed speech.")


class ToolsListResult(Result):
    """`tools list`: the tool catalogue and the price it is costed at."""

    settings: CatalogueSettings = Field(description="The price per GPU-hour, its currency and where it was set.")
    tools: list[Tool] = Field(description="Every tool (of --op), with its figures: measured or default.")


class ToolsShowResult(Result):
    """`tools show`: one tool and every measurement recorded for it."""

    tool: Tool = Field(description="The tool, with the figures estimates use (measured or default).")
    measurements: list[Measurement] = Field(description="Every measurement `bench-tools` recorded for it.")


class ToolsPriceResult(Result):
    """`tools price`: what an hour of the worker costs (set, or shown)."""

    settings: CatalogueSettings = Field(description="The price per GPU-hour, its currency and where it was set.")
    catalogue: str = Field(description="The user's tool catalogue file.")


class ToolsAddResult(Result):
    """`tools add`: the tools added to (or overridden in) the user's catalogue."""

    catalogue: str = Field(description="The user's tool catalogue file.")
    tools: list[Tool] = Field(description="The tools as the catalogue now holds them.")


class ToolsRemoveResult(Result):
    """`tools remove`: a tool taken out of the user's catalogue."""

    catalogue: str = Field(description="The user's tool catalogue file.")
    removed: str = Field(description="The tool id whose row and measurements were removed.")


class BenchToolsResult(Result):
    """`bench-tools`: the tools measured on the worker and recorded in the catalogue, and those skipped or failed."""

    worker: str = Field(description="The worker's URL.")
    gpu: str = Field(description="What ran the jobs: the worker's GPU name(s), or 'CPU (N cores)'.")
    catalogue: str = Field(description="The user's tool catalogue file the measurements were recorded in.")
    results: list[ToolBench] = Field(
        description="One per catalogue tool considered: measured (samples and fitted figures), skipped (why) or failed."
    )


# The commands with --json and their result models: the published schemas (docs/json-output.md).
RESULTS: dict[str, type[Result]] = {
    "auto": AutoResult,
    "analyze": AnalyzeResult,
    "plan": PlanResult,
    "convert": ConvertResult,
    "render": RenderResult,
    "proxies": ProxiesResult,
    "show": ShowResult,
    "search": SearchResult,
    "watch": WatchRunResult,
    "watch status": WatchStatusResult,
    "watch retry": WatchRetryResult,
    "watch repair": WatchRepairResult,
    "resolve build": ResolveBuild,
    "resolve pool": PoolResult,
    "resolve install": InstallResult,
    "gpu submit": GpuSubmitResult,
    "gpu status": GpuStatusResult,
    "gpu fetch": GpuFetchResult,
    "gpu cancel": GpuJobsResult,
    "gpu retry": GpuJobsResult,
    "gpu delete": GpuDeleteResult,
    "gpu workers": GpuWorkersResult,
    "tools list": ToolsListResult,
    "tools show": ToolsShowResult,
    "tools price": ToolsPriceResult,
    "tools add": ToolsAddResult,
    "tools remove": ToolsRemoveResult,
    "bench-tools": BenchToolsResult,
}


@functools.cache
def envelope_models(command: str) -> tuple[type[BaseModel], type[BaseModel]]:
    """The (success, failure) envelope models of ``command`` (a key of :data:`RESULTS`)."""
    result = RESULTS[command]
    ident = schema_id(command)
    const = Literal[ident]  # type: ignore[valid-type]
    title = "".join(w.capitalize() for w in command.split())
    schema_field = (const, Field(alias="schema", description=f"Always '{ident}': the document's kind and version."))
    warnings_field = (
        list[str],
        Field(description="Things the user should know, one sentence each (also printed on stderr)."),
    )
    config = ConfigDict(extra="forbid", populate_by_name=True)
    ok_fields: dict[str, Any] = {
        "schema_": schema_field,
        "ok": (Literal[True], Field(description="true: the command did all it was asked.")),
        "result": (result, Field(description=result.__doc__)),
        "warnings": warnings_field,
    }
    failed_fields: dict[str, Any] = {
        "schema_": schema_field,
        "ok": (Literal[False], Field(description="false: see error.")),
        "error": (ErrorInfo, Field(description="What went wrong.")),
        "result": (
            Optional[result],
            Field(None, description="What was done when part of the work succeeded (kinds check_failed, partial)."),
        ),
        "warnings": warnings_field,
    }
    ok: type[BaseModel] = create_model(
        f"{title}Ok",
        __config__=config,
        __doc__=f"`{command} --json` when it succeeded (exit code 0).",
        **ok_fields,
    )
    failed: type[BaseModel] = create_model(
        f"{title}Failed",
        __config__=config,
        __doc__=f"`{command} --json` when it failed (a non-zero exit code).",
        **failed_fields,
    )
    return ok, failed


def json_schema(command: str) -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of ``command --json``'s output."""
    ok, failed = envelope_models(command)
    adapter: TypeAdapter[Any] = TypeAdapter(Union[ok, failed])  # type: ignore[arg-type, valid-type]
    schema = adapter.json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id(command),
        "title": f"montage-bridge {command} --json",
        **schema,
    }


# ------------------------------------------------------------------------------------- the run


@dataclass
class _Run:
    command: str
    sink: IO[str]
    restore: Any
    warnings: list[str] = field(default_factory=list)
    emitted: bool = False


_run: Optional[_Run] = None


def begin(command: str) -> None:
    """Start ``command --json``: from now on stdout (fd 1, inherited by child processes too) goes to
    stderr; :func:`emit` writes the one document to the real stdout."""
    global _run
    if command not in RESULTS:
        raise KeyError(f"no JSON result model for {command!r}")
    if _run is not None:
        _restore()
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
        saved = os.dup(fd)
        os.dup2(sys.stderr.fileno(), fd)
    except (AttributeError, OSError, ValueError):  # a stream without a file descriptor (an in-process runner)
        original = sys.stdout
        sys.stdout = sys.stderr

        def restore() -> None:
            sys.stdout = original

        _run = _Run(command, original, restore)
        return
    sink = os.fdopen(os.dup(saved), "w", encoding="utf-8", closefd=True)

    def restore_fd() -> None:
        sys.stdout.flush()
        os.dup2(saved, fd)
        os.close(saved)
        sink.close()

    _run = _Run(command, sink, restore_fd)


def active() -> bool:
    """True between :func:`begin` and the end of the command."""
    return _run is not None


def warn(message: str) -> None:
    """A warning: one line on stderr and, under ``--json``, an entry of the envelope's ``warnings``."""
    from rich.markup import escape

    from montage_bridge.console import err

    err.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True, highlight=False)
    if _run is not None:
        _run.warnings.append(message)


def emit(result: Optional[Result] = None, *, error: Optional[ErrorInfo] = None) -> None:
    """Write the command's one JSON document: ``ok: true`` with ``result``, or ``ok: false`` with
    ``error`` (and ``result`` when part of the work was done). A no-op without :func:`begin`."""
    run = _run
    if run is None:
        return
    if run.emitted:
        raise RuntimeError(f"{run.command} --json: a second JSON document")
    ok_model, failed_model = envelope_models(run.command)
    fields: dict[str, Any] = {"schema": schema_id(run.command), "warnings": run.warnings}
    if error is None:
        if result is None:
            raise ValueError("a successful --json run needs a result")
        document = ok_model(ok=True, result=result, **fields)
        exclude: set[str] = set()
    else:
        document = failed_model(ok=False, error=error, result=result, **fields)
        exclude = {"result"} if result is None else set()
    # Validated against the published model (a wrong result is a bug, caught here, not by users).
    text = document.model_dump_json(by_alias=True, exclude=exclude, indent=2)
    run.sink.write(text + "\n")
    run.sink.flush()
    run.emitted = True


def command_of(args: list[str]) -> Optional[str]:
    """The --json command a command line names (``["gpu", "status", "--json"]`` → ``"gpu status"``),
    or None. Used for errors raised before the command started (usage errors)."""
    words = [a for a in args[: args.index("--")] if a] if "--" in args else [a for a in args if a]
    if not words or words[0].startswith("-"):
        return None
    if len(words) > 1 and f"{words[0]} {words[1]}" in RESULTS:
        return f"{words[0]} {words[1]}"
    return words[0] if words[0] in RESULTS else None


def finish(args: list[str], code: int, failure: Optional[tuple[str, str]]) -> int:
    """End a ``--json`` run (``montage_bridge.cli.main``): write the failure document when the
    command did not write one, give stdout back, and return the exit code. ``failure``: (kind,
    message) of what ended the command, or None."""
    global _run
    if _run is None:
        command = command_of(args) if "--json" in args else None
        if command is None or code == 0:  # no --json command (or --help): nothing to add
            return code
        begin(command)
    assert _run is not None
    try:
        if not _run.emitted:
            if code == 0:
                failure, code = ("internal", f"{_run.command} --json wrote no result (a bug: please report it)"), 70
            kind, message = failure or ("failed", f"{_run.command} failed with exit code {code} (see stderr)")
            emit(error=ErrorInfo(message=message, kind=kind, exit_code=code))  # type: ignore[arg-type]
    finally:
        _restore()
    return code


def _restore() -> None:
    global _run
    run, _run = _run, None
    if run is not None:
        run.restore()
