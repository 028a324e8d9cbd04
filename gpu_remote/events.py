"""Progress events over Server-Sent Events, with replay from the persisted ``events`` table.

``id:`` of each SSE message is the event's per-job ``seq``; a client reconnecting with
``Last-Event-ID: n`` (or ``?after=n``) gets every event after n, then live ones, until the
``completed`` event. A comment line every 15 s keeps proxies from closing an idle stream.

Streams in the process that writes the events (the embedded runner) are woken by the store's
:class:`EventBell` as soon as a transaction with events commits; writers in other processes
(Celery workers, another gateway) are seen by the poll every ``POLL_S``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from gpu_remote.models import Event

if TYPE_CHECKING:
    from gpu_remote.store import JobStore

KEEPALIVE_S = 15.0
POLL_S = 0.05  # a read of an indexed SQLite row; bounds the latency of events written by other processes


class EventBell:
    """Rung after a transaction that added events commits; event-loop tasks await the next ring.

    ``version`` counts rings: a reader notes it before reading the events table and waits only if
    no ring came since, so an event committed between the read and the wait is not missed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.version = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = set()

    def ring(self) -> None:
        with self._lock:
            self.version += 1
            waiters, self._waiters = self._waiters, set()
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, fut)
            except RuntimeError:  # that loop is closed
                pass

    async def wait(self, seen: int, timeout: float) -> None:
        """Until a ring after version ``seen``, or ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        key = (loop, fut)
        with self._lock:
            if self.version != seen:
                return
            self._waiters.add(key)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(key)


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


async def _pause(store: JobStore, seen: int) -> None:
    bell = getattr(store, "bell", None)
    if bell is None:
        await asyncio.sleep(POLL_S)
    else:
        await bell.wait(seen, POLL_S)


def _version(store: JobStore) -> int:
    bell = getattr(store, "bell", None)
    return bell.version if bell is not None else 0


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
        seen = _version(store)
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
        await _pause(store, seen)


async def long_poll(store: JobStore, job_id: str, after: int, wait_s: float) -> list[Event]:
    """Events after ``after``; if none yet, wait up to ``wait_s`` seconds for some."""
    deadline = time.monotonic() + wait_s
    while True:
        seen = _version(store)
        events = await run_in_threadpool(store.events_after, job_id, after)
        if events or time.monotonic() >= deadline:
            return events
        await _pause(store, seen)
