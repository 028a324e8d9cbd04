"""Running a production plan: generate the shots the footage lacks on the GPU worker, then place them.

For every shot whose source is ``generate`` (:mod:`planner.production`) one ``generate`` job goes to the
worker through :class:`gpu_remote.client.GpuClient`, the way ``montage-bridge gpu submit generate``
sends it: text-to-video with the prompt alone, image-to-video with a frame of the footage (extracted
with ffmpeg at ``ImageRef.seconds``), first/last-frame with two. Jobs ask the worker's quality gate to
*report* (``quality_gate="report"``) so the verdict comes back with the clip: ``result["quality"]`` is
``{"ok", "problems", "metrics"}`` (:mod:`gpu_remote.quality`); a job that failed with
``quality_failed`` counts the same.

A clip that fails the gate is **regenerated once** with a new seed; if that fails too (or the job
failed in a way a new seed cannot fix: no model on the worker, parameters the model refuses), the
shot takes its best ``footage`` alternative and a warning says so; a shot with no footage
alternative is left to the edit, with a warning.

Nothing is lost between runs: job ids derive from what is computed (op, input hashes, params — the
same ids ``gpu submit`` uses), every attempt is written to ``OUT/generated/production-run.json`` as it
happens, and accepted clips are downloaded (verified, atomically) to ``OUT/generated/`` under stable
names (``shot-003-<job>.generate.mp4``). A second run reuses what is there, re-attaches to jobs still
running or finished on the worker and does not resubmit attempts already judged.

Placement (:func:`place_production`): the generated clips join the analysis (probed; one shot each)
and overwrite the edit plan's video track 1 where their shot falls in the shot list (the sum of the
earlier shots' seconds), trimming the cuts under them, so the edit keeps its length and music; a shot
past the end is appended. :func:`tag_generated` then marks every generated clip in the OTIO timeline:
``metadata["montage_bridge"]["generated"] = {tool, prompt, job_id}`` (OTIO keeps it) and a clip marker
``Generated: TOOL`` whose comment holds the prompt and job id (the marker is what FCPXML, FCP7 XML,
EDL and Resolve carry).

Title cards (``title`` shots) become real clips too: :func:`render_titles` (run by :func:`place_production`)
renders each with ffmpeg (:mod:`render.title_card`) into ``OUT/generated/title-003-<text>-<hash>.mov`` —
the text centred on black at the edit's size and rate for the shot's exact length in frames, with a
silent sound track of the edit's clips' channel count when they have sound — and places it like a
generated clip. It is tagged ``metadata["montage_bridge"]["title"] = {text}`` with a ``Title: TEXT``
marker; its file name carries the text too (what an EDL shows). A card that cannot be rendered (no
font on this machine, ffmpeg failing) is a warning, and the shot keeps what the planner put there.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import opentimelineio as otio
from pydantic import Field, ValidationError

from analysis.models import AnalysisResult, ClipAnalysis, Shot
from gpu_remote.client import GpuClient, stable_job_id
from gpu_remote.errors import ClientError
from gpu_remote.models import Job, JobState
from kernel.atomic_io import write_text_atomic
from kernel.errors import MediaError, MontageError
from kernel.ffmpeg_tools import FFmpegError, run_ffmpeg
from kernel.media import MediaItem, Model
from kernel.probe import probe_media
from kernel.timebase import rescale_frames, seconds_to_frames
from montage_bridge.remote_media import GpuOptions
from planner.brief import Brief
from planner.estimate import fit_plan
from planner.models import Cut, EditPlan
from planner.production import (
    ImageRef,
    ProductionPlan,
    ProductionPlanError,
    ProductionShot,
    ShotSource,
    read_production_plan,
)
from planner.tool_catalogue import open_catalogue
from planner.validate import plan_problems

GENERATED_DIR = "generated"
JOURNAL_NAME = "production-run.json"
GENERATED_BIN = "Generated"
MODE_PARAM = {"text_to_video": "t2v", "image_to_video": "i2v", "first_last_frame": "flf2v"}
# Failures a new seed cannot fix: regenerating would only spend GPU time again.
PERMANENT_CODES = frozenset({"model_unavailable", "invalid_params", "invalid_inputs"})
MARKER_PREFIX = "Generated"
TITLE_MARKER_PREFIX = "Title"
TITLE_BACKGROUND = "black"

# (key, op, fraction 0..1 or -1 when unknown, stage): the same shape as auto --gpu's remote progress.
ProductionProgress = Callable[[str, str, float, str], None]


class ProductionRunError(MontageError):
    """A production plan that cannot be run (bad settings, a conditioning frame that cannot be made)."""


class GenerateSettings(Model):
    """How generated shots are rendered on the worker: picture size, rate, denoising steps, seed.

    ``num_frames`` follows each shot's length: ``ceil(seconds × fps)`` raised to the next 4k+1 (what
    Wan-style models want), at most ``max_frames``.
    """

    width: int = Field(832, ge=8, le=4096, multiple_of=8, description="pixels")
    height: int = Field(480, ge=8, le=4096, multiple_of=8, description="pixels")
    fps: int = Field(16, ge=1, le=120, description="frame rate of the generated clips")
    steps: int = Field(30, ge=1, le=500, description="denoising steps")
    guidance_scale: float = Field(5.0, ge=0, le=50)
    seed: int = Field(0, ge=0, le=2**32 - 1, description="first attempt's seed; a regeneration uses another")
    negative_prompt: str | None = Field(None, max_length=4000)
    max_frames: int = Field(241, ge=1, le=1000)

    def num_frames(self, seconds: float) -> int:
        wanted = max(1, math.ceil(seconds * self.fps - 1e-9))
        four_k_plus_one = 4 * math.ceil((wanted - 1) / 4) + 1
        cap = 4 * ((self.max_frames - 1) // 4) + 1
        return max(1, min(four_k_plus_one, cap))


def settings_from_pairs(pairs: list[str]) -> GenerateSettings:
    """``GenerateSettings`` from ``key=value`` pairs (``--generate-param``); the error names the key."""
    data: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ProductionRunError(f"--generate-param {pair!r} is not key=value (e.g. width=832)")
        try:
            data[key.strip().replace("-", "_")] = json.loads(value)
        except ValueError:
            data[key.strip().replace("-", "_")] = value
    try:
        return GenerateSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        known = ", ".join(GenerateSettings.model_fields)
        raise ProductionRunError(f"--generate-param {where}: {first['msg']} (settings: {known})") from exc


@dataclass
class ProductionOptions:
    """``auto --generate-missing``: where to generate, with what, and the production plan to run.

    ``plan`` is a plan made earlier (a file, the dashboard); otherwise ``make_plan`` makes one from the
    analysis and the brief once the footage is analysed (shot sourcing)."""

    gpu: GpuOptions
    plan: ProductionPlan | None = None
    make_plan: Callable[[AnalysisResult, Brief], ProductionPlan] | None = None
    settings: GenerateSettings = field(default_factory=GenerateSettings)
    tool_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: ProductionProgress | None = None
    client: GpuClient | None = None  # a client to use instead of one built from ``gpu`` (embedding, tests)


def load_production_plan(path: Path) -> ProductionPlan:
    """A production plan JSON file (``--production-plan``), validated; the error names the file and field."""
    try:
        return read_production_plan(path, "--production-plan")
    except ProductionPlanError as exc:
        raise ProductionRunError(str(exc)) from exc


def production_options(
    gpu: GpuOptions,
    plan_file: Path | None,
    pairs: list[str],
    progress: ProductionProgress | None = None,
) -> ProductionOptions:
    """What ``auto --generate-missing`` runs: the plan from ``plan_file`` (checked now, before any analysis),
    else one sourced from the brief's shot list once the footage is analysed; settings from
    ``--generate-param``; each tool's params from the tool catalogue."""
    settings = settings_from_pairs(pairs)
    plan = load_production_plan(plan_file) if plan_file is not None else None

    def make(analysis: AnalysisResult, brief: Brief) -> ProductionPlan:
        return source_from_brief(analysis, brief, gpu)

    return ProductionOptions(
        gpu=gpu,
        plan=plan,
        make_plan=None if plan is not None else make,
        settings=settings,
        tool_params=catalogue_params(),
        progress=progress,
    )


def catalogue_params() -> dict[str, dict[str, Any]]:
    """{tool id: the op params it runs with} from the tool catalogue (shipped + the user's)."""
    with open_catalogue() as catalogue:
        return {tool.id: dict(tool.params) for tool in catalogue.tools(op="generate")}


def source_from_brief(analysis: AnalysisResult, brief: Brief, gpu: GpuOptions | None = None) -> ProductionPlan:
    """The production plan for ``brief``'s shot list (``shots = [...]``) over ``analysis``: sourced
    (:mod:`planner.sourcing`), estimated against the worker's queue and fitted to the brief's budget and
    deadline (:mod:`planner.estimate`). Raises when the brief has no shot list."""
    from planner.sourcing import needs_from_brief, source_shots  # the heavier search stack: only when sourcing

    needs = needs_from_brief(brief)
    if not needs:
        raise ProductionRunError(
            '--generate-missing: the brief has no shot list: add shots = ["a dog on the beach", …] to the brief, '
            "or pass --production-plan FILE"
        )
    queue = None
    if gpu is not None:
        try:
            from montage_bridge.commands.bench_tools import read_queue

            queue = read_queue(GpuClient(gpu.url, gpu.token, state_dir=gpu.state_dir))
        except (ImportError, ClientError):
            queue = None  # the estimate then says it assumed an empty queue
    with open_catalogue() as catalogue:
        sourced = source_shots(needs, analysis, brief, catalogue)
        return fit_plan(sourced, catalogue, queue).plan


def check_budget(plan: ProductionPlan) -> None:
    """Refuse, before anything is spent, a plan over the brief's budget or deadline (the message says by how much)."""
    if not plan.within_budget:
        assert plan.budget is not None
        cur = plan.currency
        raise ProductionRunError(
            f"the production plan costs {plan.total.cost + plan.llm.cost:.2f} {cur} (GPU {plan.total.cost:.2f} + "
            f"LLM {plan.llm.cost:.2f}), over the brief's budget of {plan.budget:.2f} {cur}: raise budget in the "
            "brief, or plan again so more shots come from the footage"
        )
    if not plan.within_deadline:
        assert plan.deadline_seconds is not None
        raise ProductionRunError(
            f"the production plan needs about {plan.total.wall_seconds:.0f} s of GPU work, past the brief's deadline "
            f"of {plan.deadline_seconds:.0f} s: raise deadline in the brief, or plan again with faster tools"
        )


@dataclass(frozen=True)
class GeneratedClip:
    """An accepted generated clip, downloaded and probed."""

    shot_index: int
    clip_id: str
    path: Path
    media: MediaItem
    tool: str
    prompt: str
    job_id: str
    seed: int
    quality: dict[str, Any] = field(default_factory=dict)

    @property
    def tag(self) -> dict[str, str]:
        return {"tool": self.tool, "prompt": self.prompt, "job_id": self.job_id}


@dataclass(frozen=True)
class TitleClip:
    """A title card rendered to a file (:mod:`render.title_card`), probed."""

    shot_index: int
    clip_id: str
    path: Path
    media: MediaItem
    text: str

    @property
    def tag(self) -> dict[str, str]:
        return {"text": self.text}


@dataclass
class ProductionRun:
    """What running a production plan gave: the plan as realised, the clips and what to tell the user."""

    plan: ProductionPlan  # sources as realised: a failed generate shot carries its footage alternative
    generated: dict[int, GeneratedClip] = field(default_factory=dict)  # shot index → clip
    fallbacks: dict[int, ShotSource] = field(default_factory=dict)  # shot index → footage used instead
    left_out: list[int] = field(default_factory=list)  # generate shots with neither a clip nor footage
    warnings: list[str] = field(default_factory=list)
    submitted: int = 0  # jobs this run put on the worker (re-attached or new)
    titles: dict[int, TitleClip] = field(default_factory=dict)  # shot index → rendered title card
    folder: Path | None = None  # OUT/generated: where title cards are rendered (None: they are not)

    @property
    def paths(self) -> list[Path]:
        """Every file the run made (generated clips, title cards), in shot order: the Resolve bin's content."""
        made: dict[int, Path] = {i: c.path for i, c in self.generated.items()}
        made.update({i: t.path for i, t in self.titles.items()})
        return [path for _, path in sorted(made.items())]


@dataclass
class _Outcome:
    """One attempt's verdict."""

    job_id: str
    seed: int
    ok: bool
    reason: str = ""
    permanent: bool = False
    clip: GeneratedClip | None = None
    worker_seconds: float | None = None  # the job's started_at → finished_at on the worker


class RunJournal:
    """``OUT/generated/production-run.json``: every attempt per shot as it happens (atomic writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.shots: dict[str, dict[str, Any]] = data.get("shots", {}) if isinstance(data, dict) else {}

    def attempts(self, index: int) -> list[dict[str, Any]]:
        return list(self.shots.get(str(index), {}).get("attempts", []))

    def record(self, index: int, job_id: str, **info: Any) -> None:
        with self._lock:
            entry = self.shots.setdefault(str(index), {"attempts": []})
            attempts = entry["attempts"]
            found = next((a for a in attempts if a.get("job_id") == job_id), None)
            if found is None:
                attempts.append({"job_id": job_id, **info})
            else:
                found.update(info)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps({"version": 1, "shots": self.shots}, indent=1) + "\n")


def _input_digest(client: GpuClient, inputs: dict[str, Path]) -> str:
    """The digest ``gpu submit`` derives a job id from, so the CLI and this run share jobs."""
    if len(inputs) == 1:
        return client.hashes.sha256(next(iter(inputs.values())))
    joined = "".join(f"{k}={client.hashes.sha256(v)};" for k, v in sorted(inputs.items()))
    return hashlib.sha256(joined.encode()).hexdigest()


def _seed(settings: GenerateSettings, attempt: int, index: int, twin: int = 0) -> int:
    """Attempt 0 uses the settings' seed (``twin``: the how-manyth shot of this run asking for the very same
    job, which gets its own take); a regeneration a different seed, fixed per shot (reruns agree)."""
    if attempt == 0:
        return (settings.seed + 1_000_003 * twin) % 2**32
    return (settings.seed + 1 + 7919 * attempt + 104729 * index) % 2**32


class _Runner:
    def __init__(
        self,
        plan: ProductionPlan,
        analysis: AnalysisResult,
        out_dir: Path,
        client: GpuClient,
        settings: GenerateSettings,
        progress: ProductionProgress | None,
        timeout_s: float | None,
        tool_params: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.plan = plan
        self.tool_params = tool_params or {}
        self.clips = {c.id: c for c in analysis.clips}
        self.folder = out_dir / GENERATED_DIR
        self.client = client
        self.settings = settings
        self.progress = progress
        self.timeout_s = timeout_s
        self.journal = RunJournal(self.folder / JOURNAL_NAME)
        self.used_ids = set(self.clips)
        self.twins: dict[int, int] = {}  # shot index → its rank among shots asking for the same job
        self.submitted = 0
        self._lock = threading.Lock()

    def settings_for(self, tool: str | None) -> GenerateSettings:
        """The settings for ``tool``: its catalogue params, then what the user set explicitly."""
        base = {k: v for k, v in self.tool_params.get(tool or "", {}).items() if k in GenerateSettings.model_fields}
        if not base:
            return self.settings
        chosen = {k: getattr(self.settings, k) for k in self.settings.model_fields_set}
        try:
            return GenerateSettings.model_validate({**base, **chosen})
        except ValidationError as exc:
            raise ProductionRunError(
                f"tool {tool}: its catalogue params are not usable: {exc.errors()[0]['msg']}"
            ) from exc

    # -- inputs --------------------------------------------------------------------------------------

    def frame(self, ref: ImageRef, shot: ProductionShot) -> Path:
        """A PNG of ``ref``'s frame (cached beside the clips, named by clip and millisecond)."""
        clip = self.clips.get(ref.clip_id)
        if clip is None:
            raise ProductionRunError(
                f"shot {shot.need.index + 1}: its conditioning image names clip {ref.clip_id!r}, which is not in "
                "the footage: plan the production again from this footage"
            )
        length = clip.media.frames / float(clip.media.rate)
        if ref.seconds >= length:
            raise ProductionRunError(
                f"shot {shot.need.index + 1}: the conditioning frame at {ref.seconds:g} s is past the end of "
                f"{clip.media.name} ({length:.2f} s)"
            )
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in ref.clip_id)[:80]
        dest = self.folder / ".frames" / f"{safe}-{round(ref.seconds * 1000):09d}ms.png"
        if dest.is_file() and dest.stat().st_size > 0:
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(f".{dest.name}.part.png")
        try:
            run_ffmpeg(
                ["-ss", f"{ref.seconds:.6f}", "-i", str(clip.media.path), "-frames:v", "1", "-an", str(part)],
                timeout=120,
            )
        except FFmpegError as exc:
            part.unlink(missing_ok=True)
            raise ProductionRunError(
                f"shot {shot.need.index + 1}: cannot take the frame at {ref.seconds:g} s of {clip.media.name}: {exc}"
            ) from exc
        if not part.is_file() or part.stat().st_size == 0:
            part.unlink(missing_ok=True)
            raise ProductionRunError(
                f"shot {shot.need.index + 1}: {clip.media.name} has no frame at {ref.seconds:g} s to condition on"
            )
        part.replace(dest)
        return dest

    def job_of(self, shot: ProductionShot, attempt: int) -> tuple[str, dict[str, Path], dict[str, Any]]:
        source = shot.source
        assert source.mode is not None and source.prompt
        inputs: dict[str, Path] = {}
        if source.image is not None and source.mode != "text_to_video":
            inputs["image"] = self.frame(source.image, shot)
        if source.last_image is not None and source.mode == "first_last_frame":
            inputs["last_image"] = self.frame(source.last_image, shot)
        s = self.settings_for(source.tool)
        params: dict[str, Any] = {
            "mode": MODE_PARAM[source.mode],
            "prompt": source.prompt,
            "num_frames": s.num_frames(shot.need.seconds),
            "width": s.width,
            "height": s.height,
            "steps": s.steps,
            "guidance_scale": s.guidance_scale,
            "seed": _seed(s, attempt, shot.need.index, self.twins.get(shot.need.index, 0)),
            "fps": s.fps,
            "quality_gate": "report",
        }
        if s.negative_prompt:
            params["negative_prompt"] = s.negative_prompt
        return stable_job_id("generate", _input_digest(self.client, inputs), params), inputs, params

    # -- one attempt ---------------------------------------------------------------------------------

    def report(self, key: str, fraction: float, stage: str) -> None:
        if self.progress is not None:
            self.progress(key, "generate", fraction, stage)

    def attempt(self, shot: ProductionShot, attempt: int) -> _Outcome:
        index = shot.need.index
        key = f"shot {index + 1}" + (" (again)" if attempt else "")
        job_id, inputs, params = self.job_of(shot, attempt)
        seed = int(params["seed"])
        known = next((a for a in self.journal.attempts(index) if a.get("job_id") == job_id), None)
        if known is not None and known.get("state") in ("rejected", "failed"):
            # Judged on an earlier run: the verdict stands, no GPU time is spent on it again.
            ran = known.get("worker_seconds")
            return _Outcome(
                job_id, seed, False, known.get("reason", "failed"), bool(known.get("permanent")), worker_seconds=ran
            )
        stem = f"shot-{index + 1:03d}-{job_id.removeprefix('mb-')[:12]}"
        saved = self.folder / f"{stem}.generate.mp4"
        if known is not None and known.get("state") == "accepted" and saved.is_file():
            clip = self.accept(shot, job_id, seed, saved, known.get("quality") or {})
            if clip is not None:
                self.report(key, 1.0, "done")
                return _Outcome(job_id, seed, True, clip=clip, worker_seconds=known.get("worker_seconds"))
        self.report(key, 0.0, "queued")
        try:
            job = self._existing(job_id) if known is not None else None
            if job is None:  # not on the worker yet (or no longer): send it
                self.journal.record(index, job_id, state="submitted", seed=seed, attempt=attempt)
                self.client.submit("generate", inputs, params, job_id=job_id, out_dir=self.folder)
                with self._lock:
                    self.submitted += 1

            def on_event(event: Any) -> None:
                if event.type == "progress":
                    self.report(key, float(event.data.get("fraction", 0.0)), str(event.data.get("stage") or ""))
                elif event.type == "state":
                    self.report(key, -1.0, str(event.data.get("state") or ""))

            if job is None or not job.state.terminal:
                job = self.follow(job_id, on_event)
        except ClientError as exc:
            # The job may go on on the worker: not judged, so a rerun re-attaches to it.
            self.report(key, -1.0, "failed")
            return _Outcome(job_id, seed, False, str(exc), permanent=True)
        outcome = self.judge(shot, job, seed, stem)
        self.report(key, 1.0, "done" if outcome.ok else "failed")
        return outcome

    def _existing(self, job_id: str) -> Job | None:
        """The job as the worker has it after an interrupted run (re-attach: a finished job is judged as it
        is, never run again), or None when the worker does not have it."""
        found = [job for job in self.client.jobs([job_id]) if job.id == job_id]
        return found[0] if found else None

    def follow(self, job_id: str, on_event: Callable[[Any], None]) -> Job:
        """Follow the job's events until it is finished. A ``completed`` event can be followed by another
        run of the job (an automatic retry re-queues it), so the job's own state decides, not the event."""
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        last = 0
        while True:
            for event in self.client.events(job_id, after=last):
                last = event.seq
                on_event(event)
                if deadline is not None and time.monotonic() > deadline:
                    raise ClientError(f"job {job_id} did not finish within {self.timeout_s:g} s")
            job = self.client.job(job_id)
            if job.state.terminal:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise ClientError(f"job {job_id} did not finish within {self.timeout_s:g} s")

    def judge(self, shot: ProductionShot, job: Job, seed: int, stem: str) -> _Outcome:
        outcome = self._judge(shot, job, seed, stem)
        if job.started_at is not None and job.finished_at is not None:
            outcome.worker_seconds = max(0.0, job.finished_at - job.started_at)
            self.journal.record(shot.need.index, job.id, worker_seconds=round(outcome.worker_seconds, 3))
        return outcome

    def _judge(self, shot: ProductionShot, job: Job, seed: int, stem: str) -> _Outcome:
        index = shot.need.index
        if job.state == JobState.succeeded:
            quality = dict(job.result.get("quality") or {})
            if quality and not quality.get("ok", False):
                reason = "failed the quality gate: " + "; ".join(quality.get("problems") or ["no reason given"])
                self.journal.record(index, job.id, state="rejected", reason=reason, quality=quality)
                self._release(job.id)
                return _Outcome(job.id, seed, False, reason)
            try:
                path = self.client.fetch(job, self.folder, stem=stem)["video"]
            except (ClientError, KeyError) as exc:
                return _Outcome(job.id, seed, False, f"could not download the clip: {exc}", permanent=True)
            clip = self.accept(shot, job.id, seed, path, quality)
            if clip is None:
                reason = f"the worker's clip {path.name} is not readable video"
                self.journal.record(index, job.id, state="rejected", reason=reason)
                return _Outcome(job.id, seed, False, reason)
            self.journal.record(index, job.id, state="accepted", file=path.name, quality=quality)
            self._release(job.id)
            return _Outcome(job.id, seed, True, clip=clip)
        code = job.error.code if job.error else job.state.value
        message = job.error.message if job.error else job.state.value
        permanent = code in PERMANENT_CODES or job.state == JobState.canceled
        reason = message if code == "quality_failed" else f"{job.state.value} ({code}): {message}"
        self.journal.record(index, job.id, state="failed", reason=reason, permanent=permanent)
        return _Outcome(job.id, seed, False, reason, permanent)

    def _release(self, job_id: str) -> None:
        try:
            self.client.delete(job_id)  # the clip (or the verdict) is safely here
        except ClientError:
            pass  # the worker expires it in time; nothing here depends on it

    def accept(
        self, shot: ProductionShot, job_id: str, seed: int, path: Path, quality: dict[str, Any]
    ) -> GeneratedClip | None:
        try:
            media = probe_media(path)
        except MediaError:
            return None
        if not media.has_video or media.frames < 1:
            return None
        index = shot.need.index
        with self._lock:
            clip_id = f"generated-{index + 1:03d}"
            n = 2
            while clip_id in self.used_ids:
                clip_id = f"generated-{index + 1:03d}-{n}"
                n += 1
            self.used_ids.add(clip_id)
        source = shot.source
        return GeneratedClip(
            shot_index=index,
            clip_id=clip_id,
            path=path,
            media=media,
            tool=source.tool or "generate",
            prompt=source.prompt or "",
            job_id=job_id,
            seed=seed,
            quality=quality,
        )


def run_production(
    plan: ProductionPlan,
    analysis: AnalysisResult,
    out_dir: Path,
    gpu: GpuOptions,
    *,
    settings: GenerateSettings | None = None,
    progress: ProductionProgress | None = None,
    client: GpuClient | None = None,
    tool_params: dict[str, dict[str, Any]] | None = None,
) -> ProductionRun:
    """Generate ``plan``'s ``generate`` shots on the worker at ``gpu`` into ``out_dir/generated``.

    Every shot is tried (concurrently, ``gpu.max_parallel`` at a time); one that fails the quality
    gate is generated once more with another seed, then falls back to its best footage alternative
    with a warning. ``gpu.required`` turns a fallback into a :class:`ProductionRunError`.
    ``tool_params`` ({tool id: the catalogue's params}) set each tool's size, rate and steps; what
    ``settings`` sets explicitly wins.
    """
    todo = [s for s in plan.shots if s.source.kind == "generate"]
    realised = plan.model_copy(deep=True)
    run = ProductionRun(plan=realised, folder=out_dir / GENERATED_DIR)
    if not todo:
        return run
    runner = _Runner(
        plan,
        analysis,
        out_dir,
        client or GpuClient(gpu.url, gpu.token, state_dir=gpu.state_dir),
        settings or GenerateSettings(),
        progress,
        gpu.timeout_s,
        tool_params,
    )
    seen: set[str] = set()
    for shot in todo:  # conditioning frames first: a bad plan stops before any GPU time is spent
        job_id = runner.job_of(shot, 0)[0]
        while job_id in seen:  # two shots asking for the same clip get two takes, not one shared job
            runner.twins[shot.need.index] = runner.twins.get(shot.need.index, 0) + 1
            job_id = runner.job_of(shot, 0)[0]
        seen.add(job_id)
    history: dict[int, list[_Outcome]] = {s.need.index: [] for s in todo}
    pending = list(todo)
    for attempt in (0, 1):
        if not pending:
            break
        with ThreadPoolExecutor(max_workers=max(1, min(gpu.max_parallel, len(pending)))) as pool:
            outcomes = list(pool.map(lambda s: runner.attempt(s, attempt), pending))  # noqa: B023
        retry = []
        for shot, outcome in zip(pending, outcomes):
            history[shot.need.index].append(outcome)
            if outcome.ok and outcome.clip is not None:
                run.generated[shot.need.index] = outcome.clip
            elif not outcome.permanent:
                retry.append(shot)
        pending = retry
    run.submitted = runner.submitted
    by_index = {s.need.index: s for s in realised.shots}
    realised.notes.extend(_measured_notes(todo, history))
    failures = []
    for shot in todo:
        index = shot.need.index
        if index in run.generated:
            continue
        tries = history[index]
        why = "; then ".join(f"seed {o.seed}: {o.reason}" for o in tries) or "not generated"
        footage = next((alt for alt in shot.alternatives if alt.kind == "footage"), None)
        place = by_index[index]
        if footage is not None:
            run.fallbacks[index] = footage
            place.source = footage
            place.alternatives = [a for a in place.alternatives if a != footage]
            message = (
                f"shot {index + 1} ({shot.need.description[:60]}): generation failed after {len(tries)} attempt(s) "
                f"({why}); used footage {footage.clip_id} {footage.source_in_seconds:.2f}–"
                f"{footage.source_out_seconds:.2f} s instead"
            )
        else:
            run.left_out.append(index)
            message = (
                f"shot {index + 1} ({shot.need.description[:60]}): generation failed after {len(tries)} attempt(s) "
                f"({why}) and it has no footage alternative: the edit keeps what the planner put there"
            )
        run.warnings.append(message)
        failures.append(message)
    if failures and gpu.required:
        raise ProductionRunError(failures[0] + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""))
    return run


def _measured_notes(todo: list[ProductionShot], history: dict[int, list[_Outcome]]) -> list[str]:
    """What the worker took (its own started→finished times) against the estimate, per shot and in all."""
    notes = []
    total_ran = total_estimated = 0.0
    jobs = 0
    for shot in todo:
        ran = [o.worker_seconds for o in history[shot.need.index] if o.worker_seconds is not None]
        if not ran:
            continue
        jobs += len(ran)
        total_ran += sum(ran)
        total_estimated += shot.estimate.gpu_seconds
        estimated = f"estimated {shot.estimate.gpu_seconds:.1f} s" if shot.estimate.gpu_seconds else "no estimate"
        notes.append(
            f"shot {shot.need.index + 1}: {len(ran)} job(s), {sum(ran):.1f} s on the worker ({estimated}"
            + (", figures not measured" if shot.estimate.gpu_seconds and not shot.estimate.measured else "")
            + ")"
        )
    if jobs:
        notes.append(
            f"generation: {jobs} job(s), {total_ran:.1f} s on the worker in all, estimated {total_estimated:.1f} s"
        )
    return notes


# -- placement ---------------------------------------------------------------------------------------


def _overwrite(cuts: list[Cut], a: int, b: int, plan: EditPlan, media_rate_of: dict[str, Any]) -> list[Cut]:
    """Video track 1's cuts with ``[a, b)`` cleared (cuts under it trimmed or removed)."""
    kept: list[Cut] = []
    for cut in cuts:
        if cut.kind != "video" or cut.track != 1 or cut.record_out <= a or cut.record_in >= b:
            if cut.kind == "video" and cut.track == 1 and cut.record_in == b and cut.transition_in is not None:
                cut = cut.model_copy(update={"transition_in": None})  # its dissolve would need the new clip's handles
            kept.append(cut)
            continue
        media_rate = media_rate_of[cut.clip_id]
        if cut.record_in < a:
            length = a - cut.record_in
            kept.append(
                cut.model_copy(
                    update={
                        "record_out": a,
                        "source_out": cut.source_in + rescale_frames(length, plan.rate, media_rate),
                    }
                )
            )
        if cut.record_out > b:
            length = cut.record_out - b
            kept.append(
                cut.model_copy(
                    update={
                        "record_in": b,
                        "source_in": cut.source_out - rescale_frames(length, plan.rate, media_rate),
                        "transition_in": None,
                    }
                )
            )
    return [c for c in kept if c.source_out > c.source_in and c.record_out > c.record_in]


def _fit(length: int, first: int, last: int, plan_rate: Any, media_rate: Any) -> int:
    """The longest record length ≤ ``length`` whose source frames (rescaled) fit in ``[first, last)``."""
    room = last - first
    while length > 0 and rescale_frames(length, plan_rate, media_rate) > room:
        length -= 1
    return length


def _sound_of(edit: EditPlan, analysis: AnalysisResult) -> tuple[int, int]:
    """(channels, sample rate) a title card's silent track needs to match the edit's clips; (0, 0) when
    none of the clips it cuts has sound."""
    used = {c.clip_id for c in edit.cuts}
    sounds = [(c.media.audio_channels, c.media.audio_sample_rate) for c in analysis.clips if c.id in used]
    sounds = [(n, r) for n, r in sounds if n > 0]
    if not sounds:
        return 0, 0
    rates = [r for _, r in sounds if r > 0]
    return max(n for n, _ in sounds), (max(set(rates), key=rates.count) if rates else 48000)


def _slug(text: str, limit: int = 32) -> str:
    slug = "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")
    while "__" in slug:
        slug = slug.replace("__", "_")
    return slug[:limit].rstrip("_") or "title"


def render_titles(run: ProductionRun, edit: EditPlan, analysis: AnalysisResult) -> list[str]:
    """Render every ``title`` shot of ``run.plan`` into ``run.folder`` as a real clip (``run.titles``);
    returns warnings. Each card is the shot's length in the edit's frames, at its size and rate; a card
    already there (same text, size, rate, length and sound) is reused. A card that cannot be made is a
    warning and its shot keeps what the planner put there."""
    from render.title_card import TitleCardError, TitleCardSpec, find_title_font, render_title_card

    shots = [s for s in run.plan.shots if s.source.kind == "title" and s.need.index not in run.titles]
    if run.folder is None or not shots:
        return []
    warnings: list[str] = []
    channels, sample_rate = _sound_of(edit, analysis)
    taken = {c.id for c in analysis.clips} | {c.clip_id for c in run.generated.values()}
    try:
        font = find_title_font()
    except TitleCardError as exc:
        font = None
        reason = str(exc)
    else:
        reason = "no font for drawtext on this machine (install fonts-dejavu-core, or set MONTAGE_TITLE_FONT to a .ttf)"
    for shot in sorted(shots, key=lambda s: s.need.index):
        index = shot.need.index
        text = shot.source.text or shot.need.description
        where = f"shot {index + 1} (title card {text[:40]!r})"
        if font is None:
            warnings.append(f"{where}: not rendered: {reason}; the edit keeps what the planner put there")
            continue
        try:
            spec = TitleCardSpec(
                text=text[:500],
                width=edit.width,
                height=edit.height,
                rate=edit.rate,
                frames=max(1, seconds_to_frames(shot.need.seconds, edit.rate)),
                background=TITLE_BACKGROUND,
                audio_channels=channels,
                audio_sample_rate=sample_rate or 48000,
            )
        except ValidationError as exc:
            warnings.append(
                f"{where}: not rendered: {exc.errors()[0]['msg']}; the edit keeps what the planner put there"
            )
            continue
        digest = hashlib.sha256((spec.model_dump_json() + font.name).encode()).hexdigest()[:10]
        path = run.folder / f"title-{index + 1:03d}-{_slug(spec.text)}-{digest}.mov"
        media = None
        if path.is_file():  # made by an earlier run: reuse it when it is still readable and whole
            try:
                media = probe_media(path)
            except MediaError:
                media = None
            if media is not None and media.frames != spec.frames:
                media = None
        if media is None:
            try:
                render_title_card(spec, path, font)
                media = probe_media(path)
            except (TitleCardError, MediaError) as exc:
                warnings.append(f"{where}: not rendered: {exc}; the edit keeps what the planner put there")
                continue
        clip_id = f"title-{index + 1:03d}"
        n = 2
        while clip_id in taken:
            clip_id = f"title-{index + 1:03d}-{n}"
            n += 1
        taken.add(clip_id)
        run.titles[index] = TitleClip(shot_index=index, clip_id=clip_id, path=path, media=media, text=spec.text)
    return warnings


def place_production(
    edit: EditPlan, analysis: AnalysisResult, run: ProductionRun
) -> tuple[EditPlan, AnalysisResult, list[str]]:
    """``edit`` with the run's generated clips, title cards (and footage fallbacks) cut in at their shots' places.

    Title cards are rendered first (:func:`render_titles`, into ``run.folder``). Returns the new plan,
    the analysis with the generated clips and cards added (probed, one shot each) and warnings. Each
    shot starts at the sum of the earlier shots' lengths (timeline frames at the plan's rate) and
    overwrites video track 1 for its own length, trimmed to what its media holds; a shot that starts at
    or past the edit's end is appended. The result is validated like any plan.
    """
    warnings: list[str] = render_titles(run, edit, analysis)
    clips = list(analysis.clips)
    by_id = {c.id: c for c in clips}
    made_clips: list[GeneratedClip | TitleClip] = [*run.generated.values(), *run.titles.values()]
    for made in made_clips:
        analysed = ClipAnalysis(id=made.clip_id, media=made.media, shots=[Shot(start=0, end=made.media.frames)])
        clips.append(analysed)
        by_id[made.clip_id] = analysed
    rate_of = {c.id: c.media.rate for c in clips}
    cuts = list(edit.cuts)
    position = 0.0
    for shot in sorted(run.plan.shots, key=lambda s: s.need.index):
        index = shot.need.index
        start = seconds_to_frames(position, edit.rate)
        position += shot.need.seconds
        wanted = max(1, seconds_to_frames(shot.need.seconds, edit.rate))
        generated = run.generated.get(index)
        fallback = run.fallbacks.get(index)
        title = run.titles.get(index)
        if generated is not None:
            clip_id, first, last = generated.clip_id, 0, generated.media.frames
            reason = f"generated [{generated.tool}]: {generated.prompt[:200]}"
        elif title is not None:
            clip_id, first, last = title.clip_id, 0, title.media.frames
            reason = f"title card: {title.text[:200]}"
        elif fallback is not None and fallback.clip_id in by_id:
            footage = by_id[fallback.clip_id]
            assert fallback.source_in_seconds is not None and fallback.source_out_seconds is not None
            first = seconds_to_frames(fallback.source_in_seconds, footage.media.rate)
            inside = next((s for s in footage.shots if s.start <= first < s.end), None)
            end = min(seconds_to_frames(fallback.source_out_seconds, footage.media.rate), footage.media.frames)
            last = min(end, inside.end) if inside is not None else end
            clip_id = footage.id
            reason = f"footage for shot {index + 1} (generation failed): {fallback.reason[:200]}"
        else:
            continue
        length = _fit(wanted, first, last, edit.rate, rate_of[clip_id])
        if length <= 0:
            warnings.append(f"shot {index + 1}: its media is too short to place")
            continue
        if length < wanted:
            warnings.append(
                f"shot {index + 1}: {clip_id} holds {length / float(edit.rate):.2f} s of the "
                f"{shot.need.seconds:.2f} s the shot list asks for"
            )
        end_of_edit = max((c.record_out for c in cuts if c.kind == "video" and c.track == 1), default=0)
        a = min(start, end_of_edit)
        b = a + length
        cuts = _overwrite(cuts, a, b, edit, rate_of)
        cuts.append(
            Cut(
                clip_id=clip_id,
                source_in=first,
                source_out=first + rescale_frames(length, edit.rate, rate_of[clip_id]),
                record_in=a,
                record_out=b,
                reason=reason,
            )
        )
    cuts.sort(key=lambda c: (c.kind, c.track, c.record_in))
    placed = edit.model_copy(update={"cuts": cuts})
    extended = analysis.model_copy(update={"clips": clips})
    problems = plan_problems(placed, extended)
    if problems:
        raise ProductionRunError("placing the generated shots made an invalid plan: " + "; ".join(problems[:3]))
    return placed, extended, warnings


def tag_generated(timeline: otio.schema.Timeline, run: ProductionRun) -> int:
    """Mark the timeline's generated clips and title cards (metadata + a clip marker); returns how many
    were tagged."""
    by_id = {clip.clip_id: clip for clip in run.generated.values()}
    titles = {clip.clip_id: clip for clip in run.titles.values()}
    tagged = 0
    for item in timeline.find_clips():
        ours = item.metadata.get("montage_bridge")
        clip_id = ours.get("clip_id") if ours is not None and "clip_id" in ours else None
        title = titles.get(str(clip_id)) if clip_id is not None else None
        if title is not None:
            assert ours is not None
            ours["title"] = title.tag
            start = item.source_range.start_time if item.source_range is not None else otio.opentime.RationalTime()
            item.markers.append(
                otio.schema.Marker(
                    name=f"{TITLE_MARKER_PREFIX}: {title.text[:80]}",
                    marked_range=otio.opentime.TimeRange(start, otio.opentime.RationalTime(0, start.rate)),
                    color=otio.schema.MarkerColor.PURPLE,
                    metadata={"montage_bridge": {"comment": f"title card: {title.text}", "title": title.tag}},
                )
            )
            tagged += 1
            continue
        generated = by_id.get(str(clip_id)) if clip_id is not None else None
        if generated is None:
            continue
        ours["generated"] = generated.tag
        start = item.source_range.start_time if item.source_range is not None else otio.opentime.RationalTime()
        comment = f"prompt: {generated.prompt} | job: {generated.job_id}"
        item.markers.append(
            otio.schema.Marker(
                name=f"{MARKER_PREFIX}: {generated.tool}",
                marked_range=otio.opentime.TimeRange(start, otio.opentime.RationalTime(0, start.rate)),
                color=otio.schema.MarkerColor.CYAN,
                metadata={"montage_bridge": {"comment": comment, "generated": generated.tag}},
            )
        )
        tagged += 1
    return tagged


__all__ = [
    "GENERATED_BIN",
    "ProductionOptions",
    "check_budget",
    "GENERATED_DIR",
    "GenerateSettings",
    "GeneratedClip",
    "ProductionRun",
    "ProductionRunError",
    "TitleClip",
    "place_production",
    "render_titles",
    "run_production",
    "settings_from_pairs",
    "tag_generated",
]
