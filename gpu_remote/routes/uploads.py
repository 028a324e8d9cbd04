"""Resumable uploads (tus-style): ``POST /v1/uploads``, ``HEAD/GET/PATCH/DELETE /v1/uploads/{id}``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from gpu_remote.blobs import BlobError
from gpu_remote.models import UploadCreate, UploadStatus
from gpu_remote.routes.deps import worker_of

router = APIRouter()


def upload_headers(status: UploadStatus) -> dict[str, str]:
    headers = {"Upload-Offset": str(status.offset), "Upload-Length": str(status.size), "Cache-Control": "no-store"}
    if status.upload_id:
        headers["Location"] = f"/v1/uploads/{status.upload_id}"
    return headers


@router.post("/v1/uploads", response_model=UploadStatus)
def create_upload(body: UploadCreate, request: Request, response: Response) -> UploadStatus:
    worker = worker_of(request)
    status = worker.blobs.create_upload(body.sha256, body.size, body.filename, pinned=worker.store.pinned_blobs())
    response.status_code = 200 if status.complete else 201
    response.headers.update(upload_headers(status))
    return status


@router.head("/v1/uploads/{upload_id}")
def head_upload(upload_id: str, request: Request) -> Response:
    return Response(status_code=200, headers=upload_headers(worker_of(request).blobs.upload_status(upload_id)))


@router.get("/v1/uploads/{upload_id}", response_model=UploadStatus)
def get_upload(upload_id: str, request: Request, response: Response) -> UploadStatus:
    status = worker_of(request).blobs.upload_status(upload_id)
    response.headers.update(upload_headers(status))
    return status


@router.patch("/v1/uploads/{upload_id}")
async def patch_upload(upload_id: str, request: Request) -> Response:
    blobs = worker_of(request).blobs
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


@router.delete("/v1/uploads/{upload_id}")
def delete_upload(upload_id: str, request: Request) -> Response:
    worker_of(request).blobs.delete_upload(upload_id)
    return Response(status_code=204)
