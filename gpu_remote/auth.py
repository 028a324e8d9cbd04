"""Bearer-token auth: a 256-bit token made on first start; only a salted hash is kept on disk.

The worker prints the token once when it creates it. Requests carry ``Authorization: Bearer
<token>``; the salted hash of what they send is compared with ``hmac.compare_digest`` (constant
time). ``auth.json`` is always mode 0600, whether the token was generated or pinned. The salt is
per file, so a stolen ``auth.json`` cannot be matched against precomputed hashes of common tokens;
files written by older versions (an unsalted ``sha256``) are still read and rewritten salted.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from pathlib import Path

from gpu_remote.errors import WorkerConfigError
from kernel.atomic_io import write_text_atomic

TOKEN_FILE = "auth.json"
TOKEN_ENV = "MONTAGE_WORKER_TOKEN"


def _hash(token: str, salt: bytes) -> str:
    return hmac.new(salt, token.encode("utf-8"), hashlib.sha256).hexdigest()


def _legacy_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _write_token_file(path: Path, token: str) -> TokenAuth:
    salt = secrets.token_bytes(16)
    digest = _hash(token, salt)
    record = {"scheme": "hmac-sha256", "salt": salt.hex(), "hash": digest}
    write_text_atomic(path, json.dumps(record), permissions=0o600)
    return TokenAuth(digest, salt)


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

    def __init__(self, token_hash: str | None, salt: bytes | None = None) -> None:
        self.token_hash = token_hash
        self.salt = salt  # None: a legacy unsalted sha256

    def _digest(self, token: str) -> str:
        return _hash(token, self.salt) if self.salt is not None else _legacy_hash(token)

    @property
    def enabled(self) -> bool:
        return self.token_hash is not None

    def check_header(self, header: str | None) -> bool:
        """True if ``header`` is ``Bearer <token>`` for our token (or auth is disabled on loopback)."""
        if self.token_hash is None:
            return True
        if not header or not header.startswith("Bearer "):
            # Still compare something so a missing header costs the same as a wrong one.
            hmac.compare_digest(self.token_hash, self._digest(""))
            return False
        return hmac.compare_digest(self.token_hash, self._digest(header[len("Bearer ") :].strip()))


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
        return _write_token_file(path, pinned), None
    if path.is_file() and not rotate:
        try:
            record = json.loads(path.read_text())
            if "sha256" in record:  # written by an older version: unsalted
                auth = TokenAuth(str(record["sha256"]))
            else:
                auth = TokenAuth(str(record["hash"]), bytes.fromhex(record["salt"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WorkerConfigError(f"{path} is damaged: delete it to create a new token") from exc
        # An older version, or a hand copy, may have left it readable by others.
        os.chmod(path, 0o600)
        return auth, None
    token = secrets.token_urlsafe(32)  # 256 bits
    return _write_token_file(path, token), token


def check_bind(host: str, auth: TokenAuth) -> None:
    """Refuse to listen beyond loopback without a token (ComfyUI's open-port lesson)."""
    if not auth.enabled and not is_loopback(host):
        raise WorkerConfigError(f"refusing to listen on {host} without a token: drop --no-auth or bind 127.0.0.1")
