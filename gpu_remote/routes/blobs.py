"""Content-addressed blobs: ``HEAD/GET /v1/blobs/{sha256}`` (``Range`` → 206)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from gpu_remote.routes.deps import READ_CHUNK, worker_of

router = APIRouter()

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
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


def iter_file(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = handle.read(min(READ_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


@router.head("/v1/blobs/{sha256}")
def head_blob(sha256: str, request: Request) -> Response:
    blobs = worker_of(request).blobs
    if not blobs.has(sha256):
        return Response(status_code=404)
    size = blobs.size(sha256)
    return Response(
        status_code=200,
        headers={"Content-Length": str(size), "ETag": f'"{sha256}"', "Accept-Ranges": "bytes"},
    )


@router.get("/v1/blobs/{sha256}")
def get_blob(sha256: str, request: Request) -> Response:
    blobs = worker_of(request).blobs
    path = blobs.fetch(sha256)  # 404 if absent; with a shared store (S3) fetched into this machine's cache
    size = path.stat().st_size
    blobs.touch(sha256)
    headers = {"ETag": f'"{sha256}"', "Accept-Ranges": "bytes"}
    range_header = request.headers.get("range")
    if range_header:
        span = parse_range(range_header, size)
        if span is None:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        start, end = span
        headers.update({"Content-Range": f"bytes {start}-{end - 1}/{size}", "Content-Length": str(end - start)})
        return StreamingResponse(
            iter_file(path, start, end), status_code=206, headers=headers, media_type="application/octet-stream"
        )
    headers["Content-Length"] = str(size)
    return StreamingResponse(iter_file(path, 0, size), headers=headers, media_type="application/octet-stream")
