"""`auto --gpu`: run the plan's remote operations on the GPU worker and relink the timeline to the results.

Per used clip, the plan's media operations run as a chain (stabilize before upscale: stabilizing
the small picture is cheaper and upscaling last keeps the sharpest result), each link one worker
job; different clips run concurrently. Outputs land in ``OUT/processed/`` (the client downloads to
a ``.part`` file, verifies its sha256 and renames it into place). A processed file replaces the
source in the timeline only if probing it gives the source's exact rate, frame count and start
timecode — otherwise the NLE would link it at the wrong source frames — so the timeline's frame
ranges never change, only the file behind them (and its picture size).

Nothing here may lose the edit: a worker that is unreachable, refuses the token or fails a job
leaves that clip on its original media and yields a warning naming the clip and the reason;
``GpuOptions.required`` turns those warnings into a ``RemoteProcessingError`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import opentimelineio as otio
import requests

from analysis.models import AnalysisResult, ClipAnalysis
from kernel.errors import MontageError
from kernel.media import MediaItem
from kernel.probe import probe_media
from kernel.timebase import format_rate
from nle_adapters.plan_to_otio import META, media_reference
from nle_adapters.timeline_facts import meta_view
from planner.models import EditPlan
from planner.remote_ops import fit_size, upscale_steps

# Operations whose output is a replacement picture for the clip, in the order they are chained.
MEDIA_OPS = ("stabilize", "upscale")
PROCESSED_DIR = "processed"

# (clip id, op, fraction 0..1, stage) — fed from worker threads; the receiver must be thread-safe.
RemoteProgress = Callable[[str, str, float, str], None]


class RemoteProcessingError(MontageError):
    """A remote operation failed while ``--gpu-required`` was given."""


@dataclass(frozen=True)
class GpuOptions:
    """Where the worker is and how strict to be about it."""

    url: str
    token: str | None = None
    required: bool = False
    state_dir: Path | None = None  # client hash cache + job ledger (None: MONTAGE_GPU_STATE or ~/.local/state)
    timeout_s: float | None = 6 * 3600.0  # per job; a worker that never finishes must not hang `auto`
    max_parallel: int = 4


@dataclass(frozen=True)
class ProcessedMedia:
    """A verified replacement for one clip's source file."""

    clip_id: str
    source: MediaItem
    path: Path
    media: MediaItem  # probe of the processed file (same rate, frames and start TC as ``source``)
    ops: tuple[str, ...]
    backends: tuple[str, ...] = ()


@dataclass
class RemoteOutcome:
    processed: dict[str, ProcessedMedia] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # everything to tell the user, failures included
    failures: list[str] = field(default_factory=list)  # "clip: ops failed — reason", one per clip left as it was

    def fail(self, clip_id: str, ops: list[str], reason: str) -> None:
        self.failures.append(f"{clip_id}: {'+'.join(ops)} failed — {reason}")
        self.warnings.append(f"{clip_id}: {'+'.join(ops)} not applied, original media kept — {reason}")


def requested_chains(plan: EditPlan) -> tuple[dict[str, list[str]], list[str]]:
    """{clip id: media ops in chain order} for clips the plan uses, and notes on ops this cannot honour."""
    used = {c.clip_id for c in plan.cuts}
    chains: dict[str, set[str]] = {}
    notes: list[str] = []
    for op in plan.remote_ops:
        if op.clip_id not in used:
            continue  # the planner asked for work on a clip the edit does not use
        if op.op not in MEDIA_OPS:
            notes.append(f"{op.clip_id}: remote {op.op} is not applied to timeline media (only {', '.join(MEDIA_OPS)})")
            continue
        chains.setdefault(op.clip_id, set()).add(op.op)
    return {cid: [o for o in MEDIA_OPS if o in ops] for cid, ops in chains.items()}, notes


def upscale_chain(media: MediaItem, plan: EditPlan) -> tuple[tuple[int, ...], tuple[int, int]]:
    """(worker scales to chain, the size the result is scaled down to) for the clip on this timeline.

    The target is the clip fitted inside the timeline frame (``planner.remote_ops.fit_size``: fit,
    not fill, never above the frame); the worker takes integer scales 2..4 per job, so the chain
    reaches at least that size and :func:`scale_to_fit` brings it down to it exactly.
    """
    width, height = media.display_size
    return upscale_steps(width, height, plan.width, plan.height), fit_size(width, height, plan.width, plan.height)


def scale_to_fit(src: Path, size: tuple[int, int], out: Path) -> Path:
    """``src`` scaled (lanczos) to ``size`` (width, height in pixels) as ``out``, audio and start
    timecode unchanged; written to a temp name and renamed, so ``out`` is whole or absent."""
    import subprocess

    from gpu_remote.ops.base import reencode_video_args
    from kernel.ffmpeg_tools import ffmpeg_path

    width, height = size
    tmp = out.with_name(f"{out.stem}.partial{out.suffix}")
    video_filter = f"scale={width}:{height}:flags=lanczos,setsar=1,format=yuv420p"
    args = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    proc = subprocess.run(
        args + reencode_video_args(src, video_filter, 16, tmp), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RemoteProcessingError(f"scaling {src.name} to {width}x{height} failed: {last}")
    os.replace(tmp, out)
    return out


def mismatch(source: MediaItem, out: MediaItem) -> str | None:
    """Why ``out`` cannot stand in for ``source`` on the timeline (None: it can)."""
    if out.rate != source.rate:
        return f"rate {format_rate(out.rate)} ≠ source {format_rate(source.rate)}"
    if out.frames != source.frames:
        return f"{out.frames} frames ≠ source {source.frames}"
    if (out.start_frame, out.drop_frame) != (source.start_frame, source.drop_frame):
        return f"start timecode {out.start_timecode} ≠ source {source.start_timecode}"
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return text


def run_remote_ops(
    plan: EditPlan,
    analysis: AnalysisResult,
    out_dir: Path,
    options: GpuOptions,
    progress: RemoteProgress | None = None,
) -> RemoteOutcome:
    """Run the plan's media ops for its used clips on the worker; return verified replacements + warnings."""
    from gpu_remote.client import GpuClient  # the worker client is only needed when --gpu is given

    chains, notes = requested_chains(plan)
    outcome = RemoteOutcome(warnings=list(notes))
    if not chains:
        return outcome
    clips = {c.id: c for c in analysis.clips}
    folder = out_dir / PROCESSED_DIR
    client = GpuClient(options.url, options.token, state_dir=options.state_dir)
    try:
        # One cheap call first: an unreachable worker or a bad token fails once, not once per clip.
        client.capabilities()
    except (MontageError, requests.RequestException, ValueError) as exc:
        reason = _reason(exc)
        for cid, ops in chains.items():
            outcome.fail(cid, ops, reason)
        return _finish(outcome, options)

    def one_clip(clip: ClipAnalysis, ops: list[str]) -> ProcessedMedia:
        current = Path(clip.media.path)
        backends: list[str] = []
        for op in ops:
            if op != "upscale":
                current, backend = _run_one(client, clip, op, current, {}, folder, options, progress)
                backends.append(backend)
                continue
            steps, fitted = upscale_chain(clip.media, plan)
            for scale in steps:  # one worker job per integer scale
                current, backend = _run_one(client, clip, op, current, {"scale": scale}, folder, options, progress)
                backends.append(backend)
            if steps and probe_media(current).display_size != fitted:
                if progress:
                    progress(clip.id, op, 1.0, f"scaling to {fitted[0]}x{fitted[1]}")
                current = scale_to_fit(current, fitted, folder / f"{clip.media.path.stem}.fit.mp4")
        out = probe_media(current)
        wrong = mismatch(clip.media, out)
        if wrong:
            raise RemoteProcessingError(f"processed file {Path(current).name} does not match its source ({wrong})")
        return ProcessedMedia(clip.id, clip.media, Path(current), out, tuple(ops), tuple(backends))

    with ThreadPoolExecutor(max_workers=max(1, min(options.max_parallel, len(chains)))) as pool:
        futures = {cid: pool.submit(one_clip, clips[cid], ops) for cid, ops in chains.items() if cid in clips}
        for cid, future in futures.items():
            try:
                outcome.processed[cid] = future.result()
            except (MontageError, OSError, requests.RequestException, ValueError) as exc:
                outcome.fail(cid, chains[cid], _reason(exc))
    return _finish(outcome, options)


def _finish(outcome: RemoteOutcome, options: GpuOptions) -> RemoteOutcome:
    failed = outcome.failures
    if options.required and failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise RemoteProcessingError(
            f"{failed[0]}{more}; no timeline written (--gpu-required) — rerun without it to keep the original media"
        )
    return outcome


def _run_one(
    client: Any,
    clip: ClipAnalysis,
    op: str,
    source: Path,
    params: dict[str, Any],
    folder: Path,
    options: GpuOptions,
    progress: RemoteProgress | None,
) -> tuple[Path, str]:
    """One worker job: submit (re-attaching to an earlier identical job), follow, download, confirm."""
    from gpu_remote.client import input_name, stable_job_id
    from gpu_remote.errors import ClientError
    from gpu_remote.models import JobState

    sha = client.hashes.sha256(source)
    job_id = stable_job_id(op, sha, params)
    if progress:
        progress(clip.id, op, 0.0, "uploading")
    client.submit(op, {input_name(client, op): source}, params, job_id=job_id, out_dir=folder)

    def on_event(event: Any) -> None:
        if progress is None:
            return
        if event.type == "progress":
            progress(clip.id, op, float(event.data.get("fraction", 0.0)), str(event.data.get("stage", "")))
        elif event.type == "state":
            progress(clip.id, op, -1.0, str(event.data.get("state", "")))

    job = client.wait(job_id, on_event, options.timeout_s)
    if job.state != JobState.succeeded:
        message = job.error.message if job.error else job.state.value
        client.delete(job_id)  # a failed job would otherwise answer every rerun (same id) with its failure
        raise ClientError(f"{op} job {job.state.value} on the worker: {message}")
    outputs = client.fetch(job, folder, stem=source.stem)
    if "video" not in outputs:
        raise ClientError(f"{op} job returned no video output")
    client.delete(job_id)  # the verified output is here; the worker may drop it
    if progress:
        progress(clip.id, op, 1.0, "done")
    return outputs["video"], str(job.result.get("backend", ""))


def relink_timeline(timeline: otio.schema.Timeline, processed: dict[str, ProcessedMedia]) -> int:
    """Point the video clips of processed clip ids at their processed files; returns how many clips changed.

    The reference keeps the source's available range (start TC, frame count, rate) — verified equal
    for the processed file — so every clip's source range stays valid and means the same frames.
    """
    changed = 0
    for clip in timeline.find_clips():
        meta = meta_view(clip)
        done = processed.get(str(meta.get("clip_id", "")))
        if done is None or not isinstance(clip.media_reference, otio.schema.ExternalReference):
            continue
        src = done.source
        ref = media_reference(done.path, src.start_frame, src.frames, src.rate)
        ref.metadata[META].update(
            {
                "has_video": True,
                "width": done.media.width,
                "height": done.media.height,
                "audio_channels": done.media.audio_channels,
                "audio_sample_rate": done.media.audio_sample_rate,
            }
        )
        clip.media_reference = ref
        meta = dict(meta)
        meta.update(
            {
                "original_path": str(src.path),
                "processed_by": list(done.ops),
                "processed_backends": list(done.backends),
            }
        )
        clip.metadata[META] = meta
        changed += 1
    return changed
