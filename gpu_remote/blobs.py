"""Content-addressed blob store (sha256) with resumable, offset-based uploads.

Layout under the data folder: ``blobs/ab/<sha256>`` for accepted blobs and
``uploads/<upload_id>`` for partial ones. Names on disk are only ever built from a validated
64-hex sha256 or 32-hex upload id, never from anything else a client sends, so no request can
reach outside these folders. An upload is promoted to a blob only once its bytes hash to the
announced sha256.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import queue
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gpu_remote.db import JobDatabase
from gpu_remote.errors import GpuRemoteError
from gpu_remote.models import SHA256_RE, UPLOAD_ID_RE, UploadStatus

HASH_CHUNK = 1 << 20
SINK_BLOCK = 1 << 20  # received bytes handed to the writing thread at a time
SINK_BACKLOG = 32 << 20  # bytes received but not yet stored before the event loop stops reading


class BlobError(GpuRemoteError):
    """A blob or upload request that cannot be honoured; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def sha256_file(path: Path) -> str:
    """sha256 hex of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha(sha256: str) -> str:
    if not SHA256_RE.match(sha256):
        raise BlobError("blob id must be a lowercase sha256 hex digest", 400)
    return sha256


def _check_upload_id(upload_id: str) -> str:
    if not UPLOAD_ID_RE.match(upload_id):
        raise BlobError("upload id must be 32 lowercase hex digits", 400)
    return upload_id


class BlobStore:
    """Blobs and partial uploads under ``root``; metadata in ``db``."""

    def __init__(self, root: Path, db: JobDatabase, *, max_upload_bytes: int, disk_budget_bytes: int) -> None:
        self.root = root
        self.db = db
        self.max_upload_bytes = max_upload_bytes
        self.disk_budget_bytes = disk_budget_bytes
        for sub in ("blobs", "uploads", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(root / sub, 0o700)
        # upload id → (offset, running sha256) so consecutive PATCHes never re-read what arrived.
        self._hashers: dict[str, tuple[int, Any]] = {}
        self._hash_lock = threading.Lock()
        self._busy: set[str] = set()  # uploads with a PATCH in flight (one writer per upload)

    # -- blobs ------------------------------------------------------------------------------

    def path(self, sha256: str) -> Path:
        sha = _check_sha(sha256)
        return self.root / "blobs" / sha[:2] / sha

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def touch(self, sha256: str) -> None:
        """Mark a blob used now (LRU eviction spares recently used blobs)."""
        with self.db.connect() as conn:
            conn.execute("UPDATE blobs SET last_used=? WHERE sha256=?", (time.time(), sha256))

    def add_file(self, src: Path, *, move: bool = True) -> tuple[str, int]:
        """Import a local file (an op's output) as a blob; returns (sha256, size)."""
        sha = sha256_file(src)
        size = src.stat().st_size
        self._promote(src, sha, size, move=move)
        return sha, size

    def _promote(self, src: Path, sha: str, size: int, *, move: bool) -> None:
        dest = self.path(sha)
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not dest.is_file():
            if move:
                os.chmod(src, 0o600)
                os.replace(src, dest)
            else:
                tmp = self.root / "tmp" / f"{sha}.{secrets.token_hex(4)}"
                shutil.copyfile(src, tmp)
                os.chmod(tmp, 0o600)
                os.replace(tmp, dest)
        elif move:
            src.unlink(missing_ok=True)
        now = time.time()
        with self.db.connect() as conn:
            conn.execute(
                "INSERT INTO blobs(sha256,size,created_at,last_used) VALUES(?,?,?,?) "
                "ON CONFLICT(sha256) DO UPDATE SET last_used=excluded.last_used",
                (sha, size, now, now),
            )

    def usage_bytes(self) -> int:
        with self.db.connect() as conn:
            row = conn.execute("SELECT COALESCE(SUM(size),0) FROM blobs").fetchone()
            up = conn.execute("SELECT COALESCE(SUM(size),0) FROM uploads").fetchone()
        return int(row[0]) + int(up[0])

    def gc(self, pinned: set[str]) -> list[str]:
        """Evict least-recently-used blobs not in ``pinned`` until usage fits the disk budget."""
        evicted: list[str] = []
        usage = self.usage_bytes()
        if usage <= self.disk_budget_bytes:
            return evicted
        with self.db.connect() as conn:
            rows = conn.execute("SELECT sha256,size FROM blobs ORDER BY last_used").fetchall()
        for row in rows:
            if usage <= self.disk_budget_bytes:
                break
            if row["sha256"] in pinned:
                continue
            self.path(row["sha256"]).unlink(missing_ok=True)
            with self.db.connect() as conn:
                conn.execute("DELETE FROM blobs WHERE sha256=?", (row["sha256"],))
            usage -= int(row["size"])
            evicted.append(row["sha256"])
        return evicted

    # -- uploads ----------------------------------------------------------------------------

    def _upload_path(self, upload_id: str) -> Path:
        return self.root / "uploads" / _check_upload_id(upload_id)

    def create_upload(self, sha256: str, size: int, filename: str | None, *, pinned: set[str]) -> UploadStatus:
        """Start (or find the unfinished) upload of a blob. An existing blob needs no upload."""
        _check_sha(sha256)
        if size > self.max_upload_bytes:
            raise BlobError(f"upload of {size} bytes exceeds this worker's limit of {self.max_upload_bytes} bytes", 413)
        if self.has(sha256):
            return UploadStatus(upload_id=None, sha256=sha256, size=size, offset=size, complete=True)
        if self.usage_bytes() + size > self.disk_budget_bytes:
            self.gc(pinned)
            if self.usage_bytes() + size > self.disk_budget_bytes:
                raise BlobError("the worker's disk budget is full: delete finished jobs and retry", 507)
        with self.db.connect(immediate=True) as conn:
            row = conn.execute("SELECT id,size FROM uploads WHERE sha256=? AND size=?", (sha256, size)).fetchone()
            if row is not None:
                upload_id = row["id"]
            else:
                upload_id = secrets.token_hex(16)
                now = time.time()
                conn.execute(
                    "INSERT INTO uploads(id,sha256,size,filename,created_at,updated_at) VALUES(?,?,?,?,?,?)",
                    (upload_id, sha256, size, filename, now, now),
                )
                self._upload_path(upload_id).touch()
        return self.upload_status(upload_id)

    def upload_status(self, upload_id: str) -> UploadStatus:
        path = self._upload_path(upload_id)
        with self.db.connect() as conn:
            row = conn.execute("SELECT sha256,size FROM uploads WHERE id=?", (upload_id,)).fetchone()
        if row is None:
            raise BlobError(f"upload {upload_id} not found (expired or finished): start a new one", 404)
        offset = path.stat().st_size if path.is_file() else 0
        return UploadStatus(upload_id=upload_id, sha256=row["sha256"], size=row["size"], offset=offset, complete=False)

    async def append(self, upload_id: str, offset: int, chunks: AsyncIterator[bytes]) -> UploadStatus:
        """Append a request body at ``offset`` (must equal the bytes already held: tus semantics).

        Bytes beyond the announced size are refused without being stored. When the last byte
        arrives the file is hashed; a mismatch deletes it and raises 422, a match promotes it.
        """
        with self._hash_lock:
            if upload_id in self._busy:
                raise BlobError(f"upload {upload_id} is already receiving data: retry when that request ends", 409)
            self._busy.add(upload_id)
        try:
            return await self._append(upload_id, offset, chunks)
        finally:
            with self._hash_lock:
                self._busy.discard(upload_id)

    async def _append(self, upload_id: str, offset: int, chunks: AsyncIterator[bytes]) -> UploadStatus:
        status = self.upload_status(upload_id)
        if offset != status.offset:
            raise BlobError(f"Upload-Offset {offset} does not match the {status.offset} bytes held", 409)
        path = self._upload_path(upload_id)
        written = status.offset
        hasher = self._hasher_at(upload_id, path, written)
        # The event loop only receives: each chunk goes, as it came, to one thread that writes and
        # hashes it (both release the GIL), so the socket is read while earlier bytes are stored.
        sink = _Sink(path, written, hasher, asyncio.get_running_loop())
        received = written
        block: list[bytes] = []
        held = 0  # bytes in ``block``
        try:
            async for chunk in chunks:
                if received + len(chunk) > status.size:
                    raise BlobError(f"upload body runs past the announced size of {status.size} bytes", 413)
                if not chunk:
                    continue
                received += len(chunk)
                block.append(chunk)
                held += len(chunk)
                if held >= SINK_BLOCK:
                    await sink.put(block, held)
                    block, held = [], 0
        finally:
            # Keep what arrived intact (a cut connection or an overflowing body leaves a valid prefix
            # to resume from); a failed write (disk full) keeps only the chunks stored whole.
            try:
                if block and sink.error is None:
                    await sink.put(block, held)
            finally:
                written, hasher = await sink.close()
                with self._hash_lock:
                    self._hashers[upload_id] = (written, hasher)
        with self.db.connect() as conn:
            conn.execute("UPDATE uploads SET updated_at=? WHERE id=?", (time.time(), upload_id))
        if written < status.size:
            return UploadStatus(
                upload_id=upload_id, sha256=status.sha256, size=status.size, offset=written, complete=False
            )
        actual = hasher.hexdigest()
        with self._hash_lock:
            self._hashers.pop(upload_id, None)
        with self.db.connect() as conn:
            conn.execute("DELETE FROM uploads WHERE id=?", (upload_id,))
        if actual != status.sha256:
            path.unlink(missing_ok=True)
            raise BlobError(f"uploaded bytes hash to {actual}, not the announced {status.sha256}: upload again", 422)
        self._promote(path, actual, status.size, move=True)
        return UploadStatus(upload_id=None, sha256=actual, size=status.size, offset=status.size, complete=True)

    def _hasher_at(self, upload_id: str, path: Path, offset: int) -> Any:
        """A sha256 state covering the first ``offset`` bytes: cached, or rebuilt from disk (after a restart)."""
        with self._hash_lock:
            cached = self._hashers.pop(upload_id, None)
        if cached is not None and cached[0] == offset:
            return cached[1]
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            remaining = offset
            while remaining > 0 and (chunk := handle.read(min(HASH_CHUNK, remaining))):
                hasher.update(chunk)
                remaining -= len(chunk)
        return hasher

    def delete_upload(self, upload_id: str) -> None:
        self.upload_status(upload_id)
        with self.db.connect() as conn:
            conn.execute("DELETE FROM uploads WHERE id=?", (upload_id,))
        self._upload_path(upload_id).unlink(missing_ok=True)

    def expire_uploads(self, max_age_s: float) -> int:
        """Delete partial uploads untouched for ``max_age_s`` seconds."""
        cutoff = time.time() - max_age_s
        with self.db.connect() as conn:
            rows = conn.execute("SELECT id FROM uploads WHERE updated_at<?", (cutoff,)).fetchall()
            conn.execute("DELETE FROM uploads WHERE updated_at<?", (cutoff,))
        for row in rows:
            self._upload_path(row["id"]).unlink(missing_ok=True)
        return len(rows)


class _Sink:
    """One thread that appends an upload's bytes to its file and hashes them, in arrival order.

    The event loop hands it blocks of received chunks (:meth:`put`, which waits only while more
    than :data:`SINK_BACKLOG` bytes are not yet stored, so memory stays bounded) and collects the
    result with :meth:`close`: the bytes stored and the hash state covering exactly those bytes. A
    piece is hashed only after it is written whole; if a write fails (disk full) the thread stops,
    the file is cut back to the whole pieces and :meth:`close` raises the error.
    """

    def __init__(self, path: Path, offset: int, hasher: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.fd = os.open(path, os.O_WRONLY)
        self.offset = offset  # bytes stored and hashed (only the thread writes it)
        self.sent = offset  # bytes handed over (only the event loop writes it)
        self.hasher = hasher
        self.loop = loop
        self.error: BaseException | None = None
        self.queue: queue.SimpleQueue[list[bytes] | None] = queue.SimpleQueue()
        self.room = asyncio.Event()
        self.waiting = False
        self.thread = threading.Thread(target=self._run, name="upload-sink", daemon=True)
        self.thread.start()

    async def put(self, block: list[bytes], size: int) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(block)
        self.sent += size
        while self.sent - self.offset > SINK_BACKLOG and self.error is None:
            self.room.clear()
            self.waiting = True
            if self.sent - self.offset <= SINK_BACKLOG:  # the thread caught up before it saw ``waiting``
                break
            await self.room.wait()
        self.waiting = False

    def _run(self) -> None:
        try:
            os.lseek(self.fd, self.offset, os.SEEK_SET)
            while (block := self.queue.get()) is not None:
                for piece in block:
                    view = memoryview(piece)
                    while view:
                        view = view[os.write(self.fd, view) :]
                    self.hasher.update(piece)
                    self.offset += len(piece)
                if self.waiting and self.sent - self.offset <= SINK_BACKLOG // 2:
                    self.waiting = False
                    self.loop.call_soon_threadsafe(self.room.set)
        except BaseException as exc:  # disk full, I/O error: reported by put() / close()
            self.error = exc
            self.loop.call_soon_threadsafe(self.room.set)
            while self.queue.get() is not None:  # nothing after a failed write is stored
                pass

    async def close(self) -> tuple[int, Any]:
        """Wait for the stored bytes; returns (bytes stored, hash state of them). Raises a write error."""
        self.queue.put(None)
        await asyncio.to_thread(self.thread.join)
        try:
            os.ftruncate(self.fd, self.offset)  # a partial write of the failing piece goes
        finally:
            os.close(self.fd)
        if self.error is not None:
            raise self.error
        return self.offset, self.hasher
