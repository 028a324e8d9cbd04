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

No SSRF: the URL is checked when the job is created and, at every delivery, its host is resolved
once, every address checked, and the POST sent to that address (:func:`post_pinned`), so a DNS
rebind cannot point it into the worker's network (``gpu_remote/url_guard.py``). A refused target
gives the event up at once, the reason kept in ``webhooks.last_error``.
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
from gpu_remote.url_guard import Resolver, Target, UnsafeUrl, resolve_target, system_resolver

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
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
        ca_file: str | None = None,
    ) -> None:
        self.db = db
        self.secret = secret
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.interval_s = interval_s
        self.allow_private = allow_private
        self.resolver = resolver
        self.ca_file = ca_file  # CA bundle for https receivers; None: certifi's public CAs
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

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
            error, permanent = self._post(url, job_id, seq, data, row[6])
            with self.db.connect() as conn:
                if error is None or permanent or attempts + 1 >= self.max_attempts:
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

    def _post(self, url: str, job_id: str, seq: int, data: dict[str, Any], at: float) -> tuple[str | None, bool]:
        """POST one event: (None, _) on a 2xx answer, else (why not, whether retrying is pointless)."""
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
            target = resolve_target(url, allow_private=self.allow_private, resolver=self.resolver)
        except UnsafeUrl as exc:
            return f"refused: {exc}"[:500], True
        except (OSError, UnicodeError) as exc:
            return f"cannot resolve the webhook host: {exc}"[:500], False
        try:
            status = post_pinned(target, body, headers, self.timeout_s, ca_file=self.ca_file)
        except Exception as exc:  # noqa: BLE001 - urllib3 and socket errors alike: retried
            return f"{type(exc).__name__}: {exc}"[:500], False
        if 200 <= status < 300:
            return None, False
        return f"HTTP {status}", False


def post_pinned(
    target: Target, body: bytes, headers: dict[str, str], timeout_s: float, *, ca_file: str | None = None
) -> int:
    """POST ``body`` to the checked addresses of ``target`` (the first that accepts a connection; no
    second name lookup), presenting ``target.host`` as the Host header and, for https, as the TLS
    server name whose certificate must verify (against ``ca_file``, else certifi's public CAs); no
    redirects, no proxy. Returns the HTTP status."""
    import urllib3
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
    default_port = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    ca_certs: str | None = ca_file
    if target.scheme == "https" and ca_certs is None:
        try:
            import certifi

            ca_certs = certifi.where()
        except ImportError:  # pragma: no cover - requests brings certifi
            pass
    last: Exception | None = None
    for address in target.addresses:
        pool: urllib3.HTTPConnectionPool
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                target.port,
                timeout=timeout,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                ca_certs=ca_certs,
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)
        try:
            answer = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "Host": host_header},
                redirect=False,
                preload_content=False,
            )
            status = answer.status
            answer.close()
            return status
        except (NewConnectionError, ConnectTimeoutError) as exc:  # not reachable there: the next address
            last = exc
        finally:
            pool.close()
    raise last if last is not None else OSError(f"{target.host} has no address to connect to")
