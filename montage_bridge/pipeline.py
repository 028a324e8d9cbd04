"""analyze → plan → write: the `auto` job, with the I/O at the edges and progress via callbacks."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from analysis.beats import analyze_music_cached
from analysis.engine import EngineOptions, analyze_paths, files_done_progress
from analysis.footage import Progress, find_footage, skipped_summary
from analysis.models import AnalysisResult
from kernel.atomic_io import write_text_atomic
from kernel.errors import MediaError
from kernel.media import MediaItem
from montage_bridge.production_run import (
    GENERATED_DIR,
    ProductionOptions,
    ProductionRun,
    check_budget,
    place_production,
    run_production,
    tag_generated,
)
from montage_bridge.remote_media import (
    PROCESSED_DIR,
    GpuOptions,
    ProcessedMedia,
    RemoteProgress,
    relink_timeline,
    run_remote_ops,
)
from nle_adapters.formats import DEFAULT_FORMATS
from nle_adapters.loss_report import edl_source_time_losses
from nle_adapters.plan_to_otio import build_timeline
from nle_adapters.write_files import WriteError, ensure_writable_dir, write_timeline_files
from planner.brief import Brief
from planner.errors import PlanningError
from planner.llm_config import LLMConfig
from planner.make_plan import make_plan
from planner.models import EditPlan
from planner.timeline_setup import beat_frames


@dataclass
class AutoResult:
    analysis: AnalysisResult
    plan: EditPlan
    timeline: otio.schema.Timeline
    files: list[Path]
    warnings: list[str] = field(default_factory=list)
    processed: dict[str, ProcessedMedia] = field(default_factory=dict)  # clip id → media the timeline uses
    picture: list[Path] = field(default_factory=list)  # edit.html and edit.png (dashboard.picture)
    production: ProductionRun | None = None  # auto --generate-missing: what was generated and placed

    @property
    def cuts_on_beat(self) -> int:
        """Cut points (excluding the timeline start) that land within one frame of a beat."""
        if self.analysis.music is None:
            return 0
        bed = self.plan.music
        # Beats as the music is placed: from its music-in point, at the bed's record in.
        source_in, shift = (bed.source_in_seconds, bed.record_in) if bed is not None else (0.0, 0)
        beats = [f + shift for f in beat_frames(self.analysis.music, self.plan.rate, source_in)]
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
    recursive: bool = False,
    must_include: list[str] | None = None,
    save_plan: bool = False,
    link: str = "originals",
    analyze_on: str = "originals",
    production: ProductionOptions | None = None,
) -> AutoResult:
    """Cut the footage in ``footage_dir`` (to ``music``, if any) and write timeline files into ``out_dir``.

    ``footage_files`` replaces the folder scan with an explicit list (the watch daemon passes the
    clips it has seen arrive, leaving out the job's music file); ``footage_dir`` still names the job.
    The planner front door (``planner.make_plan``) plans it: with the ``brief``, ``style`` and ``llm``
    when given (explicit arguments win over the brief's fields), else a music montage in the
    mode's default style.
    With ``gpu``, the plan's remote operations run on that worker and the timeline uses the verified
    outputs in ``out_dir/processed`` (see ``montage_bridge.remote_media``); failures become warnings.

    Footage: the folder's media files (``recursive``: nested folders too), documents, camera
    sidecars and proxies set aside with one warning (``analysis.footage``); the music file is left
    out when it sits among the clips. ``must_include``: clip ids, file names, stems or paths that
    must appear — each must name a file of the footage, else :class:`MediaError` before any
    analysis. ``save_plan`` also writes the plan as ``out_dir/plan.json``. ``link="proxies"``: the
    timelines link each clip's proxy (``montage-bridge proxies``; checked frame for frame) instead of
    its original; clips without one keep the original, with a warning. ``analyze_on="proxies"``:
    analysis decodes each clip's proxy where one exists (faster; checked frame for frame against
    its original first), while the plan and every timeline still name the originals.

    ``production`` (``auto --generate-missing``): once the edit is planned, the production plan (given,
    or made from the analysis and brief) is checked against the brief's budget and deadline, its
    ``generate`` shots are generated on the worker into ``out_dir/generated`` and cut into the edit
    (``montage_bridge.production_run``); the realised plan is written as ``out_dir/production.json``.

    Outputs appear only on success: a run that fails leaves no ``out_dir`` it created (nor a
    ``processed`` file it downloaded), and an ``out_dir`` that existed keeps what it held — except
    generated clips, which cost GPU time: ``out_dir/generated`` is kept so a rerun reuses them.
    """
    brief = brief or Brief()
    music = music or brief.music
    if music is None and brief.mode == "music_montage":
        raise PlanningError("a music montage needs music: pass --music FILE or set music in the brief")
    output = OutputFolder(out_dir)
    warnings: list[str] = []
    if footage_files is not None:
        files = list(footage_files)
    else:
        files, skipped = find_footage(footage_dir, recursive)
        note = skipped_summary(skipped, footage_dir)
        if note:
            warnings.append(note)
        if music is not None:  # the song often sits among the clips: it is the music, not footage
            files = [f for f in files if not _same_file(f, music)]
        if not files:
            raise MediaError(
                f"{footage_dir}: no files found — put the clips in this folder" + (f" ({note})" if note else "")
            )
    wanted = _match_must_include(must_include or [], files, footage_dir)
    with output.on_failure_restore():
        return _cut(
            files,
            footage_dir,
            music,
            output,
            warnings,
            wanted,
            brief=brief,
            duration_seconds=duration_seconds,
            rate=rate,
            formats=formats,
            name=name,
            skip_unreadable=skip_unreadable,
            progress=progress,
            style=style,
            llm=llm,
            gpu=gpu,
            gpu_progress=gpu_progress,
            save_plan=save_plan,
            link=link,
            analyze_on=analyze_on,
            production=production,
        )


def _proxies_for_analysis(files: list[Path]) -> tuple[list[Path], dict[Path, MediaItem], list[str]]:
    """``(paths to analyze, proxy path -> original's MediaItem, warnings)``: each clip's proxy where
    one exists (``montage-bridge proxies``), else the clip itself. A proxy is used only when it has
    its original's rate, frame count, start timecode and channels, so shot frames found on it are the
    original's frames; one that does not match stops the run, naming it (as ``--link proxies`` does)."""
    from kernel.probe import probe_media
    from proxies.make import find_proxy, require_match

    analyzed: list[Path] = []
    originals: dict[Path, MediaItem] = {}
    without: list[str] = []
    for path in files:
        proxy = find_proxy(path)
        if proxy is None:
            analyzed.append(path)
            without.append(path.name)
            continue
        original = probe_media(path)
        require_match(original, probe_media(proxy))
        analyzed.append(proxy)
        originals[proxy.resolve()] = original
    note = []
    if without and originals:
        shown = ", ".join(without[:5]) + (" …" if len(without) > 5 else "")
        note.append(f"--analyze-on proxies: {len(without)} clip(s) have no proxy and were analysed themselves: {shown}")
    elif without:
        note.append("--analyze-on proxies: no clip has a proxy (make them with `montage-bridge proxies FOOTAGE`)")
    return analyzed, originals, note


def _link_proxies(timeline: otio.schema.Timeline) -> list[str]:
    """Point the timeline at the clips' proxies (a proxy that does not match frame for frame stops
    the run, naming it); the warning for clips that have none."""
    from proxies.relink import relink_timeline as switch_media

    missing = switch_media(timeline, "proxies").missing
    if not missing:
        return []
    shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
    return [
        f"--link proxies: {len(missing)} clip(s) have no proxy and link their original: {shown} — make them with "
        "`montage-bridge proxies FOOTAGE`"
    ]


def _cut(
    files: list[Path],
    footage_dir: Path,
    music: Path | None,
    output: OutputFolder,
    warnings: list[str],
    wanted: dict[str, Path],
    *,
    brief: Brief,
    duration_seconds: float | None,
    rate: Fraction | None,
    formats: tuple[str, ...],
    name: str | None,
    skip_unreadable: bool,
    progress: Progress | None,
    style: str | None,
    llm: LLMConfig | None,
    gpu: GpuOptions | None,
    gpu_progress: RemoteProgress | None,
    save_plan: bool,
    link: str = "originals",
    analyze_on: str = "originals",
    production: ProductionOptions | None = None,
) -> AutoResult:
    """The body of :func:`run_auto` once the inputs are checked: analyze, plan, process, write."""
    out_dir = output.path
    options = EngineOptions(require_video=True)
    originals: dict[Path, MediaItem] = {}
    analyzed = files
    if analyze_on == "proxies":
        analyzed, originals, note = _proxies_for_analysis(files)
        warnings.extend(note)
    engine = analyze_paths(analyzed, options, progress=files_done_progress(len(analyzed), progress))
    for clip in engine.clips:  # analysed on a proxy: the plan and the timelines name the original
        original = originals.get(clip.media.path.resolve())
        if original is not None:
            clip.media = original.model_copy(deep=True)
    # A recorder's WAV beside the clips is sound with no picture: an editor cuts the picture and
    # leaves it aside, so it is one warning line, not a reason to stop.
    audio_only = [f.path.name for f in engine.failures if f.audio_only]
    if audio_only:
        shown = ", ".join(audio_only[:8]) + (f", … ({len(audio_only) - 8} more)" if len(audio_only) > 8 else "")
        warnings.append(
            f"set aside {len(audio_only)} audio-only file(s) with no picture: {shown} (pass the song as --music)"
        )
    for failure in engine.failures:
        if failure.audio_only:
            continue
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
        music_analysis = analyze_music_cached(music, options.cache_dir)  # by content, like the clips
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
    if wanted:
        overrides["must_include"] = _must_include_ids(wanted, clips, brief.must_include)
    brief = brief.model_copy(update=overrides)
    plan = make_plan(analysis, brief, style, llm=llm)  # validated against analysis, brief and style
    warnings.extend(plan.warnings)
    processed: dict[str, ProcessedMedia] = {}
    if gpu is not None:
        if progress:
            progress("remote processing", 0, 1)
        output.create()
        remote = run_remote_ops(plan, analysis, out_dir, gpu, gpu_progress)
        processed = remote.processed
        warnings.extend(remote.warnings)
    made: ProductionRun | None = None
    if production is not None:
        plan, analysis, made = _produce(plan, analysis, brief, production, output, warnings, progress)
    if progress:
        progress("writing", 0, 1)
    timeline = build_timeline(plan, analysis)
    if made is not None:
        tag_generated(timeline, made)
    if plan.aspect != "16:9":  # vertical/square: each clip's crop follows its subject (reframe/)
        from reframe.timeline import reframe_timeline, speech_by_path

        speech = speech_by_path(analysis.clips)
        warnings.extend(reframe_timeline(timeline, plan.width, plan.height, speech=speech, progress=progress).warnings)
    relink_timeline(timeline, processed)
    if link == "proxies":
        warnings.extend(_link_proxies(timeline))
    warnings.extend(_not_in_timeline(plan, timeline))
    warnings.extend(_edl_warnings(timeline, formats))
    output.create()
    written = write_timeline_files(timeline, out_dir, safe_stem(title), formats)
    if save_plan:
        plan_file = out_dir / "plan.json"
        write_text_atomic(plan_file, plan.model_dump_json(indent=2) + "\n")
        written.append(plan_file)
    from dashboard.picture import try_write_edit_picture  # edit.html/edit.png: a failure is only a warning

    picture, failed = try_write_edit_picture(
        out_dir, plan, analysis, timeline=timeline, files=written, warnings=warnings
    )
    warnings.extend(failed)
    return AutoResult(
        analysis=analysis,
        plan=plan,
        timeline=timeline,
        files=written,
        warnings=warnings,
        processed=processed,
        picture=picture,
        production=made,
    )


def _produce(
    plan: EditPlan,
    analysis: AnalysisResult,
    brief: Brief,
    production: ProductionOptions,
    output: OutputFolder,
    warnings: list[str],
    progress: Progress | None,
) -> tuple[EditPlan, AnalysisResult, ProductionRun]:
    """``auto --generate-missing``: the production plan, its budget check, generation and placement."""
    if progress:
        progress("production plan", 0, 1)
    if production.plan is not None:
        wanted = production.plan
    elif production.make_plan is not None:
        wanted = production.make_plan(analysis, brief)
    else:
        raise PlanningError("--generate-missing needs a production plan: pass --production-plan FILE")
    check_budget(wanted)  # before any GPU time is spent
    if progress:
        progress("generating", 0, 1)
    output.create()
    made = run_production(
        wanted,
        analysis,
        output.path,
        production.gpu,
        settings=production.settings,
        progress=production.progress,
        tool_params=production.tool_params,
        client=production.client,
    )
    warnings.extend(made.warnings)
    plan, analysis, placed = place_production(plan, analysis, made)
    warnings.extend(placed)
    write_text_atomic(output.path / "production.json", made.plan.model_dump_json(indent=2) + "\n")
    return plan, analysis, made


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


def _edl_warnings(timeline: otio.schema.Timeline, formats: tuple[str, ...]) -> list[str]:
    """What the EDL's source timecodes cannot say exactly (mixed rates, DF media in an NDF list)."""
    if "edl" not in formats:
        return []
    return [f"EDL: {item.count} clip(s), {item.feature}: {item.detail}" for item in edl_source_time_losses(timeline)]


def safe_stem(title: str) -> str:
    """``title`` made safe as a file name stem (the timeline files are named after it)."""
    stem = "".join(ch if ch.isalnum() or ch in "-_ ." else "_" for ch in title).strip(" .")
    return stem or "timeline"


class OutputFolder:
    """The output folder of one run: checked up front, created only when the first file is about to be
    written, and put back as it was when the run fails (see :func:`run_auto`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.existed = path.is_dir()
        self._created_top: Path | None = None  # the highest folder this run created
        if self.existed:
            ensure_writable_dir(path)  # a temp file that is gone again: the folder is left as it was
        else:
            self._check_creatable()
        processed = path / PROCESSED_DIR
        self._processed_existed = processed.is_dir()
        self._processed_before = {p.name for p in processed.iterdir()} if self._processed_existed else set()

    def _check_creatable(self) -> None:
        """Fail now, before minutes of analysis, when ``path`` could not be created later."""
        ancestor = self.path
        while not ancestor.exists() and ancestor.parent != ancestor:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise WriteError(f"output directory {self.path} is not writable ({ancestor} is a file, not a folder)")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise WriteError(f"output directory {self.path} is not writable (no permission to create it in {ancestor})")
        try:  # access() can say yes where the filesystem says no (read-only mounts, ACLs)
            with tempfile.TemporaryFile(dir=ancestor):
                pass
        except OSError as exc:
            raise WriteError(f"output directory {self.path} is not writable ({exc.strerror or exc})") from exc

    def create(self) -> None:
        """Make the folder (and missing parents), remembering which of them this run made."""
        if self.path.is_dir():
            return
        top = self.path
        while not top.parent.exists() and top.parent != top:
            top = top.parent
        ensure_writable_dir(self.path)
        if self._created_top is None:
            self._created_top = top

    def restore(self) -> None:
        """Undo this run's traces: folders it created go; an existing folder loses only new processed files.
        Generated clips (``generated/``) stay: they cost GPU time and a rerun reuses them."""
        generated = self.path / GENERATED_DIR
        if self._created_top is not None and generated.is_dir() and any(generated.iterdir()):
            for entry in self.path.iterdir():
                if entry.name == GENERATED_DIR:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
            return
        if self._created_top is not None:
            shutil.rmtree(self._created_top, ignore_errors=True)
            return
        processed = self.path / PROCESSED_DIR
        if not processed.is_dir():
            return
        if not self._processed_existed:
            shutil.rmtree(processed, ignore_errors=True)
            return
        for entry in processed.iterdir():
            if entry.name not in self._processed_before:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    @contextlib.contextmanager
    def on_failure_restore(self) -> Iterator[None]:
        try:
            yield
        except BaseException:  # Ctrl-C included: an interrupted run leaves nothing either
            self.restore()
            raise


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _match_must_include(terms: list[str], files: list[Path], footage_dir: Path) -> dict[str, Path]:
    """{term: the footage file it names}. A term is a path, a file name, a stem or a clip id (the
    sanitised stem); case is ignored when nothing matches exactly. Raises :class:`MediaError` naming
    the term and the clips there are when it names no file, or several."""
    found: dict[str, Path] = {}
    for term in terms:
        text = term.strip()
        if not text:
            raise MediaError("--must-include: empty clip name — pass a clip's file name, stem or path")
        as_path = Path(text).expanduser()
        for candidate in (as_path, footage_dir / as_path):
            if candidate.is_file():
                hits = [f for f in files if _same_file(f, candidate)]
                if not hits:
                    raise MediaError(
                        f"--must-include {text}: that file is not among the footage clips of {footage_dir} "
                        "(not in the folder, or set aside as a document, sidecar or proxy)"
                    )
                found[term] = hits[0]
                break
        if term in found:
            continue
        hits = _named(text, files, str)
        if not hits:
            hits = _named(text.casefold(), files, str.casefold)
        if len(hits) > 1:
            names = ", ".join(
                h.relative_to(footage_dir).as_posix() if h.is_relative_to(footage_dir) else str(h) for h in hits
            )
            raise MediaError(f"--must-include {text}: names {len(hits)} clips ({names}) — pass the file name or path")
        if not hits:
            shown = ", ".join(f.name for f in files[:8]) + (f" +{len(files) - 8} more" if len(files) > 8 else "")
            raise MediaError(
                f"--must-include {text}: no clip of that name in {footage_dir} (clips: {shown}) — "
                "pass a clip's file name, stem or path"
            )
        found[term] = hits[0]
    return found


def _named(text: str, files: list[Path], fold) -> list[Path]:
    """Files whose name, stem or clip id (``clip_id_for`` without suffixes) equals ``text`` under ``fold``."""
    from analysis.footage import clip_id_for

    hits = []
    for f in files:
        keys = {fold(f.name), fold(f.stem), fold(clip_id_for(f, set()))}
        if text in keys:
            hits.append(f)
    return hits


def _must_include_ids(wanted: dict[str, Path], clips: list, already: list[str]) -> list[str]:
    """The clip ids of the ``--must-include`` files, after the brief's own; a file that could not be
    analyzed (left out with --skip-unreadable) is an error, not a silent drop."""
    by_path = {Path(c.media.path).resolve(): c.id for c in clips}
    ids = list(already)
    for term, path in wanted.items():
        clip_id = by_path.get(path.resolve())
        if clip_id is None:
            raise MediaError(f"--must-include {term}: {path.name} could not be analyzed, so it cannot be included")
        if clip_id not in ids:
            ids.append(clip_id)
    return ids
