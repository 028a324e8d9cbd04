"""Progress events over Server-Sent Events, with replay from the persisted ``events`` table.

``id:`` of each SSE message is the event's per-job ``seq``; a client reconnecting with
``Last-Event-ID: n`` (or ``?after=n``) gets every event after n, then live ones, until the
``completed`` event. A comment line every 15 s keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool

from gpu_remote.models import Event
from gpu_remote.store import JobStore

KEEPALIVE_S = 15.0
POLL_S = 0.05  # a read of an indexed SQLite row; cheap enough to keep event latency low


def format_sse(event: Event) -> str:
    data = json.dumps({"seq": event.seq, "type": event.type, "at": event.at, "data": event.data})
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n"


async def sse_stream(
    store: JobStore, job_id: str, after: int, is_disconnected: Callable[[], object]
) -> AsyncIterator[str]:
    """Yield SSE messages for ``job_id`` after ``after`` until completion or disconnect."""
    last = after
    last_sent = time.monotonic()
    while True:
        events = await run_in_threadpool(store.events_after, job_id, last)
        for event in events:
            last = event.seq
            last_sent = time.monotonic()
            yield format_sse(event)
            if event.type == "completed":
                return
        if await is_disconnected():  # type: ignore[misc]
            return
        if time.monotonic() - last_sent > KEEPALIVE_S:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_S)


async def long_poll(store: JobStore, job_id: str, after: int, wait_s: float) -> list[Event]:
    """Events after ``after``; if none yet, wait up to ``wait_s`` seconds for some."""
    deadline = time.monotonic() + wait_s
    while True:
        events = await run_in_threadpool(store.events_after, job_id, after)
        if events or time.monotonic() >= deadline:
            return events
        await asyncio.sleep(POLL_S)
