"""A local OpenAI-compatible chat-completions server for LLM planner tests (real sockets).

``FakeLLMServer(responder)`` listens on 127.0.0.1 on a free port; ``responder(task, body)``
returns a :class:`Answer` for each POST to ``/v1/chat/completions``. ``task`` is the first line of
the last user message (the planner starts every prompt with ``Task: ...``); a message whose content
is a list of parts (text and ``image_url``, as vision requests send) reads its text parts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    content: str | None = None  # assistant message text
    status: int = 200
    finish_reason: str = "stop"
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    raw: bytes | None = None  # send these bytes as the body instead of a completion
    no_choices: bool = False
    drip: float = 0.0  # seconds between body bytes (a server that never times out a read)


def completion(answer: Answer) -> dict:
    choices = (
        []
        if answer.no_choices
        else [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.content},
                "finish_reason": answer.finish_reason,
            }
        ]
    )
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": choices,
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


Responder = Callable[[str, dict], Answer]


def message_text(content: object) -> str:
    """A message's text: the string itself, or its ``text`` parts joined (vision requests)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def message_images(content: object) -> list[str]:
    """The ``image_url`` URLs of a message (data URIs in vision requests)."""
    if not isinstance(content, list):
        return []
    return [
        p["image_url"]["url"]
        for p in content
        if isinstance(p, dict) and p.get("type") == "image_url" and isinstance(p.get("image_url"), dict)
    ]


class FakeLLMServer:
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(body)
                users = [m for m in body.get("messages", []) if m.get("role") == "user"]
                task = (message_text(users[-1]["content"]).splitlines() or [""])[0] if users else ""
                answer = server.responder(task, body)
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.raw is not None:
                    payload, kind = answer.raw, "text/html"
                elif answer.status != 200:
                    payload = json.dumps({"error": {"message": "test error", "type": "invalid_request_error"}}).encode()
                    kind = "application/json"
                else:
                    payload, kind = json.dumps(completion(answer)).encode(), "application/json"
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if answer.drip:
                        for byte in payload:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(answer.drip)
                    else:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeLLMServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def tasks(self) -> list[str]:
        out = []
        for body in self.requests:
            users = [m for m in body.get("messages", []) if m.get("role") == "user"]
            out.append((message_text(users[-1]["content"]).splitlines() or [""])[0] if users else "")
        return out
