"""Workers register what they can run and heartbeat; the gateway lists the live ones.

A row per worker name in the job database (``workers``): its description (routes, ops, models,
GPUs, free slots, running jobs) and the time of its last heartbeat. A worker is live while its
heartbeat is younger than ``stale_s``; a worker that stops cleanly removes its row, one that dies
simply goes stale.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from gpu_remote.db import JobDatabase

HEARTBEAT_S = 2.0
STALE_S = 3 * HEARTBEAT_S


class Registry:
    def __init__(self, db: JobDatabase) -> None:
        self.db = db

    def beat(self, name: str, info: dict[str, Any]) -> None:
        now = time.time()
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO workers(name,info_json,started_at,heartbeat_at) VALUES(?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET info_json=excluded.info_json, heartbeat_at=excluded.heartbeat_at",
                (name, json.dumps(info, sort_keys=True), now, now),
            )

    def remove(self, name: str) -> None:
        with self.db.connect() as conn:
            conn.execute("DELETE FROM workers WHERE name=?", (name,))

    def live(self, *, stale_s: float = STALE_S, now: float | None = None) -> list[dict[str, Any]]:
        """Workers that heartbeated within ``stale_s`` seconds, each with ``heartbeat_age_s``."""
        now = time.time() if now is None else now
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT name,info_json,started_at,heartbeat_at FROM workers WHERE heartbeat_at>=? ORDER BY name",
                (now - stale_s,),
            ).fetchall()
        return [
            {
                **json.loads(r["info_json"]),
                "name": r["name"],
                "started_at": r["started_at"],
                "heartbeat_age_s": round(max(0.0, now - r["heartbeat_at"]), 3),
            }
            for r in rows
        ]

    def prune(self, *, older_than_s: float = 24 * 3600.0) -> None:
        with self.db.connect() as conn:
            conn.execute("DELETE FROM workers WHERE heartbeat_at<?", (time.time() - older_than_s,))


class Heartbeat:
    """A thread that re-registers ``name`` with ``describe()`` every ``interval_s`` until stopped."""

    def __init__(
        self, registry: Registry, name: str, describe: Callable[[], dict[str, Any]], interval_s: float = HEARTBEAT_S
    ) -> None:
        self.registry = registry
        self.name = name
        self.describe = describe
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{name}", daemon=True)

    def start(self) -> None:
        self.registry.beat(self.name, self.describe())
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.registry.beat(self.name, self.describe())
            except Exception:  # noqa: BLE001 - a locked or unreachable database: try again next beat
                continue

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        try:
            self.registry.remove(self.name)
        except Exception:  # noqa: BLE001 - the row goes stale on its own
            pass
