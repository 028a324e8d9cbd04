"""`montage-bridge gpu`: send files to a remote GPU worker, follow, fetch and cancel jobs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, cast

import typer
from rich.table import Table

from gpu_remote.errors import ClientError
from montage_bridge import json_output
from montage_bridge.console import err, out
from montage_bridge.json_output import JsonOpt
from montage_bridge.progress import ProgressOpt

if TYPE_CHECKING:
    from gpu_remote.models import Job

gpu_app = typer.Typer(help="Send heavy per-clip work to a remote GPU worker.", no_args_is_help=True)

UrlOpt = Annotated[str, typer.Option("--url", envvar="MONTAGE_GPU_URL", help="Worker URL.")]
TokenOpt = Annotated[Optional[str], typer.Option("--token", envvar="MONTAGE_GPU_TOKEN", help="Worker token.")]
DEFAULT_URL = "http://127.0.0.1:8765"


def _client(url: str, token: Optional[str]):  # type: ignore[no-untyped-def]
    from gpu_remote.client import GpuClient

    return GpuClient(url, token)


def _parse_params(pairs: list[str]) -> dict[str, object]:
    """``k=v`` pairs; values are JSON when they parse (numbers, true/false), else strings."""
    params: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ClientError(f"--param {pair!r} is not key=value")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def _follow(client, job_ids: dict[str, str], mode: str = "auto", as_json: bool = False) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Progress (bars, JSON lines or nothing: montage_bridge.progress) fed by each job's event
    stream; returns the final jobs by id."""
    import threading

    from montage_bridge.progress import ProgressReporter

    finals: dict[str, object] = {}
    errors: list[ClientError] = []
    with ProgressReporter("gpu submit", mode, as_json=as_json, transient=False) as progress:
        for jid, label in job_ids.items():
            progress.start(jid, "gpu", item=label, total=1.0, unit="fraction", message="queued")

        def follow(jid: str) -> None:
            def on_event(ev) -> None:  # type: ignore[no-untyped-def]
                if ev.type == "progress":
                    progress.update(jid, done=ev.data.get("fraction", 0.0), message=ev.data.get("stage") or None)
                elif ev.type == "state":
                    progress.update(jid, message=ev.data.get("state") or None)

            try:
                finals[jid] = client.wait(jid, on_event)
            except ClientError as exc:  # reported after all bars finish; the job stays in the ledger
                errors.append(exc)
                progress.end(jid, "failed", message="lost contact")
                return
            state = finals[jid].state.value  # type: ignore[attr-defined]
            progress.end(
                jid, "done" if state == "succeeded" else "canceled" if state == "canceled" else "failed", message=state
            )

        threads = [threading.Thread(target=follow, args=(jid,), daemon=True) for jid in job_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise ClientError(f"{errors[0]} (the jobs go on: `montage-bridge gpu status`, then `gpu fetch`)")
    return finals


def _generate_inputs(
    op: str, files: list[Path], prompt: Optional[str], image: Optional[Path], last_image: Optional[Path]
) -> tuple[dict[str, Path], dict[str, object]]:
    """Inputs and params of a ``generate`` job from --prompt/--image/--last-image (mode follows)."""
    if op != "generate":
        if prompt or image or last_image:
            raise ClientError("--prompt, --image and --last-image are for `gpu submit generate`")
        return {}, {}
    if files:
        raise ClientError("generate takes no FILES: use --image A [--last-image B]")
    if not prompt:
        raise ClientError("generate needs --prompt TEXT")
    if last_image and not image:
        raise ClientError("--last-image needs --image (the first frame) too")
    inputs: dict[str, Path] = {}
    for name, path in (("image", image), ("last_image", last_image)):
        if path is not None:
            if not path.is_file():
                raise ClientError(f"{path}: no such file")
            inputs[name] = path
    mode = "flf2v" if last_image else "i2v" if image else "t2v"
    return inputs, {"prompt": prompt, "mode": mode}


@gpu_app.command("submit")
def submit(
    op: Annotated[str, typer.Argument(help="stabilize, upscale, transcribe, generate or noop.")],
    files: Annotated[
        Optional[list[Path]], typer.Argument(help="Input files (one job each; none for generate and noop).")
    ] = None,
    param: Annotated[list[str], typer.Option("--param", "-p", help="Op parameter key=value (repeatable).")] = [],  # noqa: B006
    prompt: Annotated[Optional[str], typer.Option("--prompt", help="generate: what to show.")] = None,
    image: Annotated[Optional[Path], typer.Option("--image", help="generate: first frame (image-to-video).")] = None,
    last_image: Annotated[
        Optional[Path], typer.Option("--last-image", help="generate: last frame (with --image).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Run again even if the same job already succeeded (no cached result).")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow progress, then download outputs beside the inputs.")
    ] = False,
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for outputs (default: beside each input).")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    progress: ProgressOpt = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Upload FILEs (skipping what the worker has) and queue one OP job per file.

    An identical earlier job is re-attached; one that failed or was canceled runs again.
    """
    import hashlib

    if as_json:
        json_output.begin("gpu submit")

    from gpu_remote.client import input_name, stable_job_id

    client = _client(url, token)
    files = files or []
    extra_inputs, extra_params = _generate_inputs(op, files, prompt, image, last_image)
    params = {**_parse_params(param), **extra_params}
    # One job per file; an op without file inputs (generate, noop) makes one job.
    path: Optional[Path]  # a batch's file; None for an op without file inputs
    batches: list[tuple[dict[str, Path], Optional[Path]]] = []
    if files:
        name = input_name(client, op)
        for path in files:
            if not path.is_file():
                raise ClientError(f"{path}: no such file")
            batches.append(({name: path}, path))
    else:
        batches.append((extra_inputs, None))
    job_ids: dict[str, str] = {}
    paths_of: dict[str, list[Optional[Path]]] = {}
    submitted: dict[str, object] = {}
    for inputs, path in batches:
        if len(inputs) == 1:  # the same id process_files() gives, so the CLI and `auto --gpu` share jobs
            digest = client.hashes.sha256(next(iter(inputs.values())))
        else:
            digest = hashlib.sha256(
                "".join(f"{k}={client.hashes.sha256(v)};" for k, v in sorted(inputs.items())).encode()
            ).hexdigest()
        job_id = stable_job_id(op, digest, params)
        folder = out_dir or (path.resolve().parent if path else Path.cwd())
        job = client.submit(op, inputs, params, job_id=job_id, out_dir=folder, force=force)
        paths_of.setdefault(job.id, []).append(path)
        job_ids[job.id] = ", ".join(p.name if p else op for p in paths_of[job.id])
        submitted[job.id] = job
        if not as_json:
            out.print(f"{job.id}\t{job.state.value}\t{path if path else op}")
    saved_files: list[json_output.GpuSaved] = []

    def submit_result(jobs: dict[str, object]) -> json_output.GpuSubmitResult:
        return json_output.GpuSubmitResult(
            jobs=[json_output.GpuJob.from_job(j) for j in jobs.values()],
            inputs={jid: [None if p is None else str(p) for p in ps] for jid, ps in paths_of.items()},
            waited=wait,
            saved=saved_files,
        )

    if not wait:
        if as_json:
            json_output.emit(submit_result(submitted))
        return
    finals = _follow(client, job_ids, progress, as_json)
    failed = 0
    for jid, job in finals.items():
        report = _quality(cast("Job", job))
        if report and not as_json:  # one line a job, like the saved lines: JOB, "quality", verdict, checks
            line = f"{jid}\tquality\t{_quality_summary(report)}\t{_quality_checks_line(report)}"
            (out if cast("Job", job).state.value == "succeeded" else err).print(line, soft_wrap=True)
        if job.state.value == "succeeded":  # type: ignore[attr-defined]
            # Identical inputs share a job; each input still gets its own output file.
            for path in paths_of[jid]:
                folder = out_dir or (path.resolve().parent if path else Path.cwd())
                stem = path.stem if path else jid
                for name, saved in client.fetch(job, folder, stem=stem).items():  # type: ignore[arg-type]
                    saved_files.append(json_output.GpuSaved(job=jid, output=name, path=str(saved)))
                    if not as_json:
                        out.print(f"{jid}\tsaved\t{saved}")
            client.delete(jid)
        else:
            failed += 1
            msg = job.error.message if job.error else job.state.value  # type: ignore[attr-defined]
            err.print(f"{jid}\t{job.state.value}\t{msg}")  # type: ignore[attr-defined]
    if failed:
        message = f"{failed} of {len(finals)} jobs did not succeed (see above)"
        if as_json:
            error = json_output.ErrorInfo(message=message, kind="partial", exit_code=2)
            json_output.emit(submit_result(finals), error=error)
        raise ClientError(message)
    if as_json:
        json_output.emit(submit_result(finals))


@gpu_app.command("status")
def status(
    job_ids: Annotated[
        Optional[list[str]], typer.Argument(help="Jobs (default: every job this machine submitted).")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show jobs' state and progress (reconciles the local job list with the worker)."""
    if as_json:
        json_output.begin("gpu status")
    client = _client(url, token)
    health = client.health()  # also tells an unreachable worker or a wrong token apart from "no jobs"
    err.print(
        f"worker {url}: {health['status']}, {health['queued']} queued, {health['running']} running, "
        f"{health.get('workers', 0)} live worker(s)"
    )
    for problem in health.get("problems", []):
        err.print(f"  {problem}")
    jobs = client.jobs(job_ids) if job_ids else client.reconcile()
    if as_json:
        worker = json_output.GpuWorkerHealth(
            url=url,
            status=str(health["status"]),
            queued=int(health["queued"]),
            running=int(health["running"]),
            workers=int(health.get("workers", 0)),
            problems=[str(p) for p in health.get("problems", [])],
        )
        json_output.emit(
            json_output.GpuStatusResult(worker=worker, jobs=[json_output.GpuJob.from_job(j) for j in jobs])
        )
        return
    table = Table("job", "op", "state", "progress", "eta", "attempt", "quality", "error")
    for job in jobs:
        report = _quality(job)
        table.add_row(
            job.id,
            job.op,
            job.state.value,
            _progress_text(job),
            _eta_text(job),
            str(job.attempt),
            _quality_summary(report) if report else "",
            job.error.message if job.error else "",
        )
    out.print(table)
    if job_ids:  # jobs named: each one's quality report in full
        for job in jobs:
            _print_quality(job)


def _quality(job: Job) -> dict | None:
    """The quality-gate report stored with a job (generated and processed clips), or None."""
    report = job.result.get("quality") if isinstance(job.result, dict) else None
    return report if isinstance(report, dict) else None


def _quality_summary(report: dict) -> str:
    checks = [c for c in report.get("checks", []) if isinstance(c, dict)]
    failed = [str(c.get("name")) for c in checks if not c.get("ok")]
    if report.get("ok"):
        return f"passed ({len(checks)} checks)" if checks else "passed"
    return f"FAILED: {', '.join(failed)}" if failed else "FAILED"


def _quality_checks_line(report: dict) -> str:
    """Every check on one line: ``name=figure (limit L) pass|FAIL; …``."""
    parts = [
        f"{c.get('name')}={_figure(c.get('value'))} (limit {_figure(c.get('limit'))}) "
        + ("pass" if c.get("ok") else "FAIL")
        for c in report.get("checks", [])
        if isinstance(c, dict)
    ]
    return "; ".join(parts)


def _figure(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _print_quality(job: Job) -> None:
    """Which quality checks ran on the job's clip, whether each passed, its figure and limit."""
    report = _quality(job)
    if report is None:
        return
    out.print(f"quality gate of {job.id}: {_quality_summary(report)}")
    checks = [c for c in report.get("checks", []) if isinstance(c, dict)]
    if checks:
        table = Table("check", "result", "value", "limit")
        for check in checks:
            table.add_row(
                str(check.get("name", "?")),
                "pass" if check.get("ok") else "FAIL",
                _figure(check.get("value")),
                _figure(check.get("limit")),
            )
        out.print(table)
    else:  # a report from before checks were listed: its figures
        for name, value in sorted(report.get("metrics", {}).items()):
            out.print(f"  {name}: {_figure(value)}")
    for problem in report.get("problems", []):
        out.print(f"  problem: {problem}")


def _seconds(value: float) -> str:
    value = max(0.0, value)
    if value < 90:
        return f"{value:.0f} s"
    if value < 5400:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def _progress_text(job: Job) -> str:
    """A running job's fraction and stage; a queued job's place: jobs ahead, slots, what holds it."""
    queue = getattr(job, "queue", None)
    if job.state.value != "queued" or queue is None:
        return f"{job.progress.fraction:.0%} {job.progress.stage}"
    slots = f"{queue.slots} slot{'s' if queue.slots != 1 else ''}"
    text = f"{queue.ahead} ahead, {queue.running} running on {slots}"
    return f"{text}; {queue.reason}" if queue.reason else text


def _eta_text(job: Job) -> str:
    """Estimated time to done (and, queued, to start), from the worker's measured throughput."""
    eta = job.progress.eta_s
    queue = getattr(job, "queue", None)
    if job.state.value == "queued" and queue is not None and queue.starts_in_s is not None:
        starts = f"starts in ~{_seconds(queue.starts_in_s)}"
        return f"{starts}, done in ~{_seconds(eta)}" if eta is not None else starts
    if job.state.value in ("queued", "running") and eta is not None:
        return f"~{_seconds(eta)} left"
    return ""


@gpu_app.command("fetch")
def fetch(
    job_ids: Annotated[
        Optional[list[str]], typer.Argument(help="Jobs (default: every finished job submitted here).")
    ] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder for outputs.")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the job on the worker after downloading.")] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download outputs of succeeded jobs (resuming, verified, atomic), then release them on the worker."""
    if as_json:
        json_output.begin("gpu fetch")
    client = _client(url, token)
    jobs = client.jobs(job_ids) if job_ids else client.reconcile()
    fetched = 0
    result = json_output.GpuFetchResult(saved=[], not_finished=[], released=[])
    for job in jobs:
        if job.state.value != "succeeded":
            if job_ids:
                err.print(f"{job.id}\t{job.state.value}\tnothing to fetch")
                result.not_finished.append(json_output.GpuJob.from_job(job))
            continue
        for name, saved in client.fetch(job, out_dir).items():
            result.saved.append(json_output.GpuSaved(job=job.id, output=name, path=str(saved)))
            if not as_json:
                out.print(f"{job.id}\tsaved\t{saved}")
        fetched += 1
        if not keep:
            client.delete(job.id)
            result.released.append(job.id)
    if job_ids and not fetched:
        raise ClientError("none of those jobs has finished successfully yet: check `montage-bridge gpu status`")
    json_output.emit(result)


@gpu_app.command("cancel")
def cancel(
    job_ids: Annotated[list[str], typer.Argument(help="Jobs to cancel.")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel jobs: queued ones end at once, running ones at their next step."""
    if as_json:
        json_output.begin("gpu cancel")
    client = _client(url, token)
    done = []
    for jid in job_ids:
        job = client.cancel(jid)
        done.append(json_output.GpuJob.from_job(job))
        pending = job.cancel_requested and not job.state.terminal
        if not as_json:
            out.print(f"{jid}\t{job.state.value}{' (cancel requested)' if pending else ''}")
    json_output.emit(json_output.GpuJobsResult(jobs=done))


@gpu_app.command("retry")
def retry(
    job_ids: Annotated[list[str], typer.Argument(help="Failed or canceled jobs to run again.")],
    force: Annotated[bool, typer.Option("--force", help="Also re-run jobs that succeeded.")] = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue failed or canceled jobs again under the same id, with a fresh retry budget."""
    if as_json:
        json_output.begin("gpu retry")
    client = _client(url, token)
    done = []
    for jid in job_ids:
        job = client.retry(jid, force=force)
        done.append(json_output.GpuJob.from_job(job))
        if not as_json:
            out.print(f"{jid}\t{job.state.value}")
    json_output.emit(json_output.GpuJobsResult(jobs=done))


@gpu_app.command("delete")
def delete(
    job_ids: Annotated[list[str], typer.Argument(help="Jobs to forget on the worker (and here).")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Forget jobs on the worker; a queued or running job is canceled first."""
    import time

    if as_json:
        json_output.begin("gpu delete")
    client = _client(url, token)
    for jid in job_ids:
        job = client.job(jid)
        if not job.state.terminal:
            client.cancel(jid)
            deadline = time.monotonic() + 30
            while not (job := client.job(jid)).state.terminal:
                if time.monotonic() > deadline:
                    raise ClientError(f"job {jid} did not stop within 30 s of cancel: try again")
                time.sleep(0.2)
        client.delete(jid)
        if not as_json:
            out.print(f"{jid}\tdeleted")
    json_output.emit(json_output.GpuDeleteResult(deleted=list(job_ids)))


@gpu_app.command("workers")
def workers(url: UrlOpt = DEFAULT_URL, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """List the live workers: what each can run (routes, models, GPUs) and what it runs now."""
    if as_json:
        json_output.begin("gpu workers")
    client = _client(url, token)
    live = client.workers()
    if as_json:
        json_output.emit(
            json_output.GpuWorkersResult(
                workers=[
                    json_output.GpuWorkerInfo(
                        name=w["name"],
                        kind=w.get("kind", ""),
                        routes=list(w["routes"]),
                        models=dict(w.get("models", {})),
                        gpus=list(w.get("gpus", [])),
                        free_slots=w["free_slots"],
                        slots=w["slots"],
                        running=list(w.get("running", [])),
                    )
                    for w in live
                ]
            )
        )
        return
    table = Table("worker", "kind", "routes", "models", "gpus", "free", "running")
    for w in live:
        gpus = ", ".join(str(g.get("name", "?")) for g in w.get("gpus", [])) or "none"
        models = ", ".join(f"{k}: {v}" for k, v in w.get("models", {}).items())
        table.add_row(
            w["name"],
            w.get("kind", ""),
            " ".join(w["routes"]),
            models,
            gpus,
            f"{w['free_slots']}/{w['slots']}",
            " ".join(w.get("running", [])),
        )
    out.print(table)
