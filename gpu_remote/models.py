"""Pydantic payloads of the worker protocol (research/gpu_worker.md §4): jobs, blobs, events.

Everything that crosses the HTTP boundary is one of these models, validated on both sides.
Times are UNIX seconds (float); sizes are bytes; progress fractions are 0..1.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# \A...\Z, not ^...$: "$" also matches before a trailing newline, so "id\n" would pass.
SHA256_RE = re.compile(r"\A[0-9a-f]{64}\Z")


def _check_sha256(value: str) -> str:
    if not SHA256_RE.match(value):
        raise ValueError("sha256 must be 64 lowercase hex digits")
    return value


Sha256 = Annotated[str, AfterValidator(_check_sha256)]
"""A content address: 64 lowercase hex digits, checked wherever one crosses the wire."""
# Job ids are client-chosen (UUID, ULID, base32 ...); this alphabet keeps them safe in URLs and paths.
JOB_ID_RE = re.compile(r"\A[A-Za-z0-9_-]{8,64}\Z")
UPLOAD_ID_RE = re.compile(r"\A[0-9a-f]{32}\Z")
# A PUT's ``Submit-Token`` header: one per submission, the same on each resend of that request.
SUBMIT_TOKEN_RE = re.compile(r"\A[A-Za-z0-9_-]{8,64}\Z")


class _Wire(BaseModel):
    # Validators are built on a model's first use, not at import: a client process that uploads a
    # file uses two of these models, and building all of them cost ~50 ms of its start-up.
    model_config = ConfigDict(defer_build=True)


class JobState(str, Enum):
    """Lifecycle: queued → running → succeeded | failed | canceled (terminal states never change)."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.succeeded, JobState.failed, JobState.canceled)


class BlobRef(_Wire):
    """A content-addressed input: the worker must hold a blob with this sha256 before the job is accepted."""

    model_config = ConfigDict(extra="forbid")

    sha256: Sha256
    size: int = Field(ge=0, description="bytes")
    mime: str = "application/octet-stream"
    filename: str | None = Field(default=None, max_length=255, description="informational only, never a path")


class JobSpec(_Wire):
    """Body of ``PUT /v1/jobs/{id}``. Two PUTs with equal specs are the same request (idempotent)."""

    model_config = ConfigDict(extra="forbid")

    op: str = Field(max_length=64)
    op_version: str | None = Field(default=None, description="None = whatever the worker runs; else must match")
    inputs: dict[str, BlobRef] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=-100, le=100, description="higher runs first")
    timeout_s: float = Field(default=3600.0, gt=0, le=7 * 24 * 3600, description="seconds of run time allowed")
    ttl_s: float = Field(default=7 * 24 * 3600.0, gt=0, le=90 * 24 * 3600, description="seconds outputs are kept")
    labels: dict[str, str] = Field(default_factory=dict, description="opaque to the worker")
    webhook: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^https?://",
        description="URL that gets an HMAC-signed POST on every state change (gpu_remote/webhooks.py)",
    )


class Progress(_Wire):
    fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    stage: str = ""
    done: float | None = None
    total: float | None = None
    eta_s: float | None = None


class JobErrorInfo(_Wire):
    code: str
    message: str
    retryable: bool = False


class OutputRef(_Wire):
    name: str
    sha256: Sha256
    size: int
    mime: str = "application/octet-stream"
    url: str


class QueueInfo(_Wire):
    """Where a queued job stands (``GET /v1/jobs``): what runs before it, on how many slots."""

    ahead: int = Field(description="queued jobs of the same route that run before this one (priority, then age)")
    running: int = Field(default=0, description="jobs running now on the workers that serve this route")
    slots: int = Field(default=0, description="slots of the live workers that serve this route")
    starts_in_s: float | None = Field(default=None, description="estimated seconds until it starts; None: unknown")
    reason: str | None = Field(default=None, description="what holds it besides the queue (no worker, retry wait)")


class Job(_Wire):
    """What ``GET /v1/jobs/{id}`` returns."""

    id: str
    op: str
    op_version: str
    state: JobState
    progress: Progress = Field(default_factory=Progress)
    attempt: int = 0
    cancel_requested: bool = False
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float
    fingerprint: str
    cache_hit: bool = False
    outputs: list[OutputRef] = Field(default_factory=list)
    result: dict[str, Any] = Field(default_factory=dict, description="op-specific small JSON result")
    error: JobErrorInfo | None = None
    last_event_seq: int = 0
    labels: dict[str, str] = Field(default_factory=dict)
    route: str | None = Field(default=None, description="the queue this job goes to (op and model)")
    not_before: float | None = Field(default=None, description="queued for an automatic retry: not run before this")
    queue: QueueInfo | None = Field(default=None, description="queued jobs: position, slots, estimated start")


class JobList(_Wire):
    jobs: list[Job]


class Event(_Wire):
    """One progress/state event; ``seq`` increases per job and is the SSE ``id:``."""

    job_id: str
    seq: int
    type: str  # state | progress | log | output | completed
    data: dict[str, Any]
    at: float


class UploadCreate(_Wire):
    """Body of ``POST /v1/uploads``: announce a blob of ``size`` bytes with this sha256."""

    model_config = ConfigDict(extra="forbid")

    sha256: Sha256
    size: int = Field(ge=0)
    filename: str | None = Field(default=None, max_length=255)


class UploadStatus(_Wire):
    upload_id: str | None
    sha256: Sha256
    size: int
    offset: int
    complete: bool


class OpInfo(_Wire):
    name: str
    version: str
    description: str
    params_schema: dict[str, Any]
    inputs: list[str]
    backend: str = Field(description="what actually runs it here, e.g. 'ffmpeg vid.stab (CPU)'")


class Limits(_Wire):
    max_upload_bytes: int
    max_queued_jobs: int
    disk_budget_bytes: int
    chunk_bytes_hint: int


class Capabilities(_Wire):
    server_version: str
    ops: list[OpInfo]
    gpus: list[dict[str, Any]]
    cpu_count: int
    limits: Limits
    queue_depth: int
    backend: str = Field(description="'embedded' (SQLite runner in-process) or 'celery'")


class Health(_Wire):
    status: str  # ready | busy | degraded
    queued: int
    running: int
    workers: int = Field(default=0, description="live workers (that heartbeated recently)")
    free_slots: int = Field(default=0, description="jobs the live workers could start now")
    broker: str | None = Field(default=None, description="celery backend: ok | unreachable")
    problems: list[str] = Field(default_factory=list, description="why the status is degraded, one line each")


class WorkerInfo(_Wire):
    """One live worker as it registered itself: what it can run and what it is doing."""

    name: str
    kind: str = "embedded"
    host: str
    pid: int
    routes: list[str]
    ops: list[str]
    models: dict[str, str] = Field(default_factory=dict)
    gpus: list[dict[str, Any]] = Field(default_factory=list)
    slots: int
    free_slots: int
    running: list[str] = Field(default_factory=list)
    started_at: float
    heartbeat_age_s: float


class WorkerList(_Wire):
    workers: list[WorkerInfo]
