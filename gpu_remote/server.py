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
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from gpu_remote import __version__
from gpu_remote.auth import TokenAuth
from gpu_remote.blobs import BlobError, BlobStore
from gpu_remote.db import open_database
from gpu_remote.errors import BrokerUnavailable, WorkerConfigError
from gpu_remote.events import long_poll, sse_stream
from gpu_remote.models import (
    JOB_ID_RE,
    Capabilities,
    Health,
    Job,
    JobList,
    JobSpec,
    Limits,
    OpInfo,
    UploadCreate,
    UploadStatus,
    WorkerInfo,
    WorkerList,
)
from gpu_remote.ops import OPS
from gpu_remote.registry import Heartbeat, Registry
from gpu_remote.request_gate import RequestGate
from gpu_remote.routing import describe_worker, route_for, served_routes
from gpu_remote.runner import Runner, RunnerSettings, make_owner, reap_work_dirs
from gpu_remote.store import JobStore, StoreError
from gpu_remote.webhooks import WebhookDispatcher

MAX_JSON_BODY = 1 << 20  # job bodies are small JSON; media goes through /v1/uploads
CHUNK_HINT = 16 << 20
READ_CHUNK = 1 << 20


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
            self.webhooks = WebhookDispatcher(self.db, config.webhook_secret, backoff_s=config.webhook_backoff_s)
        self.heartbeat: Heartbeat | None = None
        self.blobs = BlobStore(
            config.data_dir,
            self.db,
            max_upload_bytes=config.max_upload_bytes,
            disk_budget_bytes=config.disk_budget_bytes,
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
        while not self._stop.wait(self.config.reaper_interval_s):
            try:
                self._maintain()
            except Exception:  # the reaper must survive a locked DB or a full disk
                import logging

                logging.getLogger("montage_bridge.gpu_remote.server").exception("maintenance pass failed")


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status in (429, 503):
        headers = {"Retry-After": "5"}
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """A single ``bytes=a-b`` / ``a-`` / ``-n`` range as a half-open (start, end); None if unsatisfiable."""
    match = _RANGE_RE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(size, int(last) + 1) if last else size
    else:
        start, end = max(0, size - int(last)), size
    if start >= size or start >= end:
        return None
    return start, end


def _iter_file(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = handle.read(min(READ_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def create_app(worker: Worker) -> FastAPI:
    """The FastAPI application for ``worker`` (its lifespan starts and stops the worker)."""

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
    # Token and body size are checked before FastAPI reads a body; require_token above stays as a
    # second check on every route.
    app.add_middleware(
        RequestGate, auth=worker.auth, job_body=MAX_JSON_BODY, upload_chunk=worker.config.max_upload_bytes
    )
    store, blobs = worker.store, worker.blobs

    @app.exception_handler(StoreError)
    async def _store_error(_request: Request, exc: StoreError) -> JSONResponse:
        return _error(exc.status, str(exc), **exc.extra)

    @app.exception_handler(BlobError)
    async def _blob_error(_request: Request, exc: BlobError) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"invalid request at {where}: {first.get('msg')}")

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def check_job_id(job_id: str) -> str:
        if not JOB_ID_RE.match(job_id):
            raise StoreError("job id must be 8-64 characters of A-Z a-z 0-9 _ -", 400)
        return job_id

    # -- discovery --------------------------------------------------------------------------

    @app.get("/v1/health", response_model=Health)
    def health() -> Health:
        counts = store.counts()
        running, queued = counts.get("running", 0), counts.get("queued", 0)
        live = worker.registry.live()
        problems: list[str] = []
        broker = worker.dispatcher.health().get("broker")
        if broker == "unreachable":
            problems.append("the job queue broker is unreachable: jobs are saved and sent when it returns")
        if not live:
            problems.append("no live worker: start `montage-bridge worker celery` (one per GPU)")
        served = {route for w in live for route in w.get("routes", [])}
        for route, waiting in sorted(store.queued_routes().items()):
            if live and route not in served:
                problems.append(f"{waiting} job(s) queued for {route}, which no live worker serves")
        status = "degraded" if problems else "busy" if running else "ready"
        return Health(
            status=status,
            queued=queued,
            running=running,
            workers=len(live),
            free_slots=sum(int(w.get("free_slots", 0)) for w in live),
            broker=broker,
            problems=problems,
        )

    @app.get("/v1/workers", response_model=WorkerList)
    def workers() -> WorkerList:
        return WorkerList(workers=[WorkerInfo.model_validate(w) for w in worker.registry.live()])

    @app.get("/v1/capabilities", response_model=Capabilities)
    def capabilities() -> Capabilities:
        ops = [
            OpInfo(
                name=op.name,
                version=op.version,
                description=op.description,
                params_schema=op.params.model_json_schema(),
                inputs=[*op.inputs, *(f"{n}?" for n in op.optional_inputs)],
                backend=op.backend(),
            )
            for op in OPS.values()
        ]
        return Capabilities(
            server_version=__version__,
            ops=ops,
            gpus=gpus(),
            cpu_count=os.cpu_count() or 1,
            limits=Limits(
                max_upload_bytes=worker.config.max_upload_bytes,
                max_queued_jobs=worker.config.max_queued,
                disk_budget_bytes=worker.config.disk_budget_bytes,
                chunk_bytes_hint=CHUNK_HINT,
            ),
            queue_depth=store.counts().get("queued", 0),
            backend=worker.config.backend,
        )

    # -- blobs ------------------------------------------------------------------------------

    @app.head("/v1/blobs/{sha256}")
    def head_blob(sha256: str) -> Response:
        if not blobs.has(sha256):
            return Response(status_code=404)
        size = blobs.size(sha256)
        return Response(
            status_code=200,
            headers={"Content-Length": str(size), "ETag": f'"{sha256}"', "Accept-Ranges": "bytes"},
        )

    @app.get("/v1/blobs/{sha256}")
    def get_blob(sha256: str, request: Request) -> Response:
        if not blobs.has(sha256):
            raise BlobError(f"blob {sha256} not found on this worker", 404)
        path, size = blobs.path(sha256), blobs.size(sha256)
        blobs.touch(sha256)
        headers = {"ETag": f'"{sha256}"', "Accept-Ranges": "bytes"}
        range_header = request.headers.get("range")
        if range_header:
            span = _parse_range(range_header, size)
            if span is None:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
            start, end = span
            headers.update({"Content-Range": f"bytes {start}-{end - 1}/{size}", "Content-Length": str(end - start)})
            return StreamingResponse(
                _iter_file(path, start, end), status_code=206, headers=headers, media_type="application/octet-stream"
            )
        headers["Content-Length"] = str(size)
        return StreamingResponse(_iter_file(path, 0, size), headers=headers, media_type="application/octet-stream")

    # -- uploads ----------------------------------------------------------------------------

    def upload_headers(status: UploadStatus) -> dict[str, str]:
        headers = {"Upload-Offset": str(status.offset), "Upload-Length": str(status.size), "Cache-Control": "no-store"}
        if status.upload_id:
            headers["Location"] = f"/v1/uploads/{status.upload_id}"
        return headers

    @app.post("/v1/uploads", response_model=UploadStatus)
    def create_upload(body: UploadCreate, response: Response) -> UploadStatus:
        status = blobs.create_upload(body.sha256, body.size, body.filename, pinned=store.pinned_blobs())
        response.status_code = 200 if status.complete else 201
        response.headers.update(upload_headers(status))
        return status

    @app.head("/v1/uploads/{upload_id}")
    def head_upload(upload_id: str) -> Response:
        return Response(status_code=200, headers=upload_headers(blobs.upload_status(upload_id)))

    @app.get("/v1/uploads/{upload_id}", response_model=UploadStatus)
    def get_upload(upload_id: str, response: Response) -> UploadStatus:
        status = blobs.upload_status(upload_id)
        response.headers.update(upload_headers(status))
        return status

    @app.patch("/v1/uploads/{upload_id}")
    async def patch_upload(upload_id: str, request: Request) -> Response:
        offset_header = request.headers.get("upload-offset", "")
        if not offset_header.isdigit():
            raise BlobError("PATCH needs an Upload-Offset header (bytes already sent)", 400)
        length = request.headers.get("content-length")
        status = blobs.upload_status(upload_id)
        if length and length.isdigit() and int(offset_header) + int(length) > status.size:
            raise BlobError(f"upload body runs past the announced size of {status.size} bytes", 413)
        try:
            status = await blobs.append(upload_id, int(offset_header), request.stream())
        except ClientDisconnect:
            # The bytes that arrived are kept; the client resumes from HEAD's Upload-Offset.
            return Response(status_code=400)
        return Response(status_code=204, headers=upload_headers(status))

    @app.delete("/v1/uploads/{upload_id}")
    def delete_upload(upload_id: str) -> Response:
        blobs.delete_upload(upload_id)
        return Response(status_code=204)

    # -- jobs -------------------------------------------------------------------------------

    @app.put("/v1/jobs/{job_id}", response_model=Job)
    async def put_job(job_id: str, request: Request, response: Response) -> Job:
        check_job_id(job_id)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_JSON_BODY:
            raise StoreError(f"job body over {MAX_JSON_BODY} bytes: send media through /v1/uploads", 413)
        raw = await request.body()
        if len(raw) > MAX_JSON_BODY:
            raise StoreError(f"job body over {MAX_JSON_BODY} bytes: send media through /v1/uploads", 413)
        try:
            spec = JobSpec.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise StoreError(f"invalid job at {'.'.join(map(str, first['loc']))}: {first['msg']}", 422) from exc
        op = OPS.get(spec.op)
        if op is None:
            raise StoreError(f"unknown op {spec.op}: this worker runs {', '.join(sorted(OPS))}", 422)
        if spec.op_version is not None and spec.op_version != op.version:
            raise StoreError(f"op {op.name} is version {op.version} here, not {spec.op_version}", 422)
        try:
            params = op.params.model_validate(spec.params).model_dump(mode="json")
        except ValidationError as exc:
            first = exc.errors()[0]
            raise StoreError(f"invalid params.{'.'.join(map(str, first['loc']))}: {first['msg']}", 422) from exc
        allowed = set(op.inputs) | set(op.optional_inputs)
        unknown = sorted(set(spec.inputs) - allowed)
        if unknown:
            raise StoreError(f"op {op.name} takes inputs {sorted(allowed)}, not {unknown}", 422)
        absent = [name for name in op.inputs if name not in spec.inputs]
        if absent:
            raise StoreError(f"op {op.name} needs inputs {absent}", 422)
        if spec.webhook and worker.webhooks is None:
            raise StoreError("this worker has no webhook secret (--webhook-secret): it cannot sign webhooks", 422)

        def create() -> tuple[Job, bool]:
            missing = [ref.sha256 for ref in spec.inputs.values() if not blobs.has(ref.sha256)]
            job, created = store.put(
                job_id, spec, op.version, params, missing=missing, route=route_for(op.name, params)
            )
            if job.state.value == "queued":
                # Publish now (also on a repeated PUT of a job still unsent). If the broker is down
                # the job stays saved and the re-publisher sends it when the broker returns.
                worker.dispatcher.notify(job_id)
            return job, created

        from starlette.concurrency import run_in_threadpool

        try:
            job, created = await run_in_threadpool(create)
        except BrokerUnavailable as exc:
            job = store.get(job_id, base_url(request))
            return _error(  # type: ignore[return-value]
                503, f"{exc}; job {job_id} is saved: repeat the request", job=job.model_dump(mode="json")
            )
        response.status_code = 201 if created else 200
        return store.get(job_id, base_url(request))

    @app.get("/v1/jobs", response_model=JobList)
    def list_jobs(
        request: Request,
        ids: str | None = Query(default=None, description="comma-separated job ids"),
        updated_since: float | None = None,
        limit: int = Query(default=500, ge=1, le=5000),
    ) -> JobList:
        wanted = [check_job_id(i) for i in ids.split(",") if i] if ids else None
        return JobList(jobs=store.list_jobs(wanted, updated_since, limit, base_url(request)))

    @app.get("/v1/jobs/{job_id}", response_model=Job)
    def get_job(job_id: str, request: Request) -> Job:
        return store.get(check_job_id(job_id), base_url(request))

    @app.post("/v1/jobs/{job_id}/cancel", response_model=Job)
    def cancel_job(job_id: str, request: Request) -> Job:
        store.request_cancel(check_job_id(job_id))
        return store.get(job_id, base_url(request))

    @app.post("/v1/jobs/{job_id}/retry", response_model=Job)
    def retry_job(job_id: str, request: Request, force: bool = False) -> Job:
        store.retry(check_job_id(job_id), force=force)
        try:
            worker.dispatcher.notify(job_id)
        except BrokerUnavailable:
            worker.dispatcher.wake()  # saved as queued: the re-publisher sends it when it can
        return store.get(job_id, base_url(request))

    @app.delete("/v1/jobs/{job_id}")
    def delete_job(job_id: str) -> Response:
        store.delete(check_job_id(job_id))
        return Response(status_code=204)

    @app.get("/v1/jobs/{job_id}/events")
    async def job_events(
        job_id: str,
        request: Request,
        after: int = Query(default=0, ge=0),
        wait: float = Query(default=0.0, ge=0.0, le=30.0),
    ) -> Response:
        check_job_id(job_id)
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(store.get, job_id)  # 404 for unknown jobs
        last_id = request.headers.get("last-event-id", "")
        if last_id.isdigit():
            after = max(after, int(last_id))
        if "text/event-stream" in request.headers.get("accept", ""):
            return StreamingResponse(
                sse_stream(store, job_id, after, request.is_disconnected),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )
        events = await long_poll(store, job_id, after, wait)
        return JSONResponse([e.model_dump() for e in events])

    from gpu_remote.metrics import install_metrics  # GET /metrics for Prometheus (#18)

    install_metrics(app, worker)
    return app


def gpus() -> list[dict[str, Any]]:
    """CUDA GPUs this worker can use, each {index, name, memory_bytes}.

    CTranslate2 (always installed, via faster-whisper) counts them cheaply; torch gives names and
    memory but is consulted only if an op already imported it (its import takes seconds).
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return [
            {
                "index": i,
                "name": torch.cuda.get_device_name(i),
                "memory_bytes": torch.cuda.get_device_properties(i).total_memory,
            }
            for i in range(torch.cuda.device_count())
        ]
    try:
        import ctranslate2

        return [{"index": i, "name": "cuda", "memory_bytes": None} for i in range(ctranslate2.get_cuda_device_count())]
    except (ImportError, RuntimeError):
        return []


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
