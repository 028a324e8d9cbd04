"""The worker's front door: check the bearer token and the body size before any byte of a body is read.

FastAPI reads and validates a request body *before* it runs route dependencies, so a token check
written as a dependency lets an unauthenticated client make the worker buffer and parse whatever it
sends (a 400 MB POST grew the worker by 800 MB and was answered 422, not 401). This plain ASGI
middleware runs first: a request without the right token is answered 401 without reading its body,
and every route has a body cap that is enforced on ``Content-Length`` up front and on the bytes that
actually arrive (chunked bodies carry no length).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from gpu_remote.auth import TokenAuth

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SMALL_BODY = 64 << 10
"""Cap (bytes) for every route that takes no body or a small JSON one (upload creation)."""

_UPLOAD_PATCH = re.compile(r"\A/v1/uploads/[^/]+\Z")
_JOB_PUT = re.compile(r"\A/v1/jobs/[^/]+\Z")


def body_cap(method: str, path: str, *, job_body: int, upload_chunk: int) -> int:
    """The most body bytes a request to ``method path`` may carry."""
    if method == "PATCH" and _UPLOAD_PATCH.match(path):
        return upload_chunk
    if method == "PUT" and _JOB_PUT.match(path):
        return job_body
    return SMALL_BODY


async def _reply(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": {"status": status, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="montage-bridge-worker"'))
    # The unread body stays on the socket: ask the server to close the connection after this reply.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGate:
    """ASGI middleware: 401 before the body, 413 past the route's cap (declared or streamed)."""

    def __init__(self, app: ASGIApp, auth: TokenAuth, *, job_body: int, upload_chunk: int) -> None:
        self.app = app
        self.auth = auth
        self.job_body = job_body
        self.upload_chunk = upload_chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not self.auth.check_header(headers.get("authorization")):
            await _reply(send, 401, "missing or wrong bearer token")
            return
        cap = body_cap(scope["method"], scope["path"], job_body=self.job_body, upload_chunk=self.upload_chunk)
        declared = headers.get("content-length", "")
        if declared and (not declared.isdigit() or int(declared) > cap):
            await _reply(send, 413, f"request body over {cap} bytes for {scope['method']} {scope['path']}")
            return

        received = 0
        overflowed = False
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received, overflowed
            if overflowed:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    overflowed = True
                    if not response_started:
                        await _reply(send, 413, f"request body over {cap} bytes for {scope['method']} {scope['path']}")
                    # The route sees a disconnect, exactly as if the client had gone away.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if overflowed:
                return  # our 413 already answered this request
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if overflowed:
                return  # the route tripped over the disconnect we fed it; the client has its 413
            raise
