"""Bearer-token auth: a 256-bit token made on first start; only its sha256 is kept on disk.

The worker prints the token once when it creates it. Requests carry ``Authorization: Bearer
<token>``; the hash of what they send is compared with ``hmac.compare_digest`` (constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from pathlib import Path

from analysis.atomic_io import write_text_atomic
from gpu_remote.errors import WorkerConfigError

TOKEN_FILE = "auth.json"
TOKEN_ENV = "MONTAGE_WORKER_TOKEN"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost' (the only addresses allowed without a token)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class TokenAuth:
    """Holds the token hash and checks presented headers against it."""

    def __init__(self, token_hash: str | None) -> None:
        self.token_hash = token_hash

    @property
    def enabled(self) -> bool:
        return self.token_hash is not None

    def check_header(self, header: str | None) -> bool:
        """True if ``header`` is ``Bearer <token>`` for our token (or auth is disabled on loopback)."""
        if self.token_hash is None:
            return True
        if not header or not header.startswith("Bearer "):
            # Still compare something so a missing header costs the same as a wrong one.
            hmac.compare_digest(self.token_hash, _hash(""))
            return False
        return hmac.compare_digest(self.token_hash, _hash(header[len("Bearer ") :].strip()))


def load_or_create_token(data_dir: Path, *, rotate: bool = False) -> tuple[TokenAuth, str | None]:
    """Return the auth checker and, only when a token was just created, the token to show once.

    ``MONTAGE_WORKER_TOKEN`` (if set) becomes the token (its hash replaces the stored one), which is
    how a deployment or a test pins a known token.
    """
    path = data_dir / TOKEN_FILE
    pinned = os.environ.get(TOKEN_ENV)
    if pinned:
        if len(pinned) < 16:
            raise WorkerConfigError(f"{TOKEN_ENV} is shorter than 16 characters: use a long random token")
        write_text_atomic(path, json.dumps({"sha256": _hash(pinned)}))
        return TokenAuth(_hash(pinned)), None
    if path.is_file() and not rotate:
        try:
            stored = json.loads(path.read_text())["sha256"]
        except (ValueError, KeyError, TypeError) as exc:
            raise WorkerConfigError(f"{path} is damaged: delete it to create a new token") from exc
        return TokenAuth(str(stored)), None
    token = secrets.token_urlsafe(32)  # 256 bits
    write_text_atomic(path, json.dumps({"sha256": _hash(token)}))
    os.chmod(path, 0o600)
    return TokenAuth(_hash(token)), token


def check_bind(host: str, auth: TokenAuth) -> None:
    """Refuse to listen beyond loopback without a token (ComfyUI's open-port lesson)."""
    if not auth.enabled and not is_loopback(host):
        raise WorkerConfigError(f"refusing to listen on {host} without a token: drop --no-auth or bind 127.0.0.1")
