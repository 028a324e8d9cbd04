"""`montage-bridge dashboard`: a small web app on 127.0.0.1 showing the watch daemon's jobs, a GPU
worker's jobs and workers, and the analysis cache, live; ``/metrics`` for Prometheus.

    montage-bridge dashboard --outbox OUTBOX [--worker URL] [--port 8765]
"""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated, Optional

import typer

from kernel.errors import MontageError
from montage_bridge.console import err


class DashboardError(MontageError):
    """The dashboard cannot start as asked."""


def dashboard(
    outbox: Annotated[
        Optional[Path], typer.Option("--outbox", "-o", help="The watch daemon's outbox (its journal is inside).")
    ] = None,
    journal: Annotated[
        Optional[Path],
        typer.Option("--journal", help="The watch journal file, when not OUTBOX/.montage-watch.sqlite3."),
    ] = None,
    worker: Annotated[
        Optional[str], typer.Option("--worker", help="GPU worker URL: show its jobs and workers.")
    ] = None,
    worker_token: Annotated[
        Optional[str], typer.Option("--worker-token", envvar="MONTAGE_GPU_TOKEN", help="GPU worker token.")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback unless --token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free one).")] = 8765,
    token: Annotated[
        Optional[str],
        typer.Option(
            "--token", envvar="MONTAGE_DASHBOARD_TOKEN", help="Require this token (needed to listen beyond loopback)."
        ),
    ] = None,
    cache_dir: Annotated[
        Optional[Path], typer.Option("--cache-dir", help="Analysis cache folder (default: the one analysis uses).")
    ] = None,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
) -> None:
    """Watch the work in a browser: jobs, progress, edits, retry and cancel; Prometheus /metrics."""
    from dashboard.app import DashboardConfig, create_app, is_loopback
    from montage_bridge.watch.daemon import JOURNAL_NAME

    if journal is None and outbox is not None:
        journal = outbox / JOURNAL_NAME
    if journal is not None and not journal.is_file():
        raise DashboardError(f"{journal}: no watch journal here — is the daemon's outbox right?")
    if journal is None and worker is None:
        raise DashboardError("nothing to show: pass --outbox OUTBOX (the watch daemon's) and/or --worker URL")
    if not is_loopback(host) and not token:
        raise DashboardError(
            f"--host {host} would show the dashboard beyond this machine: set --token (or MONTAGE_DASHBOARD_TOKEN)"
        )
    import uvicorn

    from gpu_remote.server import listen_socket

    config = DashboardConfig(
        journal=journal, outbox=outbox, worker_url=worker, worker_token=worker_token, token=token, cache_dir=cache_dir
    )
    app = create_app(config)
    try:
        sock = listen_socket(host, port)
    except MontageError as exc:
        raise DashboardError(str(exc).replace("another worker", "another dashboard")) from exc
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    err.print(f"dashboard on {url}" + (" (open it with ?token=YOUR_TOKEN once)" if token else ""), highlight=False)
    if not no_open:
        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3))
    server.run(sockets=[sock])
