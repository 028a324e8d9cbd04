"""The worker's HTTP API (FastAPI): health, capabilities, blobs, resumable uploads, jobs, events.

Every route requires ``Authorization: Bearer <token>``. Job execution is behind a dispatcher:
``embedded`` runs jobs in this process (SQLite runner threads); ``celery`` only rings Celery's
doorbell and separate ``montage-bridge worker celery`` processes run them. Either way the SQLite
job store is the source of truth.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gpu_remote import __version__
from gpu_remote.auth import TokenAuth
from gpu_remote.blobs import BlobError, BlobStore
from gpu_remote.db import open_database
from gpu_remote.errors import DatabaseUnavailable, WorkerConfigError
from gpu_remote.hardware import gpus
from gpu_remote.registry import Heartbeat, Registry
from gpu_remote.request_gate import RequestGate
from gpu_remote.routes import blobs as blob_routes
from gpu_remote.routes import health, jobs, uploads
from gpu_remote.routes.deps import MAX_JSON_BODY, error_response
from gpu_remote.routing import describe_worker, served_routes
from gpu_remote.runner import Runner, RunnerSettings, make_owner, reap_work_dirs
from gpu_remote.store import JobStore, StoreError
from gpu_remote.webhooks import WebhookDispatcher

__all__ = ["Worker", "WorkerConfig", "create_app", "gpus", "listen_socket", "serve"]


@dataclass
class WorkerConfig:
    data_dir: Path
    max_upload_bytes: int = 64 << 30
    disk_budget_bytes: int = 500 << 30
    max_queued: int = 10_000
    max_attempts: int = 3  # runs per job: a lost worker or a retryable error is retried up to this
    retry_backoff_s: float = 2.0  # first automatic retry after this, doubling each time
    republish_after_s: float = 30.0  # celery: re-send a queued job nobody claimed after this (doubling)
    publish_interval_s: float = 1.0  # celery: how often the re-publisher looks for unsent jobs
    upload_expiry_s: float = 24 * 3600.0
    reaper_interval_s: float = 5.0
    runner: RunnerSettings = field(default_factory=RunnerSettings)
    backend: str = "embedded"  # or "celery"
    broker_url: str | None = None
    store: str | None = None  # postgresql://… (state shared by machines); None: SQLite in data_dir
    webhook_secret: str | None = None  # HMAC key of job webhooks; None: jobs cannot ask for one
    webhook_backoff_s: float = 1.0  # first webhook retry after this, doubling
    webhook_allow_private: bool = False  # webhooks may go to loopback/private addresses (in-house receivers)
    webhook_ca_file: str | None = None  # CA bundle https webhook receivers are verified against (None: certifi)
    blobs: str | None = None  # s3://BUCKET/PREFIX: shared blob store, data_dir/blobs its local cache; None: data_dir
    s3_endpoint: str | None = None  # S3-compatible endpoint URL (None: boto3's default / AWS_ENDPOINT_URL)
    s3_region: str | None = None  # None: boto3's default (AWS_DEFAULT_REGION)


class Dispatcher(Protocol):
    def notify(self, job_id: str) -> None: ...
    def wake(self) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def health(self) -> dict[str, Any]: ...


class EmbeddedDispatcher:
    """Jobs run in this process; a new job just wakes an idle runner thread."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def notify(self, job_id: str) -> None:
        self.runner.wake()

    def wake(self) -> None:
        self.runner.wake()

    def start(self) -> None:
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()

    def health(self) -> dict[str, Any]:
        return {"broker": None}


class Worker:
    """Everything one data folder holds, plus the background reaper."""

    def __init__(self, config: WorkerConfig, auth: TokenAuth) -> None:
        self.config = config
        self.auth = auth
        # Jobs, blobs and the token hash belong to the worker's user alone.
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(config.data_dir, 0o700)
        self.db = open_database(config.store, config.data_dir)
        self.store = JobStore(
            self.db,
            max_queued=config.max_queued,
            max_attempts=config.max_attempts,
            retry_backoff_s=config.retry_backoff_s,
            republish_after_s=config.republish_after_s,
        )
        self.registry = Registry(self.db)
        self.webhooks: WebhookDispatcher | None = None
        if config.webhook_secret:
            self.webhooks = WebhookDispatcher(
                self.db,
                config.webhook_secret,
                backoff_s=config.webhook_backoff_s,
                allow_private=config.webhook_allow_private,
                ca_file=config.webhook_ca_file,
            )
        self.heartbeat: Heartbeat | None = None
        from gpu_remote.blob_s3 import open_blob_store_remote

        self.blobs = BlobStore(
            config.data_dir,
            self.db,
            max_upload_bytes=config.max_upload_bytes,
            disk_budget_bytes=config.disk_budget_bytes,
            remote=open_blob_store_remote(config.blobs, endpoint_url=config.s3_endpoint, region=config.s3_region),
            pinned=self.store.pinned_blobs,
        )
        self.dispatcher: Dispatcher
        self._lock_handle: Any = None
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        if config.backend == "celery":
            from gpu_remote.celery_backend import CeleryDispatcher

            if not config.broker_url:
                raise WorkerConfigError("the celery backend needs --broker redis://HOST:PORT/0")
            self.dispatcher = CeleryDispatcher(config.broker_url, self.store, interval_s=config.publish_interval_s)
        else:
            runner = Runner(self.store, self.blobs, config.data_dir / "work", config.runner, make_owner("embedded"))
            self.dispatcher = EmbeddedDispatcher(runner)
            slots = config.runner.slots

            def describe() -> dict[str, Any]:
                info = describe_worker(runner.owner, served_routes(), slots, gpus())
                running = runner.running_jobs()
                info.update(running=running, free_slots=max(0, slots - len(running)), kind="embedded")
                return info

            self.heartbeat = Heartbeat(self.registry, runner.owner, describe)

    def lock_data_dir(self) -> None:
        """Take the data folder (embedded backend): one embedded server per folder.

        Then any job still 'running' here belongs to a process that died, and is re-queued at
        once instead of after its lease expires. Called before the HTTP server starts so a
        second server on the same folder stops with a one-line error.
        """
        if self.config.backend != "embedded" or self._lock_handle is not None:
            return
        handle = open(self.config.data_dir / "worker.lock", "w")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise WorkerConfigError(
                f"another worker is already serving {self.config.data_dir}: stop it or use another --data"
            ) from exc
        self._lock_handle = handle
        self.store.reap(now=float("inf"))

    def start(self) -> None:
        self.lock_data_dir()
        self._maintain()
        self.dispatcher.start()
        if self.webhooks:
            self.webhooks.start()
        if self.heartbeat:
            self.heartbeat.start()
        self._reaper = threading.Thread(target=self._reap_loop, name="gpu-reaper", daemon=True)
        self._reaper.start()

    def stop(self) -> None:
        self._stop.set()
        if self.webhooks:
            self.webhooks.stop()
        if self.heartbeat:
            self.heartbeat.stop()
        self.dispatcher.stop()
        if self._reaper:
            self._reaper.join(5)
        if self._lock_handle:
            self._lock_handle.close()

    def _maintain(self) -> None:
        if self.store.reap():
            self.dispatcher.wake()  # re-queued jobs: the runner claims them / the re-publisher sends them
        reap_work_dirs(self.store, self.config.data_dir / "work")
        self.store.expire()
        self.blobs.expire_uploads(self.config.upload_expiry_s)
        self.blobs.gc(self.store.pinned_blobs())

    def _reap_loop(self) -> None:
        import logging

        logger = logging.getLogger("montage_bridge.gpu_remote.server")
        outage = False
        while not self._stop.wait(self.config.reaper_interval_s):
            try:
                self._maintain()
                outage = False
            except DatabaseUnavailable as exc:  # one line per outage, not a traceback per pass
                if not outage:
                    logger.warning("maintenance paused: %s", exc)
                outage = True
            except Exception:  # the reaper must survive a locked DB or a full disk
                logger.exception("maintenance pass failed")


def create_app(worker: Worker) -> FastAPI:
    """The FastAPI application for ``worker`` (its lifespan starts and stops the worker).

    The routes live in ``gpu_remote/routes/`` (one APIRouter per concern) and find the worker in
    ``app.state.worker``; the token check, body limits and error mapping are set here, once.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    def require_token(request: Request) -> None:
        if not worker.auth.check_header(request.headers.get("authorization")):
            raise StoreError("missing or wrong bearer token", 401)

    app = FastAPI(
        title="Montage Bridge GPU worker",
        version=__version__,
        lifespan=lifespan,
        dependencies=[Depends(require_token)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.worker = worker
    # Token and body size are checked before FastAPI reads a body; require_token above stays as a
    # second check on every route.
    app.add_middleware(
        RequestGate, auth=worker.auth, job_body=MAX_JSON_BODY, upload_chunk=worker.config.max_upload_bytes
    )

    @app.exception_handler(StoreError)
    async def _store_error(_request: Request, exc: StoreError) -> JSONResponse:
        return error_response(exc.status, str(exc), **exc.extra)

    @app.exception_handler(DatabaseUnavailable)
    async def _database_gone(_request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        return error_response(503, f"{exc}; try again shortly")

    @app.exception_handler(BlobError)
    async def _blob_error(_request: Request, exc: BlobError) -> JSONResponse:
        return error_response(exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, f"invalid request at {where}: {first.get('msg')}")

    for router in (health.router, blob_routes.router, uploads.router, jobs.router):
        app.include_router(router)

    from gpu_remote.metrics import install_metrics  # GET /metrics for Prometheus (#18)

    install_metrics(app, worker)
    return app


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for ``host:port``, or a one-line :class:`WorkerConfigError` saying why not.

    Binding here rather than inside uvicorn means a busy port gets our message (which port, what to
    do) instead of uvicorn's log line and exit 1.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise WorkerConfigError(f"cannot listen on {host}: {exc.strerror}; use an IP address or a known host") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise WorkerConfigError(
                f"port {port} on {host} is already in use (another worker or program): stop it or pass --port"
            ) from exc
        raise WorkerConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def serve(
    worker: Worker, host: str, port: int, *, on_ready: Any = None, log_level: str = "warning"
) -> None:  # pragma: no cover - exercised through the CLI subprocess tests
    """Run uvicorn in the foreground until interrupted; ``on_ready(started, port)`` once listening."""
    import uvicorn

    worker.lock_data_dir()
    sock = listen_socket(host, port)
    app = create_app(worker)
    config = uvicorn.Config(app, log_level=log_level, timeout_keep_alive=30, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    started = time.time()
    if on_ready:
        on_ready(started, sock.getsockname()[1])
    server.run(sockets=[sock])
