"""analyze → plan → write: the `auto` job, with the I/O at the edges and progress via callbacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from analysis.beats import analyze_music
from analysis.engine import EngineOptions, analyze_paths, files_done_progress
from analysis.errors import MediaError
from analysis.footage import Progress, find_footage
from analysis.models import AnalysisResult
from analysis.timebase import seconds_to_frames
from montage_bridge.remote_media import GpuOptions, ProcessedMedia, RemoteProgress, relink_timeline, run_remote_ops
from nle_adapters.formats import DEFAULT_FORMATS
from nle_adapters.plan_to_otio import build_timeline
from nle_adapters.write_files import ensure_writable_dir, write_timeline_files
from planner.brief import Brief
from planner.errors import PlanningError
from planner.llm_config import LLMConfig
from planner.make_plan import make_plan
from planner.models import EditPlan


@dataclass
class AutoResult:
    analysis: AnalysisResult
    plan: EditPlan
    timeline: otio.schema.Timeline
    files: list[Path]
    warnings: list[str] = field(default_factory=list)
    processed: dict[str, ProcessedMedia] = field(default_factory=dict)  # clip id → media the timeline uses

    @property
    def cuts_on_beat(self) -> int:
        """Cut points (excluding the timeline start) that land within one frame of a beat."""
        if self.analysis.music is None:
            return 0
        beats = [seconds_to_frames(b, self.plan.rate) for b in self.analysis.music.beat_grid.beats]
        points = sorted({c.record_in for c in self.plan.cuts if c.record_in > 0})
        return sum(1 for p in points if any(abs(p - b) <= 1 for b in beats))

    @property
    def cut_points(self) -> int:
        return len({c.record_in for c in self.plan.cuts if c.record_in > 0})


def run_auto(
    footage_dir: Path,
    music: Path | None,
    out_dir: Path,
    *,
    duration_seconds: float | None = None,
    rate: Fraction | None = None,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    name: str | None = None,
    skip_unreadable: bool = False,
    progress: Progress | None = None,
    footage_files: list[Path] | None = None,
    brief: Brief | None = None,
    style: str | None = None,
    llm: LLMConfig | None = None,
    gpu: GpuOptions | None = None,
    gpu_progress: RemoteProgress | None = None,
) -> AutoResult:
    """Cut the footage in ``footage_dir`` (to ``music``, if any) and write timeline files into ``out_dir``.

    ``footage_files`` replaces the folder scan with an explicit list (the watch daemon passes the
    clips it has seen arrive, leaving out the job's music file); ``footage_dir`` still names the job.
    The planner front door (``planner.make_plan``) plans it: with the ``brief``, ``style`` and ``llm``
    when given (explicit arguments win over the brief's fields), else a music montage in the
    mode's default style.
    With ``gpu``, the plan's remote operations run on that worker and the timeline uses the verified
    outputs in ``out_dir/processed`` (see ``montage_bridge.remote_media``); failures become warnings.
    """
    brief = brief or Brief()
    music = music or brief.music
    if music is None and brief.mode == "music_montage":
        raise PlanningError("a music montage needs music: pass --music FILE or set music in the brief")
    ensure_writable_dir(out_dir)
    warnings: list[str] = []
    files = list(footage_files) if footage_files is not None else find_footage(footage_dir)
    engine = analyze_paths(files, EngineOptions(require_video=True), progress=files_done_progress(len(files), progress))
    for failure in engine.failures:
        if not skip_unreadable:
            raise MediaError(f"{failure.message} (or rerun with --skip-unreadable to leave it out)")
        warnings.append(f"skipped {failure.message}")
    if not engine.clips:
        raise MediaError("no usable video clips in the footage folder")
    clips = engine.clips
    for clip in clips:
        if clip.media.variable_frame_rate:
            warnings.append(f"{clip.media.name}: variable frame rate — timings use its average rate {clip.media.rate}")
    music_analysis = None
    if music is not None:
        if progress:
            progress(f"beats: {music.name}", 0, 1)
        music_analysis = analyze_music(music)
        if progress:
            progress(f"beats: {music.name}", 1, 1)
    analysis = AnalysisResult(clips=clips, music=music_analysis)
    if progress:
        progress("planning", 0, 1)
    title = name or ("name" in brief.model_fields_set and brief.name) or footage_dir.resolve().name or "Montage"
    overrides: dict = {"name": title}
    if duration_seconds is not None:
        overrides["target_duration_seconds"] = duration_seconds
    if rate is not None:
        overrides["rate"] = rate
    brief = brief.model_copy(update=overrides)
    plan = make_plan(analysis, brief, style, llm=llm)  # validated against analysis, brief and style
    warnings.extend(plan.warnings)
    processed: dict[str, ProcessedMedia] = {}
    if gpu is not None:
        if progress:
            progress("remote processing", 0, 1)
        remote = run_remote_ops(plan, analysis, out_dir, gpu, gpu_progress)
        processed = remote.processed
        warnings.extend(remote.warnings)
    if progress:
        progress("writing", 0, 1)
    timeline = build_timeline(plan, analysis)
    relink_timeline(timeline, processed)
    warnings.extend(_not_in_timeline(plan, timeline))
    written = write_timeline_files(timeline, out_dir, safe_stem(title), formats)
    return AutoResult(
        analysis=analysis, plan=plan, timeline=timeline, files=written, warnings=warnings, processed=processed
    )


def _not_in_timeline(plan: EditPlan, timeline: otio.schema.Timeline) -> list[str]:
    """What the plan asks for that not every timeline file can hold (reported, not dropped silently).

    The builder carries dissolves, J/L audio cuts and clip markers over; only a marker with no clip
    under it (in a gap or past the end) becomes a timeline marker, which an EDL cannot hold.
    """
    loose = len(timeline.tracks.markers)
    if not loose:
        return []
    return [
        f"{loose} of {len(plan.markers)} marker(s) have no clip under them: kept as timeline markers "
        "(OTIO, FCPXML, FCP7 XML, Resolve); an EDL leaves them out"
    ]


def safe_stem(title: str) -> str:
    """``title`` made safe as a file name stem (the timeline files are named after it)."""
    stem = "".join(ch if ch.isalnum() or ch in "-_ ." else "_" for ch in title).strip(" .")
    return stem or "timeline"
