"""Content-addressed blob store (sha256) with resumable, offset-based uploads.

Layout under the data folder: ``blobs/ab/<sha256>`` for accepted blobs and
``uploads/<upload_id>`` for partial ones. Names on disk are only ever built from a validated
64-hex sha256 or 32-hex upload id, never from anything else a client sends, so no request can
reach outside these folders. An upload is promoted to a blob only once its bytes hash to the
announced sha256.

With a shared store (``--blobs s3://…``, :mod:`gpu_remote.blob_s3`) this folder is a cache of
the machine it is on and the bucket is the source of truth between machines: a verified upload
and every output are put to the bucket before they are reported, a blob missing here is fetched
(sha256 checked, renamed into place), and the disk budget and LRU eviction cover this cache
alone (read from the folder, since the job database is shared), never evicting a pinned blob or
one the bucket does not hold yet.
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
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpu_remote.db import JobDatabase
from gpu_remote.errors import GpuRemoteError
from gpu_remote.models import SHA256_RE, UPLOAD_ID_RE, UploadStatus
from kernel.atomic_io import durable_replace

if TYPE_CHECKING:
    from gpu_remote.blob_s3 import S3Blobs

HASH_CHUNK = 1 << 20
SINK_BLOCK = 1 << 20  # received bytes handed to the writing thread at a time
SINK_BACKLOG = 32 << 20  # bytes received but not yet stored before the event loop stops reading
STALE_TMP_S = 6 * 3600.0  # a temporary file untouched this long belongs to a process that died


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
    """Blobs and partial uploads under ``root``; metadata in ``db``.

    ``remote``: the shared store (S3) behind this folder, which then is a cache; ``pinned``: what
    may not be evicted when a fetch needs room (the job store's live inputs and kept outputs).
    """

    def __init__(
        self,
        root: Path,
        db: JobDatabase,
        *,
        max_upload_bytes: int,
        disk_budget_bytes: int,
        remote: S3Blobs | None = None,
        pinned: Callable[[], set[str]] | None = None,
    ) -> None:
        self.root = root
        self.db = db
        self.max_upload_bytes = max_upload_bytes
        self.disk_budget_bytes = disk_budget_bytes
        self.remote = remote
        self._pinned = pinned
        self._in_remote: set[str] = set()  # blobs the shared store is known to hold (they never change)
        self._remote_lock = threading.Lock()
        # Striped by sha256: threads wanting the same missing blob download it once, others in parallel.
        self._fetch_locks = [threading.Lock() for _ in range(32)]
        for sub in ("blobs", "uploads", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(root / sub, 0o700)
        if remote is not None:
            self._drop_stale_tmp(STALE_TMP_S)
        # upload id → (offset, running sha256) so consecutive PATCHes never re-read what arrived.
        self._hashers: dict[str, tuple[int, Any]] = {}
        self._hash_lock = threading.Lock()
        self._busy: set[str] = set()  # uploads with a PATCH in flight (one writer per upload)

    # -- blobs ------------------------------------------------------------------------------

    def path(self, sha256: str) -> Path:
        sha = _check_sha(sha256)
        return self.root / "blobs" / sha[:2] / sha

    def has(self, sha256: str) -> bool:
        """Whether the blob can be used. With a shared store: whether the bucket holds it (a blob
        only this cache holds, e.g. an upload whose put failed, is put there now)."""
        local = self.path(sha256).is_file()
        if self.remote is None:
            return local
        if sha256 in self._in_remote:
            return True
        if local:
            self._push(sha256)
            return True
        if self.remote.head(sha256) is None:
            return False
        self._in_remote.add(sha256)
        return True

    def size(self, sha256: str) -> int:
        path = self.path(sha256)
        if self.remote is None or path.is_file():
            return path.stat().st_size
        size = self.remote.head(sha256)
        if size is None:
            raise BlobError(f"blob {sha256} not found in {self.remote.where}", 404)
        return size

    def fetch(self, sha256: str) -> Path:
        """The blob as a local file: from this folder, or (shared store) fetched into it first.

        The download goes to a temporary name, is hashed, and is renamed into place only if its
        bytes are the blob's: an object that is not (corrupt, truncated, replaced) is refused
        with 502 and removed from the bucket, so the next upload of the file replaces it.
        """
        path = self.path(sha256)
        if path.is_file():
            self._mark_used(path)
            return path
        if self.remote is None:
            raise BlobError(f"blob {sha256} not found on this worker", 404)
        with self._fetch_locks[int(sha256[:2], 16) % len(self._fetch_locks)]:
            if path.is_file():  # another thread fetched it meanwhile
                self._mark_used(path)
                return path
            return self._download(sha256, path)

    def _download(self, sha256: str, path: Path) -> Path:
        assert self.remote is not None
        size = self.remote.head(sha256)
        if size is None:
            raise BlobError(f"blob {sha256} not found on this worker nor in {self.remote.where}", 404)
        if self.usage_bytes() + size > self.disk_budget_bytes:
            self.gc(self._pinned() if self._pinned else set(), extra=size)
            if self.usage_bytes() + size > self.disk_budget_bytes:
                raise BlobError(
                    f"the local blob cache {self.root / 'blobs'} has no room for blob {sha256[:12]} ({size} bytes) "
                    "within the disk budget: finish or delete jobs, or raise --disk-budget-gb",
                    507,
                )
        tmp = self.root / "tmp" / f"{sha256}.{secrets.token_hex(4)}.fetch"
        try:
            if not self.remote.get(sha256, tmp):
                raise BlobError(f"blob {sha256} vanished from {self.remote.where} while being fetched", 404)
            actual = sha256_file(tmp)
            if actual != sha256:
                got = tmp.stat().st_size
                self.remote.delete(sha256)
                self._in_remote.discard(sha256)
                raise BlobError(
                    f"the object for blob {sha256[:12]} in {self.remote.where} is corrupt ({got} bytes hashing to "
                    f"{actual[:12]}): refused and removed from the bucket; upload the file again",
                    502,
                )
            os.chmod(tmp, 0o600)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            durable_replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        self._in_remote.add(sha256)
        return path

    def touch(self, sha256: str) -> None:
        """Mark a blob used now (LRU eviction spares recently used blobs)."""
        with self.db.connect() as conn:
            conn.execute("UPDATE blobs SET last_used=? WHERE sha256=?", (time.time(), sha256))
        if self.remote is not None:
            self._mark_used(self.path(sha256))

    def _drop_stale_tmp(self, max_age_s: float) -> None:
        """Remove fetches and copies a dead process left half-written in ``tmp/`` (an active one
        keeps its mtime fresh)."""
        cutoff = time.time() - max_age_s
        for entry in os.scandir(self.root / "tmp"):
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except FileNotFoundError:
                pass

    @staticmethod
    def _mark_used(path: Path) -> None:
        """The cache's LRU clock is each file's mtime (the shared job database cannot say what this
        machine holds)."""
        try:
            os.utime(path)
        except FileNotFoundError:
            pass

    def _push(self, sha256: str) -> None:
        """Put a blob this cache holds into the shared store (unless it is there already)."""
        assert self.remote is not None
        with self._remote_lock:
            if sha256 in self._in_remote:
                return
        if self.remote.head(sha256) is None:
            self.remote.put(self.path(sha256), sha256)
        with self._remote_lock:
            self._in_remote.add(sha256)

    def add_file(self, src: Path, *, move: bool = True) -> tuple[str, int]:
        """Import a local file (an op's output) as a blob; returns (sha256, size). With a shared
        store the blob is in the bucket when this returns (else BlobStoreUnavailable: call again)."""
        sha = sha256_file(src)
        size = src.stat().st_size
        self._promote(src, sha, size, move=move)
        if self.remote is not None:
            self._push(sha)
        return sha, size

    def _promote(self, src: Path, sha: str, size: int, *, move: bool) -> None:
        dest = self.path(sha)
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not dest.is_file():
            if move:
                os.chmod(src, 0o600)
                # A blob's name is its sha256 and its presence means "have it" (the client's HEAD
                # dedupes on it): after a power cut it must not name bytes that never left the cache.
                durable_replace(src, dest)
            else:
                tmp = self.root / "tmp" / f"{sha}.{secrets.token_hex(4)}"
                shutil.copyfile(src, tmp)
                os.chmod(tmp, 0o600)
                durable_replace(tmp, dest)
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
        if self.remote is not None:
            return sum(size for _sha, size, _used in self._cached()) + sum(
                entry.stat().st_size for entry in os.scandir(self.root / "uploads") if entry.is_file()
            )
        with self.db.connect() as conn:
            row = conn.execute("SELECT COALESCE(SUM(size),0) FROM blobs").fetchone()
            up = conn.execute("SELECT COALESCE(SUM(size),0) FROM uploads").fetchone()
        return int(row[0]) + int(up[0])

    def _cached(self) -> list[tuple[str, int, float]]:
        """(sha256, size, last used) of every blob in this folder."""
        found: list[tuple[str, int, float]] = []
        for fan in os.scandir(self.root / "blobs"):
            if not fan.is_dir():
                continue
            for entry in os.scandir(fan.path):
                if SHA256_RE.match(entry.name):
                    try:
                        info = entry.stat()
                    except FileNotFoundError:
                        continue
                    found.append((entry.name, info.st_size, info.st_mtime))
        return found

    def gc(self, pinned: set[str], *, extra: int = 0) -> list[str]:
        """Evict least-recently-used blobs not in ``pinned`` until usage (plus ``extra`` bytes about to
        arrive) fits the disk budget. With a shared store only this cache shrinks, and only blobs
        the bucket holds go."""
        evicted: list[str] = []
        usage = self.usage_bytes() + extra
        if usage <= self.disk_budget_bytes:
            return evicted
        if self.remote is not None:
            for sha, size, _used in sorted(self._cached(), key=lambda item: item[2]):
                if usage <= self.disk_budget_bytes:
                    break
                if sha in pinned:
                    continue
                try:
                    if sha not in self._in_remote and self.remote.head(sha) is None:
                        continue  # the only copy: it goes to the bucket first (has() / add_file push it)
                except GpuRemoteError:
                    break  # bucket unreachable: nothing is known safe to drop
                self._in_remote.add(sha)
                self.path(sha).unlink(missing_ok=True)
                usage -= size
                evicted.append(sha)
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
            self.gc(pinned, extra=size)  # room for the whole upload, not just for what is held now
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
        # The event loop receives and hashes each chunk as it arrives (still in the CPU's cache:
        # sha256 runs about twice as fast as over the same bytes read back later); one thread
        # writes them, so the socket is read while earlier bytes are stored.
        sink = _Sink(path, written, hasher, asyncio.get_running_loop())
        received = written
        try:
            async for chunk in chunks:
                if received + len(chunk) > status.size:
                    raise BlobError(f"upload body runs past the announced size of {status.size} bytes", 413)
                if not chunk:
                    continue
                received += len(chunk)
                if sink.add(chunk):
                    await sink.flush()
        finally:
            # Keep what arrived intact (a cut connection or an overflowing body leaves a valid prefix
            # to resume from); a failed write (disk full) keeps only the chunks stored whole.
            try:
                if sink.error is None:
                    await sink.flush()
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
        # Off the event loop: the fsync before the rename waits for the disk (a second or more for
        # a big file), and other requests must not wait with it.
        await asyncio.to_thread(self._promote, path, actual, status.size, move=True)
        if self.remote is not None:
            # Off the event loop (a multipart put of a big file takes a while). BlobStoreUnavailable
            # → 503; the blob stays here and is put at the next has() (the client's HEAD).
            await asyncio.to_thread(self._push, actual)
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
    """Stores an upload's bytes in arrival order: the event loop hashes each chunk as it comes
    (:meth:`add`) and hands blocks of them to one writing thread (:meth:`flush`, which waits only
    while more than :data:`SINK_BACKLOG` bytes are not yet stored, so memory stays bounded).

    :meth:`close` returns the bytes stored and the hash state of them. If a write fails (disk full)
    the thread stops, the file is cut back to the whole pieces written and :meth:`close` raises the
    error; the hash state then covers more than was stored, so it is dropped and the next PATCH
    rebuilds it from the file (:meth:`BlobStore._hasher_at`).
    """

    def __init__(self, path: Path, offset: int, hasher: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.fd = os.open(path, os.O_WRONLY)
        self.offset = offset  # bytes stored (only the thread writes it)
        self.sent = offset  # bytes handed over (only the event loop writes it)
        self.hasher = hasher  # covers every byte added
        self.loop = loop
        self.block: list[bytes] = []
        self.held = 0  # bytes in ``block``
        self.error: BaseException | None = None
        self.queue: queue.SimpleQueue[list[bytes] | None] = queue.SimpleQueue()
        self.room = asyncio.Event()
        self.waiting = False
        self.thread = threading.Thread(target=self._run, name="upload-sink", daemon=True)
        self.thread.start()

    def add(self, chunk: bytes) -> bool:
        """Hash ``chunk`` and keep it for the next block; True when the block is full."""
        self.hasher.update(chunk)
        self.block.append(chunk)
        self.held += len(chunk)
        return self.held >= SINK_BLOCK

    async def flush(self) -> None:
        """Hand the current block to the writing thread."""
        if self.error is not None:
            raise self.error
        if not self.block:
            return
        self.queue.put(self.block)
        self.sent += self.held
        self.block, self.held = [], 0
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
                    self.offset += len(piece)
                if self.waiting and self.sent - self.offset <= SINK_BACKLOG // 2:
                    self.waiting = False
                    self.loop.call_soon_threadsafe(self.room.set)
        except BaseException as exc:  # disk full, I/O error: reported by flush() / close()
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
