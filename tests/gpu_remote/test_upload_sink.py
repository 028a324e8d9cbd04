"""How an upload's bytes reach the disk (issue #12): the event loop receives and hashes, one thread
writes. Memory stays bounded when the disk is slower than the network, a failed write keeps a
whole-piece prefix whose hash state is right (the upload resumes from it), and the client streams
each PATCH body from the file instead of holding it in memory."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import time
import types
from pathlib import Path

import pytest

from gpu_remote import blobs as blobs_module
from gpu_remote.blobs import BlobStore
from gpu_remote.client import _FileRegion
from gpu_remote.db import open_database
from gpu_remote.errors import ClientError
from kernel import atomic_io


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(
        tmp_path / "data", open_database(None, tmp_path), max_upload_bytes=64 << 20, disk_budget_bytes=1 << 30
    )


def _pieces(data: bytes, size: int):
    async def body():
        for at in range(0, len(data), size):
            yield data[at : at + size]
            await asyncio.sleep(0)

    return body()


def _fake_os(write):
    """``os`` for gpu_remote.blobs with ``write`` replaced (nothing else in the process is touched)."""
    fake = types.SimpleNamespace(**{name: getattr(os, name) for name in dir(os) if not name.startswith("__")})
    fake.write = write
    return fake


def test_a_slow_disk_bounds_what_the_worker_holds(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobs_module, "SINK_BLOCK", 16 << 10)
    monkeypatch.setattr(blobs_module, "SINK_BACKLOG", 64 << 10)
    backlog: list[int] = []
    real_flush = blobs_module._Sink.flush

    async def flush(self):  # noqa: ANN001 - records the backlog after each hand-over
        await real_flush(self)
        backlog.append(self.sent - self.offset)

    def slow_write(fd: int, data) -> int:  # noqa: ANN001 - os.write's signature
        time.sleep(0.002)
        return os.write(fd, data)

    monkeypatch.setattr(blobs_module._Sink, "flush", flush)
    monkeypatch.setattr(blobs_module, "os", _fake_os(slow_write))
    data = os.urandom(1 << 20)
    status = store.create_upload(hashlib.sha256(data).hexdigest(), len(data), "a.bin", pinned=set())
    assert status.upload_id is not None
    done = asyncio.run(store.append(status.upload_id, 0, _pieces(data, 8 << 10)))
    assert done.complete and store.path(done.sha256).read_bytes() == data
    assert backlog and max(backlog) <= (64 << 10) + (16 << 10)  # the backlog plus the block handed over


def test_a_failed_write_keeps_whole_pieces_and_the_upload_resumes(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(300_000)
    status = store.create_upload(hashlib.sha256(data).hexdigest(), len(data), "b.bin", pinned=set())
    assert status.upload_id is not None
    budget = [100_000]  # bytes the "disk" takes before it is full

    def full_disk_write(fd: int, view) -> int:  # noqa: ANN001 - os.write's signature
        if budget[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = min(len(view), budget[0], 7_000)  # short writes, and the failing piece lands part-way
        budget[0] -= n
        return os.write(fd, view[:n])

    monkeypatch.setattr(blobs_module, "os", _fake_os(full_disk_write))
    with pytest.raises(OSError) as info:
        asyncio.run(store.append(status.upload_id, 0, _pieces(data, 30_000)))
    assert info.value.errno == errno.ENOSPC
    held = store.upload_status(status.upload_id).offset
    assert held == 90_000  # three whole 30,000-byte pieces; the fourth's partial write is cut off
    upload_file = store.root / "uploads" / status.upload_id
    assert upload_file.read_bytes() == data[:held]
    monkeypatch.setattr(blobs_module, "os", os)  # space again: resume where the worker says
    done = asyncio.run(store.append(status.upload_id, held, _pieces(data[held:], 30_000)))
    assert done.complete and store.path(done.sha256).read_bytes() == data


def test_a_cut_connection_keeps_every_byte_that_arrived(store: BlobStore) -> None:
    from starlette.requests import ClientDisconnect

    data = os.urandom(300_000)  # less than one hand-over block: all of it still in the event loop
    status = store.create_upload(hashlib.sha256(data).hexdigest(), len(data), "c.bin", pinned=set())
    assert status.upload_id is not None

    async def cut_after(n: int):
        yield data[:n]
        raise ClientDisconnect()

    with pytest.raises(ClientDisconnect):
        asyncio.run(store.append(status.upload_id, 0, cut_after(123_457)))
    assert store.upload_status(status.upload_id).offset == 123_457
    done = asyncio.run(store.append(status.upload_id, 123_457, _pieces(data[123_457:], 50_000)))
    assert done.complete and store.path(done.sha256).read_bytes() == data


def test_client_streams_a_file_region_and_refuses_a_file_that_shrank(tmp_path: Path) -> None:
    src = tmp_path / "clip.bin"
    data = os.urandom(3 * (1 << 20) + 5)
    src.write_bytes(data)
    with src.open("rb") as handle:
        region = _FileRegion(handle, src, 1000, len(data) - 1000)
        assert len(region) == len(data) - 1000
        pieces = [bytes(piece) for piece in region]
        assert b"".join(pieces) == data[1000:] and max(map(len, pieces)) <= 1 << 20
        with pytest.raises(ClientError, match="got shorter"):
            list(_FileRegion(handle, src, 1000, len(data)))


def test_a_finished_upload_is_on_disk_before_it_gets_its_name(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A blob's name is its sha256 and its presence means "the worker has it": after a power cut the
    # name must not point at bytes that never left the page cache. The upload's bytes are fsynced
    # before the rename, and the directory after it.
    events: list[tuple[str, int]] = []

    def fsync(fd: int) -> None:
        events.append(("fsync", os.fstat(fd).st_ino))
        os.fsync(fd)

    def replace(src, dest) -> None:  # noqa: ANN001 - os.replace's signature
        events.append(("replace", os.stat(src).st_ino))
        os.replace(src, dest)

    fake = _fake_os(os.write)
    fake.fsync, fake.replace = fsync, replace
    monkeypatch.setattr(atomic_io, "os", fake)  # durable_replace, which the blob store renames with
    data = os.urandom(200_000)
    status = store.create_upload(hashlib.sha256(data).hexdigest(), len(data), "d.bin", pinned=set())
    assert status.upload_id is not None
    done = asyncio.run(store.append(status.upload_id, 0, _pieces(data, 64 << 10)))
    blob = store.path(done.sha256)
    assert blob.read_bytes() == data
    blob_inode, dir_inode = blob.stat().st_ino, blob.parent.stat().st_ino
    assert events == [("fsync", blob_inode), ("replace", blob_inode), ("fsync", dir_inode)]
