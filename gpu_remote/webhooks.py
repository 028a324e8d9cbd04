"""Webhooks: a signed POST to a job's ``webhook`` URL on every state change, retried with backoff.

The events table is the outbox: every state change is already a persisted ``state`` event with a
dense per-job ``seq``, and the ``webhooks`` table remembers, per job, the last seq delivered. The
gateway's dispatcher posts the next undelivered state event of each job in order; a failure
(no answer, or not 2xx) is retried after ``backoff_s`` × 1, 2, 4 … (at most ``backoff_max_s``),
``max_attempts`` times, then that event is given up (logged) and the next one goes. Whatever
process changed the state (a Celery worker on another machine), the gateway delivers it; a
delivery is claimed with a conditional UPDATE, so two gateways do not both send it.

Body: ``{"id": "<job>:<seq>", "job_id", "seq", "type": "state", "state", "at", "data"}``.
Headers: ``Webhook-Id`` (stable across retries), ``Webhook-Timestamp`` (UNIX seconds) and
``Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``; the receiver
recomputes it with the worker's webhook secret (``--webhook-secret`` / MONTAGE_WEBHOOK_SECRET)
and should reject old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from typing import Any

from gpu_remote.db import JobDatabase

log = logging.getLogger("montage_bridge.gpu_remote.webhooks")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(secret: str, headers: Any, body: bytes, *, max_age_s: float = 300.0) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    timestamp = headers.get("Webhook-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), headers.get("Webhook-Signature", ""))


class WebhookDispatcher:
    """Delivers state events of jobs that asked for a webhook (a thread in the gateway)."""

    def __init__(
        self,
        db: JobDatabase,
        secret: str,
        *,
        backoff_s: float = 1.0,
        backoff_max_s: float = 300.0,
        max_attempts: int = 8,
        timeout_s: float = 10.0,
        interval_s: float = 0.5,
    ) -> None:
        self.db = db
        self.secret = secret
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._session: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="gpu-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(self.timeout_s + 5)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while self.deliver_due() and not self._stop.is_set():
                    pass
            except Exception:  # the dispatcher must outlive a database hiccup
                log.exception("webhook pass failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def deliver_due(self, now: float | None = None) -> int:
        """Post the next undelivered state event of every job whose retry time has come; returns
        how many were delivered or given up (0: nothing to do now)."""
        now = time.time() if now is None else now
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT w.job_id, w.url, w.delivered_seq, w.attempts, e.seq, e.data_json, e.at "
                "FROM webhooks w JOIN events e ON e.job_id = w.job_id AND e.seq > w.delivered_seq "
                "AND e.type = 'state' WHERE w.next_at <= ? "
                "AND e.seq = (SELECT MIN(seq) FROM events WHERE job_id = w.job_id AND seq > w.delivered_seq "
                "AND type = 'state') LIMIT 100",
                (now,),
            ).fetchall()
        done = 0
        for row in rows:
            job_id, url, delivered, attempts, seq = row[0], row[1], row[2], row[3], row[4]
            lease_until = now + self.timeout_s + 5
            with self.db.connect() as conn:  # claim it: another gateway may be looking at it too
                cur = conn.execute(
                    "UPDATE webhooks SET next_at=? WHERE job_id=? AND delivered_seq=? AND next_at<=?",
                    (lease_until, job_id, delivered, now),
                )
            if cur.rowcount != 1:
                continue
            data = json.loads(row[5])
            error = self._post(url, job_id, seq, data, row[6])
            with self.db.connect() as conn:
                if error is None or attempts + 1 >= self.max_attempts:
                    if error is not None:
                        log.warning(
                            "webhook for job %s event %s given up after %s tries: %s", job_id, seq, attempts + 1, error
                        )
                    conn.execute(
                        "UPDATE webhooks SET delivered_seq=?, attempts=0, next_at=0, last_error=? WHERE job_id=?",
                        (seq, error, job_id),
                    )
                    done += 1
                else:
                    delay = min(self.backoff_max_s, self.backoff_s * 2**attempts)
                    conn.execute(
                        "UPDATE webhooks SET attempts=attempts+1, next_at=?, last_error=? WHERE job_id=?",
                        (time.time() + delay, error, job_id),
                    )
        return done

    def _post(self, url: str, job_id: str, seq: int, data: dict[str, Any], at: float) -> str | None:
        """POST one event; None on a 2xx answer, else why not."""
        import requests

        if self._session is None:
            self._session = requests.Session()
        body = json.dumps(
            {
                "id": f"{job_id}:{seq}",
                "job_id": job_id,
                "seq": seq,
                "type": "state",
                "state": data.get("state"),
                "at": at,
                "data": data,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "montage-bridge-worker",
            "Webhook-Id": f"{job_id}:{seq}",
            "Webhook-Timestamp": timestamp,
            "Webhook-Signature": sign(self.secret, timestamp, body),
        }
        try:
            answer = self._session.post(url, data=body, headers=headers, timeout=self.timeout_s, allow_redirects=False)
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}"
