"""The dashboard web app: the watch journal's jobs, the GPU worker's jobs and workers, the
analysis cache, live over Server-Sent Events, and the daemon's Prometheus metrics.

Security, by default: it listens on 127.0.0.1 and answers only loopback clients whose ``Host`` is a
loopback name (no DNS rebinding). With a token (``--token``/``MONTAGE_DASHBOARD_TOKEN``) it may
listen elsewhere and asks for the token once: ``/?token=…`` sets an HttpOnly cookie holding an
HMAC of it (never the token), or scripts send ``Authorization: Bearer``. Actions (retry, cancel)
are POSTs that need the ``X-Montage-Dashboard`` header and a same-origin ``Origin``, which a
page on another site cannot send. The worker's token stays in this process: the page only
ever talks to the dashboard. Output files are served with a ``sandbox`` CSP, so an edit page (or
an XML file) runs in an opaque origin and cannot act on the dashboard.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dashboard.page import DASHBOARD_HTML
from dashboard.production import ProductionSettings, mount_production
from montage_bridge.watch.journal import RUNNING_STATES, Journal

COOKIE = "mb_dashboard"
ACTION_HEADER = "x-montage-dashboard"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
EDIT_PAGE_CSP = (
    "sandbox allow-scripts; default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
)
FILE_CSP = "sandbox; default-src 'none'"


@dataclass
class DashboardConfig:
    journal: Path | None = None
    outbox: Path | None = None  # default: the journal's folder
    worker_url: str | None = None
    worker_token: str | None = None
    token: str | None = None
    cache_dir: Path | None = None
    poll_seconds: float = 0.5
    heartbeat_seconds: float = 15.0
    worker_timeout: float = 3.0
    extra: dict[str, Any] = field(default_factory=dict)
    production: ProductionSettings | None = None  # the production endpoints (dashboard.production)

    @property
    def outbox_dir(self) -> Path | None:
        return self.outbox or (self.journal.parent if self.journal else None)


def public_url(url: str) -> str:
    """``url`` without user:password, for showing on the page."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"montage-bridge dashboard session", hashlib.sha256).hexdigest()


class State:
    """Builds the snapshot the page shows (journal, worker, cache), measuring the cache at most every 30 s."""

    def __init__(self, config: DashboardConfig) -> None:
        self.config = config
        self._cache: dict[str, Any] = {}
        self._cache_at = 0.0
        self._lock = threading.Lock()
        self._session = None

    # -- watch journal ------------------------------------------------------------------------

    def watch(self) -> dict[str, Any] | None:
        cfg = self.config
        if cfg.journal is None:
            return None
        try:
            journal = Journal(cfg.journal, create=False)
        except Exception as exc:
            return {"journal": str(cfg.journal), "error": str(exc), "jobs": []}
        try:
            jobs, files = journal.jobs(), journal.files()
        finally:
            journal.close()
        per_job: dict[str, int] = {}
        for f in files:
            per_job[f.job] = per_job.get(f.job, 0) + 1
        done = [j.total_seconds for j in jobs if j.state == "written" and j.total_seconds]
        typical = sum(done) / len(done) if done else None
        now = time.time()
        rows = []
        for job in jobs:
            row = job.model_dump()
            row["files"] = per_job.get(job.name, 0)
            row["running"] = job.state in RUNNING_STATES
            row["elapsed"] = now - job.started if row["running"] and job.started else None
            row["eta_s"] = max(0.0, typical - row["elapsed"]) if typical and row["elapsed"] is not None else None
            row["links"] = self._links(job.name)
            rows.append(row)
        counts = {
            s: sum(1 for j in jobs if j.state == s) for s in ("seen", "analyzing", "planned", "written", "failed")
        }
        return {"journal": str(cfg.journal), "jobs": rows, "counts": counts}

    def _links(self, job: str) -> dict[str, Any]:
        folder = self.job_folder(job)
        if folder is None or not folder.is_dir():
            return {"files": []}
        names = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        base = f"/jobs/{quote(job, safe='')}/files/"
        return {
            "picture": base + "edit.html" if "edit.html" in names else None,
            "png": base + "edit.png" if "edit.png" in names else None,
            "files": [{"name": n, "url": base + quote(n, safe="")} for n in names],
        }

    def job_folder(self, job: str) -> Path | None:
        outbox = self.config.outbox_dir
        if outbox is None or not job or job in (".", "..") or "/" in job or "\\" in job or job.startswith("."):
            return None
        return outbox / job

    # -- GPU worker ---------------------------------------------------------------------------

    def _http(self):  # type: ignore[no-untyped-def]
        import requests

        if self._session is None:
            session = requests.Session()
            if self.config.worker_token:
                session.headers["Authorization"] = f"Bearer {self.config.worker_token}"
            self._session = session
        return self._session

    def worker_call(self, method: str, path: str) -> Any:
        assert self.config.worker_url
        url = self.config.worker_url.rstrip("/") + path
        response = self._http().request(method, url, timeout=self.config.worker_timeout)
        if response.status_code == 404 and path in ("/v1/workers",):
            return None
        if response.status_code >= 400:
            try:
                message = response.json().get("error") or response.text
            except ValueError:
                message = response.text
            raise WorkerCallError(f"{response.status_code}: {message}"[:300], response.status_code)
        return response.json() if response.content else None

    def worker(self) -> dict[str, Any] | None:
        cfg = self.config
        if not cfg.worker_url:
            return None
        shown = public_url(cfg.worker_url)
        try:
            health = self.worker_call("GET", "/v1/health")
            jobs = self.worker_call("GET", "/v1/jobs?limit=5000")["jobs"]
            workers = self.worker_call("GET", "/v1/workers")
        except WorkerCallError as exc:
            return {"url": shown, "error": str(exc), "jobs": [], "workers": []}
        except Exception as exc:  # unreachable, timeout, not JSON
            return {"url": shown, "error": f"unreachable: {exc.__class__.__name__}", "jobs": [], "workers": []}
        rows = []
        for job in sorted(jobs, key=lambda j: j.get("created_at") or 0, reverse=True)[:200]:
            progress = job.get("progress") or {}
            error = job.get("error") or {}
            rows.append(
                {
                    "id": job.get("id"),
                    "op": job.get("op"),
                    "state": job.get("state"),
                    "fraction": progress.get("fraction"),
                    "stage": progress.get("stage"),
                    "eta_s": progress.get("eta_s"),
                    "attempt": job.get("attempt"),
                    "cancel_requested": job.get("cancel_requested"),
                    "created_at": job.get("created_at"),
                    "started_at": job.get("started_at"),
                    "finished_at": job.get("finished_at"),
                    "error": error.get("message") if isinstance(error, dict) else None,
                    "labels": job.get("labels") or {},
                }
            )
        live = (workers or {}).get("workers", []) if isinstance(workers, dict) else []
        return {
            "url": shown,
            "error": None,
            "health": {k: health.get(k) for k in ("status", "queued", "running", "workers", "free_slots", "problems")},
            "jobs": rows,
            "workers": [
                {k: w.get(k) for k in ("name", "kind", "host", "ops", "slots", "free_slots", "running", "gpus")}
                for w in live
            ],
        }

    # -- analysis cache -----------------------------------------------------------------------

    def cache(self, *, fresh: bool = False) -> dict[str, Any]:
        with self._lock:
            if fresh or not self._cache or time.monotonic() - self._cache_at > 30:
                self._cache = self._measure_cache()
                self._cache_at = time.monotonic()
            return dict(self._cache)

    def _measure_cache(self) -> dict[str, Any]:
        from analysis.cache import default_cache_dir

        folder = self.config.cache_dir or default_cache_dir()
        total = count = 0
        if folder.is_dir():
            for root, _dirs, names in os.walk(folder):
                for name in names:
                    try:
                        total += os.stat(os.path.join(root, name), follow_symlinks=False).st_size
                        count += 1
                    except OSError:
                        continue
        return {"path": str(folder), "bytes": total, "files": count, "exists": folder.is_dir()}

    def snapshot(self) -> dict[str, Any]:
        return {"watch": self.watch(), "worker": self.worker(), "cache": self.cache()}


class WorkerCallError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def create_app(config: DashboardConfig) -> FastAPI:
    """The dashboard for ``config`` (see the module docstring for what it serves and who may see it)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    from dashboard.metrics import CacheCollector, WatchCollector

    state = State(config)
    registry = CollectorRegistry()
    if config.journal is not None:
        registry.register(WatchCollector(config.journal, config.outbox_dir))
    registry.register(CacheCollector(state.cache))
    app = FastAPI(title="Montage Bridge dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    session = session_value(config.token) if config.token else None

    @app.middleware("http")
    async def guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        if config.token is None:
            client = request.client.host if request.client else None
            if not is_loopback(client) or not is_loopback(_host_name(request.headers.get("host", ""))):
                return JSONResponse({"error": "this dashboard answers loopback only (start it with --token)"}, 403)
        else:
            supplied = request.query_params.get("token")
            if request.method == "GET" and request.url.path == "/" and supplied is not None:
                if not hmac.compare_digest(supplied.encode(), config.token.encode()):
                    return JSONResponse({"error": "wrong token"}, 401)
                redirect = RedirectResponse("/", 303)
                redirect.set_cookie(COOKIE, session or "", httponly=True, samesite="strict")
                return redirect
            cookie = request.cookies.get(COOKIE, "")
            bearer = request.headers.get("authorization", "")
            ok = bool(session) and hmac.compare_digest(cookie.encode(), (session or "").encode())
            ok = ok or hmac.compare_digest(bearer.encode(), f"Bearer {config.token}".encode())
            if not ok:
                return JSONResponse({"error": "open /?token=YOUR_TOKEN once, or send Authorization: Bearer"}, 401)
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            if request.headers.get(ACTION_HEADER) != "1" or (origin is not None and origin != own):
                return JSONResponse({"error": "actions come from the dashboard page only"}, 403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(
            DASHBOARD_HTML,
            headers={
                "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; "
                "script-src 'unsafe-inline'; frame-ancestors 'none'",
                "Cache-Control": "no-store",
            },
        )

    @app.get("/api/state")
    async def api_state() -> JSONResponse:
        return JSONResponse(await run_in_threadpool(state.snapshot), headers={"Cache-Control": "no-store"})

    @app.get("/api/events")
    async def api_events(request: Request) -> StreamingResponse:
        async def stream():  # type: ignore[no-untyped-def]
            last = None
            quiet_since = time.monotonic()
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                snap = await run_in_threadpool(state.snapshot)
                text = json.dumps(snap, sort_keys=True)
                if text != last:
                    last = text
                    quiet_since = time.monotonic()
                    yield f"event: state\ndata: {text}\n\n"
                elif time.monotonic() - quiet_since > config.heartbeat_seconds:
                    quiet_since = time.monotonic()
                    yield ": still here\n\n"
                await asyncio.sleep(config.poll_seconds)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.post("/api/watch/jobs/{name}/retry")
    def retry_watch(name: str) -> JSONResponse:
        if config.journal is None:
            return JSONResponse({"error": "no watch journal (start with --outbox or --journal)"}, 404)
        journal = Journal(config.journal, create=False)
        try:
            if journal.job(name) is None:
                return JSONResponse({"error": f"no job {name!r} in the journal"}, 404)
            failed, resolve = journal.retry(name), journal.retry_resolve(name)
        finally:
            journal.close()
        return JSONResponse({"retried": failed, "resolve_retried": resolve})

    @app.post("/api/worker/jobs/{job_id}/{action}")
    def worker_action(job_id: str, action: str) -> JSONResponse:
        if not config.worker_url:
            return JSONResponse({"error": "no GPU worker (start with --worker URL)"}, 404)
        if action not in ("cancel", "retry"):
            return JSONResponse({"error": f"unknown action {action!r}"}, 404)
        try:
            job = state.worker_call("POST", f"/v1/jobs/{quote(job_id, safe='')}/{action}")
        except WorkerCallError as exc:
            return JSONResponse({"error": f"worker: {exc}"}, 502 if exc.status >= 500 else exc.status)
        except Exception as exc:
            return JSONResponse({"error": f"worker unreachable: {exc.__class__.__name__}"}, 502)
        return JSONResponse(
            {"state": (job or {}).get("state"), "cancel_requested": (job or {}).get("cancel_requested")}
        )

    @app.get("/jobs/{name}/files/{filename}")
    def job_file(name: str, filename: str) -> Response:
        folder = state.job_folder(name)
        if folder is None or "/" in filename or "\\" in filename or filename.startswith("."):
            return JSONResponse({"error": "no such file"}, 404)
        path = folder / filename
        try:
            inside = path.resolve().parent == folder.resolve() and path.is_file()
        except OSError:
            inside = False
        if not inside:
            return JSONResponse({"error": "no such file"}, 404)
        if filename == "edit.html":
            return FileResponse(path, media_type="text/html", headers={"Content-Security-Policy": EDIT_PAGE_CSP})
        if filename.endswith(".png"):
            return FileResponse(path, media_type="image/png", headers={"Content-Security-Policy": FILE_CSP})
        if filename.endswith(".json"):
            return FileResponse(path, media_type="application/json", headers={"Content-Security-Policy": FILE_CSP})
        # Timelines (XML, EDL, OTIO) as text, never as a document that could run in this origin.
        return FileResponse(path, media_type="text/plain; charset=utf-8", headers={"Content-Security-Policy": FILE_CSP})

    @app.get("/metrics")
    def metrics() -> Response:
        state.cache(fresh=False)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    mount_production(app, config.production or ProductionSettings(), config.worker_url, config.worker_token)
    app.state.dashboard = state
    return app
