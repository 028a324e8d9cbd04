"""`montage-bridge watch`: run the watch-folder daemon, show its journal, or retry failed jobs.

    montage-bridge watch INBOX --out OUTBOX [--config FILE] [--once]
    montage-bridge watch status --out OUTBOX          (or --journal FILE / --config FILE)
    montage-bridge watch retry [JOB] --out OUTBOX
    montage-bridge watch repair --out OUTBOX          (a damaged journal: set aside, rebuilt from the outbox)

``status``, ``retry`` and ``repair`` are words, not folders: an inbox literally named ``status`` is ``./status``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from kernel.errors import MontageError
from montage_bridge import json_output
from montage_bridge.console import err, out
from montage_bridge.json_output import JsonOpt
from montage_bridge.watch.config import load_config
from montage_bridge.watch.daemon import JOURNAL_NAME, WatchDaemon
from montage_bridge.watch.journal import Journal
from montage_bridge.watch.repair import repair

_STATE_STYLE = {"seen": "dim", "analyzing": "cyan", "planned": "blue", "written": "green", "failed": "red"}


_RESOLVE_STYLE = {"built": "green", "pending": "yellow", "problem": "red", "retry": "cyan"}


class WatchUsageError(MontageError):
    """The watch command was called without what it needs."""


def watch(
    inbox: Annotated[
        str, typer.Argument(help="Inbox folder (each subfolder is one job), or 'status' / 'retry' / 'repair'.")
    ],
    job: Annotated[
        Optional[str],
        typer.Argument(help="With 'retry': the job to retry (default: all failed, and all not built in Resolve)."),
    ] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Outbox for OUTBOX/<job>/.")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings and rules.")] = None,
    once: Annotated[bool, typer.Option("--once", help="Process what is in the inbox now, then exit.")] = False,
    journal_file: Annotated[
        Optional[Path], typer.Option("--journal", help=f"Journal file (default OUTBOX/{JOURNAL_NAME}).")
    ] = None,
    metrics_port: Annotated[
        Optional[int],
        typer.Option(
            "--metrics-port", min=0, max=65535, help="Serve Prometheus /metrics on 127.0.0.1:PORT (0: any free port)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Watch an inbox: each job folder that lands becomes timeline files in the outbox.

    --json works with status, retry, repair and --once (a daemon that keeps running prints no result)."""
    if as_json:
        json_output.begin(f"watch {inbox}" if inbox in ("status", "retry", "repair") else "watch")
        if inbox not in ("status", "retry", "repair") and not once:
            raise typer.BadParameter(
                "--json needs --once: a watching daemon has no result to print", param_hint="--json"
            )
    config = load_config(config_file)
    if journal_file is not None:
        config = config.model_copy(update={"journal": journal_file})
    if inbox == "repair":
        if job is not None:
            raise WatchUsageError(f"unexpected argument {job!r}: `watch repair` rebuilds the whole journal")
        if out_dir is None:
            raise WatchUsageError("missing --out OUTBOX: repair rebuilds the journal from the outbox's job folders")
        _repair(out_dir, config.journal or out_dir / JOURNAL_NAME, as_json)
        return
    if inbox in ("status", "retry"):
        journal = _open_journal(config.journal, out_dir)
        if inbox == "status":
            if as_json:
                json_output.emit(_status_result(journal))
            else:
                _print_status(journal)
        else:
            count = journal.retry(job)
            resolve = journal.retry_resolve(job)
            if as_json:
                result = json_output.WatchRetryResult(
                    journal=str(journal.path), failed_jobs=count, resolve_builds=resolve
                )
                json_output.emit(result)
                return
            out.print(f"{count} failed job(s) will run again at the daemon's next scan")
            if resolve:
                out.print(f"{resolve} written job(s) will be built in Resolve again at the daemon's next full rescan")
        return
    if job is not None:
        raise WatchUsageError(f"unexpected argument {job!r}: only 'watch retry' takes a job name")
    if out_dir is None:
        raise WatchUsageError("missing --out OUTBOX: the folder where each job's timelines are written")
    daemon = WatchDaemon(Path(inbox), out_dir, config, once=once, log=_log)
    metrics = None
    if metrics_port is not None:
        from montage_bridge.watch.metrics import serve_daemon_metrics

        try:
            metrics = serve_daemon_metrics(daemon, metrics_port)
        except OSError as exc:  # the port is taken: say so (the outbox lock dies with the process)
            raise WatchUsageError(f"--metrics-port {metrics_port}: cannot serve on 127.0.0.1 ({exc.strerror})") from exc
        _log(f"metrics on {metrics.url}")
    try:
        summary = daemon.run()
    finally:
        if metrics is not None:
            metrics.close()
    if once:
        if as_json:
            error = None
            if summary.failed:
                message = f"{len(summary.failed)} job(s) failed: `montage-bridge watch status` says why"
                error = json_output.ErrorInfo(message=message, kind="partial", exit_code=1)
            run = json_output.WatchRunResult(written=list(summary.written), failed=list(summary.failed))
            json_output.emit(run, error=error)
        else:
            out.print(f"{len(summary.written)} job(s) written, {len(summary.failed)} failed")
        if summary.failed:
            raise typer.Exit(1)


def _repair(outbox: Path, journal: Path, as_json: bool = False) -> None:
    result = repair(outbox, journal)
    if as_json:
        json_output.emit(
            json_output.WatchRepairResult(
                journal=str(journal),
                healthy=result.healthy,
                damage=result.damage,
                moved_to=None if result.moved_to is None else str(result.moved_to),
                rebuilt=list(result.rebuilt),
                rerun=list(result.rerun),
            )
        )
        return
    if result.healthy:
        out.print(f"{journal}: the journal is sound; nothing to repair")
        return
    if result.moved_to is not None:
        out.print(f"{journal}: damaged ({result.damage}); moved aside to {result.moved_to.name}")
    else:
        out.print(f"{journal}: no journal here; building one from the outbox")
    out.print(f"rebuilt {len(result.rebuilt)} written job(s) from their report.json: they are not run again")
    if result.rerun:
        names = ", ".join(result.rerun[:5]) + (" …" if len(result.rerun) > 5 else "")
        out.print(f"{len(result.rerun)} job folder(s) without a finished report run again at the next start: {names}")
    out.print("start the daemon again as before")


def _log(line: str) -> None:
    err.print(f"[dim]{datetime.now().strftime('%H:%M:%S')}[/] {line}", markup=True, highlight=False, soft_wrap=True)


def _open_journal(journal: Optional[Path], out_dir: Optional[Path]) -> Journal:
    if journal is None:
        if out_dir is None:
            raise WatchUsageError("say which journal: --out OUTBOX, --journal FILE, or --config FILE with journal = …")
        journal = out_dir / JOURNAL_NAME
    return Journal(journal, create=False)


def _status_result(journal: Journal) -> json_output.WatchStatusResult:
    jobs = journal.jobs()
    files = journal.files()
    per_job: dict[str, int] = {}
    for f in files:
        per_job[f.job] = per_job.get(f.job, 0) + 1
    counts = {s: sum(1 for j in jobs if j.state == s) for s in _STATE_STYLE}
    return json_output.WatchStatusResult(
        journal=str(journal.path),
        jobs=[
            json_output.WatchJob(
                name=j.name,
                state=j.state,
                files=per_job.get(j.name, 0),
                writes=j.writes,
                attempts=j.attempts,
                analysis_seconds=j.analysis_seconds,
                total_seconds=j.total_seconds,
                finished=j.finished,
                resolve_state=j.resolve_state,
                resolve_error=j.resolve_error,
                error=j.error,
                output=j.output,
            )
            for j in jobs
        ],
        counts={s: n for s, n in counts.items() if n},
        files_waiting=sum(1 for f in files if f.state == "seen"),
        not_built_in_resolve=_unbuilt(jobs),
    )


def _unbuilt(jobs: list) -> list[str]:
    return [j.name for j in jobs if j.state == "written" and j.resolve_state in ("pending", "problem", "retry")]


def _print_status(journal: Journal) -> None:
    jobs = journal.jobs()
    files = journal.files()
    per_job: dict[str, list[str]] = {}
    for f in files:
        per_job.setdefault(f.job, []).append(f.state)
    table = Table(title=f"watch journal {journal.path}")
    table.add_column("job")
    table.add_column("state")
    table.add_column("files", justify="right")
    table.add_column("writes", justify="right")
    table.add_column("analysis", justify="right")
    table.add_column("total", justify="right")
    table.add_column("finished")
    table.add_column("resolve")
    table.add_column("error / output", overflow="fold")
    for j in jobs:
        style = _STATE_STYLE.get(j.state, "")
        table.add_row(
            j.name,
            f"[{style}]{j.state}[/]",
            str(len(per_job.get(j.name, []))),
            str(j.writes),
            f"{j.analysis_seconds:.2f} s" if j.analysis_seconds is not None else "",
            f"{j.total_seconds:.2f} s" if j.total_seconds is not None else "",
            datetime.fromtimestamp(j.finished).strftime("%Y-%m-%d %H:%M:%S") if j.finished else "",
            f"[{_RESOLVE_STYLE.get(j.resolve_state or '', '')}]{j.resolve_state}[/]" if j.resolve_state else "",
            j.error or (f"Resolve: {j.resolve_error}" if j.resolve_error else "") or j.output or "",
        )
    out.print(table)
    counts = {s: sum(1 for j in jobs if j.state == s) for s in _STATE_STYLE}
    waiting = sum(1 for f in files if f.state == "seen")
    out.print(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no jobs yet", f"; {waiting} file(s) waiting")
    unbuilt = _unbuilt(jobs)
    if unbuilt:
        out.print(f"[yellow]warning:[/] {len(unbuilt)} written job(s) not built in Resolve: {', '.join(unbuilt[:5])}")
