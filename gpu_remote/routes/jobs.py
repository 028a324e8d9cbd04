"""Jobs: create (idempotent PUT), list, get, cancel, retry, delete, and the event stream."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from gpu_remote.errors import BrokerUnavailable
from gpu_remote.events import long_poll, sse_stream
from gpu_remote.models import SUBMIT_TOKEN_RE, Job, JobList, JobSpec
from gpu_remote.ops import OPS
from gpu_remote.queue_eta import annotate_queued
from gpu_remote.routes.deps import MAX_JSON_BODY, base_url, check_job_id, error_response, worker_of
from gpu_remote.routing import route_for
from gpu_remote.store import StoreError
from gpu_remote.url_guard import UnsafeUrl, check_url

router = APIRouter()


def _job(request: Request, job_id: str) -> Job:
    """The job, with its queue position and estimated times when it is queued."""
    worker = worker_of(request)
    job = worker.store.get(job_id, base_url(request))
    return annotate_queued(worker.store, worker.registry, [job])[0]


@router.put("/v1/jobs/{job_id}", response_model=Job)
async def put_job(job_id: str, request: Request, response: Response) -> Job:
    worker = worker_of(request)
    store, blobs = worker.store, worker.blobs
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
    if spec.webhook:
        try:
            await run_in_threadpool(check_url, spec.webhook, allow_private=worker.config.webhook_allow_private)
        except UnsafeUrl as exc:
            raise StoreError(f"invalid webhook: {exc}", 422) from exc

    token = request.headers.get("submit-token")
    if token is not None and not SUBMIT_TOKEN_RE.match(token):
        raise StoreError("Submit-Token must be 8 to 64 letters, digits, '-' or '_'", 400)

    def create() -> tuple[Job, bool]:
        missing = [ref.sha256 for ref in spec.inputs.values() if not blobs.has(ref.sha256)]
        job, created = store.put(
            job_id, spec, op.version, params, missing=missing, route=route_for(op.name, params), submit_token=token
        )
        if job.state.value == "queued":
            # Publish now (also on a repeated PUT of a job still unsent). If the broker is down
            # the job stays saved and the re-publisher sends it when the broker returns.
            worker.dispatcher.notify(job_id)
        return job, created

    try:
        job, created = await run_in_threadpool(create)
    except BrokerUnavailable as exc:
        job = store.get(job_id, base_url(request))
        return error_response(  # type: ignore[return-value]
            503, f"{exc}; job {job_id} is saved: repeat the request", job=job.model_dump(mode="json")
        )
    response.status_code = 201 if created else 200
    return await run_in_threadpool(_job, request, job_id)


@router.get("/v1/jobs", response_model=JobList)
def list_jobs(
    request: Request,
    ids: str | None = Query(default=None, description="comma-separated job ids"),
    updated_since: float | None = None,
    limit: int = Query(default=500, ge=1, le=5000),
) -> JobList:
    wanted = [check_job_id(i) for i in ids.split(",") if i] if ids else None
    worker = worker_of(request)
    jobs = worker.store.list_jobs(wanted, updated_since, limit, base_url(request))
    return JobList(jobs=annotate_queued(worker.store, worker.registry, jobs))


@router.get("/v1/jobs/{job_id}", response_model=Job)
def get_job(job_id: str, request: Request) -> Job:
    return _job(request, check_job_id(job_id))


@router.post("/v1/jobs/{job_id}/cancel", response_model=Job)
def cancel_job(job_id: str, request: Request) -> Job:
    store = worker_of(request).store
    store.request_cancel(check_job_id(job_id))
    return _job(request, job_id)


@router.post("/v1/jobs/{job_id}/retry", response_model=Job)
def retry_job(job_id: str, request: Request, force: bool = False) -> Job:
    worker = worker_of(request)
    worker.store.retry(check_job_id(job_id), force=force)
    try:
        worker.dispatcher.notify(job_id)
    except BrokerUnavailable:
        worker.dispatcher.wake()  # saved as queued: the re-publisher sends it when it can
    return _job(request, job_id)


@router.delete("/v1/jobs/{job_id}")
def delete_job(job_id: str, request: Request) -> Response:
    worker_of(request).store.delete(check_job_id(job_id))
    return Response(status_code=204)


@router.get("/v1/jobs/{job_id}/events")
async def job_events(
    job_id: str,
    request: Request,
    after: int = Query(default=0, ge=0),
    wait: float = Query(default=0.0, ge=0.0, le=30.0),
) -> Response:
    store = worker_of(request).store
    check_job_id(job_id)
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
