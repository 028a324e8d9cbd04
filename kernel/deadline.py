"""A call with a wall-clock deadline that holds inside the call: an HTTP read timeout restarts on
every byte, so a server that drips its reply would otherwise hold a planner or a describer forever."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def call_before(
    deadline: float, call: Callable[..., Any], /, *, thread_name: str = "deadline-call", **kwargs: Any
) -> Any:
    """``call(**kwargs)`` in a daemon thread; its value, or its exception re-raised here, or
    ``TimeoutError`` when it is not done by ``deadline`` (a ``time.monotonic()`` value).

    The abandoned thread dies with the process (or when the server finally closes); it must hold no
    lock the caller needs."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = call(**kwargs)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=thread_name, daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box["value"]
