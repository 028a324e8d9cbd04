"""`montage-bridge bench-tools`: measure each tool the worker offers and record it in the user's catalogue.

For every catalogue tool whose op the worker offers (``/v1/capabilities``; models from ``/v1/workers``),
jobs run on small inputs made here with ffmpeg (a test-pattern clip, a tone) at two lengths, and a
straight line is fitted through the times: seconds = overhead + rate × output seconds. Two lines per
tool: *slot* seconds (the worker's ``started_at`` → ``finished_at``: what the worker's hour is spent
on) and *wall* seconds (submit → outputs downloaded, on this machine: what the editor waits). Inputs
carry a fresh tag, so no job is answered from the worker's result cache.

``generate`` runs the tool's own resolution with few frames and denoising steps, three jobs:
(F1 frames, s1 steps), (F1, s2), (F2, s2), which separate the per-step from the per-frame cost and
the fixed overhead, and gives the figure at the tool's own step count. Tools whose op or model the
worker lacks are reported as skipped, with the reason.

:func:`read_queue` (used by ``plan --estimate``) reads the worker's queue for
:mod:`planner.estimate`.
"""

from __future__ import annotations

import functools
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from kernel.errors import MontageError
from montage_bridge.console import out
from montage_bridge.json_output import JsonOpt
from montage_bridge.progress import ProgressOpt, ProgressReporter
from planner.estimate import QueueState
from planner.tool_catalogue import (
    BenchReport,
    Measurement,
    Sample,
    Tool,
    ToolBench,
    ToolCatalogue,
    open_catalogue,
)

if TYPE_CHECKING:
    from gpu_remote.client import GpuClient
    from gpu_remote.models import Capabilities

DEFAULT_URL = "http://127.0.0.1:8765"
BENCH_PROMPT = "a red ball rolls across green grass"
RECENT_S = 6 * 3600.0  # running jobs are looked for among those that changed this recently


class BenchError(MontageError):
    """bench-tools cannot run as asked."""


# -- reading the worker ---------------------------------------------------------------------------


def worker_gpu(caps: Capabilities) -> str:
    """What runs the worker's jobs, in words: its GPU names, or its CPU."""
    names = [str(g.get("name") or "cuda") for g in caps.gpus]
    if names:
        return ", ".join(sorted(set(names))) + (f" x{len(names)}" if len(names) > 1 else "")
    return f"CPU ({caps.cpu_count} cores)"


def read_queue(client: GpuClient, op: str = "generate") -> QueueState:
    """The worker's queue for jobs of ``op``: live slots serving it, what is running (with its ETA)
    and how many jobs wait, from ``/v1/health``, ``/v1/workers`` and ``/v1/jobs``."""
    health = client.health()
    workers = client.workers()
    notes: list[str] = []
    serving = [w for w in workers if op in w.get("ops", [])]
    if not workers:
        notes.append("the worker reports no live worker process: jobs wait until one starts (1 slot assumed)")
    elif not serving:
        notes.append(f"no live worker serves {op} (its model or packages are missing there): the jobs would wait")
    pool = serving or workers
    slots = max(1, sum(int(w.get("slots", 1)) for w in pool))
    # Running jobs: what the workers registered at their last heartbeat, and what the job list says
    # now (jobs that changed in the last hours; a running job changed when it started).
    from gpu_remote.models import JobList

    recent = JobList.model_validate(
        client._request("GET", "/v1/jobs", params={"updated_since": time.time() - RECENT_S, "limit": 5000}).json()
    ).jobs
    ids = {str(j) for w in pool for j in w.get("running", [])} | {j.id for j in recent if j.state.value == "running"}
    remaining: list[float] = []
    for job in client.jobs(sorted(ids)) if ids else []:
        if job.state.value != "running":
            continue
        if job.progress.eta_s is None:
            notes.append(f"running job {job.id} ({job.op}) has no ETA yet: counted as ending now")
            remaining.append(0.0)
        else:
            remaining.append(float(job.progress.eta_s))
    unseen = int(health.get("running", 0)) - len(remaining)
    if unseen > 0:
        notes.append(f"{unseen} running job(s) not found in the job list: counted as ending now")
        remaining.extend([0.0] * unseen)
    # Queued jobs: the worker replays its queue with each op's measured run time (progress.eta_s of a
    # queued job is when it should be done); those it cannot tell are counted, assumed like ours.
    waiting = [j for j in recent if j.state.value == "queued"]
    done_s = [float(j.progress.eta_s) for j in waiting if j.progress.eta_s is not None]
    unknown = max(0, int(health.get("queued", 0)) - len(done_s))
    queued = int(health.get("queued", 0))
    notes.append(f"worker {client.url}: {slots} slot(s) for {op}, {len(remaining)} job(s) running, {queued} queued")
    return QueueState(
        worker=client.url,
        slots=slots,
        running_remaining_s=remaining,
        queued_done_s=done_s,
        queued=unknown,
        notes=notes,
    )


def _normal(name: str) -> str:
    text = "".join(ch for ch in name.lower() if ch.isalnum())
    return text.removesuffix("diffusers")


# -- inputs -----------------------------------------------------------------------------------------


def make_clip(path: Path, seconds: float, size: str, tag: str) -> Path:
    from kernel.ffmpeg_tools import run_ffmpeg

    run_ffmpeg(
        ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
         "-metadata", f"comment=montage-bridge bench {tag}", str(path)]
    )  # fmt: skip
    return path


def make_image(path: Path, size: str) -> Path:
    """A test-pattern still (PNG) at ``size``: the conditioning frame of image-to-video benches."""
    from kernel.ffmpeg_tools import run_ffmpeg

    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=1", "-frames:v", "1", str(path)])
    return path


def generate_inputs(tool: Tool, work: Path) -> tuple[str, dict[str, Path]]:
    """The worker's generate mode and conditioning images for benching ``tool`` in a mode it makes."""
    if "text_to_video" in tool.modes or not tool.modes:
        return "t2v", {}
    size = f"{int(tool.params.get('width', 832))}x{int(tool.params.get('height', 480))}"
    if "image_to_video" in tool.modes:
        return "i2v", {"image": make_image(work / "first.png", size)}
    return "flf2v", {"image": make_image(work / "first.png", size), "last_image": make_image(work / "last.png", size)}


def make_tone(path: Path, seconds: float, tag: str) -> Path:
    from kernel.ffmpeg_tools import run_ffmpeg

    run_ffmpeg(
        ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=16000:duration={seconds}",
         "-ac", "1", "-metadata", f"comment=montage-bridge bench {tag}", str(path)]
    )  # fmt: skip
    return path


# -- running and fitting --------------------------------------------------------------------------


def run_job(client: GpuClient, op: str, inputs: dict[str, Path], params: dict[str, Any], out_dir: Path) -> Sample:
    """Run one job to the end and time it: slot seconds from the worker, wall seconds here."""
    job_id = f"bench-{uuid.uuid4().hex[:24]}"
    started = time.monotonic()
    client.submit(op, inputs, params, job_id=job_id, out_dir=out_dir, labels={"purpose": "bench-tools"})
    job = client.wait(job_id)
    if job.state.value != "succeeded":
        message = job.error.message if job.error else job.state.value
        client.delete(job_id)
        raise BenchError(f"{op} job {job.state.value}: {message}")
    client.fetch(job, out_dir, stem=job_id)
    wall = time.monotonic() - started
    client.delete(job_id)
    if job.cache_hit or job.started_at is None or job.finished_at is None:
        raise BenchError(f"{op} job was answered from the worker's cache: nothing was measured")
    return Sample(output_seconds=0.0, slot_seconds=job.finished_at - job.started_at, wall_seconds=wall)


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line through (x, y), both clamped at >= 0."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        raise BenchError("bench lengths must differ to separate per-second cost from overhead")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    intercept = my - slope * mx
    if slope < 0:  # noise larger than the per-second cost: all of it is overhead
        return my, 0.0
    if intercept < 0:  # the line through the origin
        return 0.0, sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs)
    return intercept, slope


def _median(samples: list[Sample]) -> Sample:
    return Sample(
        output_seconds=samples[0].output_seconds,
        slot_seconds=statistics.median(s.slot_seconds for s in samples),
        wall_seconds=statistics.median(s.wall_seconds for s in samples),
        steps=samples[0].steps,
    )


def fit_generate(samples: list[Sample], steps: int) -> tuple[float, float, float, float]:
    """(slot overhead, slot s per output s, wall overhead, wall s per output s) at ``steps`` from the
    three generate samples (F1, s1), (F1, s2), (F2, s2): time = c + F·(a + b·s)."""
    (one, two, three) = samples
    assert one.steps is not None and two.steps is not None

    def solve(attr: str) -> tuple[float, float]:
        t1, t2, t3 = (getattr(s, attr) for s in (one, two, three))
        f1, f2 = one.output_seconds, three.output_seconds
        per_step = max(0.0, (t2 - t1) / (f1 * (two.steps - one.steps)))  # type: ignore[operator]
        per_frame = max(0.0, (t3 - t2) / (f2 - f1) - per_step * two.steps)  # type: ignore[operator]
        overhead = max(0.0, t1 - f1 * (per_frame + per_step * one.steps))  # type: ignore[operator]
        return overhead, per_frame + per_step * steps

    slot = solve("slot_seconds")
    wall = solve("wall_seconds")
    return slot[0], slot[1], wall[0], wall[1]


def _generate_plan(tool: Tool) -> list[tuple[int, int]]:
    """(frames, steps) of the three generate jobs."""
    fps = int(tool.params.get("fps", tool.fps or 16))
    short = 9 if fps <= 16 else 17  # Wan/LTX want 4k+1 / 8k+1 frames: 9 and 17 fit both
    return [(short, 1), (short, 2), (2 * short - 1, 2)]


def bench_tool(
    client: GpuClient,
    tool: Tool,
    input_name: str | None,
    work: Path,
    *,
    lengths: tuple[float, float],
    size: str,
    repeat: int,
    on_job: Callable[[int], None] | None = None,
) -> tuple[list[Sample], Measurement]:
    """Run ``tool``'s jobs and fit its figures (not recorded yet)."""
    samples: list[Sample] = []
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if on_job:
            on_job(done)

    if tool.op == "generate":
        fps = int(tool.params.get("fps", tool.fps or 16))
        mode, images = generate_inputs(tool, work)
        for frames, steps in _generate_plan(tool):
            runs = []
            for _ in range(repeat):
                params = {**tool.params, "prompt": BENCH_PROMPT, "num_frames": frames, "steps": steps,
                          "mode": mode, "quality_gate": "report", "seed": int(uuid.uuid4().int % 2**31)}  # fmt: skip
                sample = run_job(client, "generate", images, params, work)
                runs.append(sample.model_copy(update={"output_seconds": frames / fps, "steps": steps}))
                tick()
            samples.append(_median(runs))
        slot_c, slot_r, wall_c, wall_r = fit_generate(samples, int(tool.params.get("steps", 30)))
    else:
        for seconds in lengths:
            runs = []
            for _ in range(repeat):
                tag = uuid.uuid4().hex
                inputs: dict[str, Path] = {}
                params = dict(tool.params)
                if tool.op == "noop":
                    params.update(duration_s=seconds, steps=2, tag=tag)
                elif tool.op == "transcribe":
                    assert input_name is not None
                    inputs[input_name] = make_tone(work / f"tone-{tag}.wav", seconds, tag)
                else:
                    assert input_name is not None
                    inputs[input_name] = make_clip(work / f"clip-{tag}.mp4", seconds, size, tag)
                sample = run_job(client, tool.op, inputs, params, work)
                runs.append(sample.model_copy(update={"output_seconds": seconds}))
                tick()
            samples.append(_median(runs))
        slot_c, slot_r = fit_line([(s.output_seconds, s.slot_seconds) for s in samples])
        wall_c, wall_r = fit_line([(s.output_seconds, s.wall_seconds) for s in samples])
    measurement = Measurement(
        tool_id=tool.id,
        measured_at=time.time(),
        gpu="",
        worker=client.url,
        gpu_s_per_output_s=slot_r,
        wall_s_per_output_s=max(wall_r, slot_r),
        fixed_overhead_s=slot_c,
        wall_overhead_s=wall_c,
        samples=len(samples) * repeat,
        max_output_seconds=max(s.output_seconds for s in samples),
    )
    return samples, measurement


def runnable(
    tool: Tool, caps: Capabilities, models: dict[str, str], routes: set[str] | None
) -> tuple[str | None, str | None]:
    """(input name, None) when the worker can run ``tool``, else (None, why not).

    ``routes`` are the queues the live workers serve (``/v1/workers``), None when none registered:
    under Celery the gateway answering ``/v1/capabilities`` may lack the GPU packages its workers
    have, so a route a worker serves wins over the gateway's own backend string."""
    info = next((o for o in caps.ops if o.name == tool.op), None)
    if info is None:
        return None, f"the worker does not offer op {tool.op}"
    if tool.op == "generate":
        served = routes is not None and "gpu.generate" in routes
        if not served:
            why = info.backend if info.backend != "diffusers" else "no live worker has a generation model"
            return None, f"the worker cannot generate: {why}"
        have = models.get("generate")
        if have is None or tool.model is None or _normal(have) != _normal(tool.model):
            return None, f"the worker's generate model is {have or 'unknown'}, not {tool.model}"
        return None, None
    if tool.op == "transcribe" and routes is not None and "gpu.transcribe" not in routes:
        return None, "no live worker serves transcribe (its Whisper model is missing there)"
    if tool.op == "transcribe" and tool.model:
        have = models.get("transcribe", "tiny.en")
        if _normal(have) != _normal(tool.model):
            return None, f"the worker's Whisper model is {have}, not {tool.model}"
    if tool.op == "upscale" and tool.params.get("method") == "realesrgan":
        served = "gpu.upscale.realesrgan" in routes if routes is not None else "realesrgan" in info.backend
        if not served:
            return None, f"the worker has no Real-ESRGAN (its upscale runs {info.backend})"
    required = [name for name in info.inputs if not name.endswith("?")]
    return (required[0] if required else None), None


def _tick(progress: ProgressReporter, key: str, done: int) -> None:
    progress.update(key, done=done)


def bench(
    client: GpuClient,
    catalogue: ToolCatalogue,
    *,
    ops: list[str] | None = None,
    tools: list[str] | None = None,
    lengths: tuple[float, float] = (1.0, 4.0),
    size: str = "640x360",
    repeat: int = 1,
    progress_mode: str = "off",
) -> BenchReport:
    """Measure every catalogue tool the worker can run (limited to ``ops``/``tools``) and record the figures."""
    caps = client.capabilities()
    workers = client.workers()
    models: dict[str, str] = {}
    for worker in workers:
        models.update({str(k): str(v) for k, v in (worker.get("models") or {}).items()})
    routes = {str(r) for w in workers for r in w.get("routes", [])} if workers else None
    gpu = worker_gpu(caps)
    report = BenchReport(worker=client.url, gpu=gpu)
    chosen = [t for t in catalogue.tools() if (ops is None or t.op in ops) and (tools is None or t.id in tools)]
    if tools:
        missing = sorted(set(tools) - {t.id for t in chosen})
        if missing:
            raise BenchError(f"no tool {', '.join(missing)} in the catalogue (see `montage-bridge tools list`)")
    if not chosen:
        raise BenchError(f"no catalogue tool runs op {', '.join(ops or [])} (see `montage-bridge tools list`)")
    catalogued_ops = {t.op for t in catalogue.tools()}
    for info in caps.ops:
        if (ops is None or info.name in ops) and info.name not in catalogued_ops and tools is None:
            report.results.append(
                ToolBench(tool="-", op=info.name, status="skipped", reason=f"no catalogue tool runs op {info.name}")
            )
    with (
        ProgressReporter("bench-tools", progress_mode, transient=False) as progress,
        tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp,
    ):
        for tool in chosen:
            name, why = runnable(tool, caps, models, routes)
            total = 3 * repeat if tool.op == "generate" else len(lengths) * repeat
            progress.start(tool.id, "gpu", item=tool.id, total=total, unit="files", message=tool.op)
            if why:
                report.results.append(ToolBench(tool=tool.id, op=tool.op, status="skipped", reason=why))
                progress.end(tool.id, "skipped", message=why)
                continue
            work = Path(tmp) / tool.id
            work.mkdir()
            try:
                samples, measurement = bench_tool(
                    client,
                    tool,
                    name,
                    work,
                    lengths=lengths,
                    size=size,
                    repeat=repeat,
                    on_job=functools.partial(_tick, progress, tool.id),
                )
            except MontageError as exc:
                client.health()  # a worker that went away ends the bench here (ClientError)
                report.results.append(ToolBench(tool=tool.id, op=tool.op, status="failed", reason=str(exc)))
                progress.end(tool.id, "failed", message=str(exc)[:120])
                continue
            measurement = measurement.model_copy(update={"gpu": gpu})
            catalogue.record_measurement(measurement)
            report.results.append(
                ToolBench(tool=tool.id, op=tool.op, status="measured", samples=samples, measurement=measurement)
            )
            progress.end(tool.id, "done", message=f"{measurement.gpu_s_per_output_s:.3f} s/s")
    return report


# -- the command ------------------------------------------------------------------------------------


def _lengths(text: str) -> tuple[float, float]:
    try:
        first, second = (float(p) for p in text.split(","))
    except ValueError as exc:
        raise BenchError(f"--lengths {text!r}: give two output lengths in seconds, like 1,4") from exc
    if not (0 < first < second <= 600):
        raise BenchError(f"--lengths {text!r}: two increasing lengths between 0 and 600 seconds")
    return first, second


def bench_tools(
    worker: Annotated[str, typer.Option("--worker", envvar="MONTAGE_GPU_URL", help="Worker URL.")] = DEFAULT_URL,
    token: Annotated[Optional[str], typer.Option("--token", envvar="MONTAGE_GPU_TOKEN", help="Worker token.")] = None,
    op: Annotated[
        Optional[list[str]], typer.Option("--op", help="Only tools of this op (repeatable): noop, proxy, generate ...")
    ] = None,
    tool: Annotated[Optional[list[str]], typer.Option("--tool", help="Only this catalogue tool (repeatable).")] = None,
    lengths: Annotated[
        str, typer.Option("--lengths", help="Two output lengths in seconds to fit overhead and rate, e.g. 1,4.")
    ] = "1,4",
    size: Annotated[str, typer.Option("--size", help="Picture size of the test clips, WIDTHxHEIGHT.")] = "640x360",
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=20, help="Jobs per length (the median is kept).")] = 1,
    catalogue: Annotated[
        Optional[Path], typer.Option("--catalogue", help="User catalogue file (default: per-user data folder).")
    ] = None,
    as_json: JsonOpt = False,
    progress: ProgressOpt = "auto",
) -> None:
    """Run each tool the worker offers on a small generated input and record its measured speed."""
    from rich.table import Table

    from gpu_remote.client import GpuClient
    from montage_bridge import json_output
    from montage_bridge.progress import resolve_mode

    if as_json:
        json_output.begin("bench-tools")
    width, sep, height = size.partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) % 2 or int(height) % 2:
        raise BenchError(f"--size {size!r}: WIDTHxHEIGHT with even numbers, e.g. 640x360")
    pair = _lengths(lengths)
    with open_catalogue(catalogue) as cat:
        report = bench(
            GpuClient(worker, token),
            cat,
            ops=op,
            tools=tool,
            lengths=pair,
            size=size,
            repeat=repeat,
            progress_mode=resolve_mode(progress, as_json=as_json),
        )
        path = cat.path
    failed = [r for r in report.results if r.status == "failed"]
    measured = sum(r.status == "measured" for r in report.results)
    for result in failed:
        json_output.warn(f"bench of {result.tool} failed: {result.reason}")
    if as_json:
        document = json_output.BenchToolsResult(
            worker=report.worker, gpu=report.gpu, catalogue=str(path), results=report.results
        )
        if failed and not measured:
            json_output.emit(document, error=json_output.ErrorInfo(
                message="no tool could be measured", kind="failed", exit_code=1))  # fmt: skip
            raise typer.Exit(1)
        json_output.emit(document)
        return
    table = Table(title=f"bench-tools — {report.worker} ({report.gpu})")
    for column in ("tool", "op", "status", "GPU s / out s", "wall s / out s", "overhead s", "note"):
        table.add_column(column, justify="right" if "s" in column.split()[-1:] else "left")
    skipped: dict[tuple[str, str], list[str]] = {}
    for result in report.results:
        if result.status == "skipped":  # one row per reason: seven generate models, one missing torch
            skipped.setdefault((result.op, result.reason), []).append(result.tool)
            continue
        m = result.measurement
        table.add_row(
            result.tool,
            result.op,
            result.status,
            f"{m.gpu_s_per_output_s:.3f}" if m else "",
            f"{m.wall_s_per_output_s:.3f}" if m else "",
            f"{m.fixed_overhead_s:.2f} / {m.wall_overhead_s:.2f}" if m else "",
            result.reason,
        )
    for (op_name, reason), ids in skipped.items():
        table.add_row(ids[0] + (f" (+{len(ids) - 1})" if len(ids) > 1 else ""), op_name, "skipped", "", "", "", reason)
    out.print(table)
    out.print(f"recorded {measured} measurement(s) in {path}")
    if failed and not measured:
        raise typer.Exit(1)
