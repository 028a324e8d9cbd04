"""What every router shares: the serving worker (``app.state.worker``), error bodies, job ids."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse

from gpu_remote.models import JOB_ID_RE
from gpu_remote.store import StoreError

if TYPE_CHECKING:
    from gpu_remote.server import Worker

MAX_JSON_BODY = 1 << 20  # job bodies are small JSON; media goes through /v1/uploads
CHUNK_HINT = 16 << 20
READ_CHUNK = 1 << 20


def worker_of(request: Request) -> Worker:
    """The worker this app serves (set by ``create_app``)."""
    return request.app.state.worker  # type: ignore[no-any-return]


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status in (429, 503):
        headers = {"Retry-After": "5"}
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def check_job_id(job_id: str) -> str:
    if not JOB_ID_RE.match(job_id):
        raise StoreError("job id must be 8-64 characters of A-Z a-z 0-9 _ -", 400)
    return job_id
