"""Blobs in an S3-compatible store (``--blobs s3://…``), against a real server process (moto's
server mode, ``s3_proc.py``): start-up errors that name the bucket, multipart puts, each machine's
folder as a verified cache of the bucket, and a farm of two "machines" — a gateway and a Celery
worker with separate blob folders, one PostgreSQL job store, one redis-server, one bucket — where
an upload through one runs on the other, a corrupt object is refused by its sha256, and the S3
endpoint going down under running and starting jobs ends each job ``succeeded`` exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import av
import pytest
import requests

from gpu_remote.blobs import BlobError, BlobStore
from gpu_remote.errors import WorkerConfigError
from gpu_remote.models import BlobRef, JobSpec
from tests.conftest import run_cli
from tests.gpu_remote.conftest import REPO, TOKEN, free_port, make_clip, start_worker
from tests.gpu_remote.s3_proc import CREDENTIALS, REGION, CutProxy, MotoServer
from tests.gpu_remote.test_celery import FAST, _states, _wait_all, _wait_until

pytest.importorskip("boto3", reason="needs boto3: pip install 'montage-bridge[s3]'")

from gpu_remote.blob_s3 import BlobStoreUnavailable, S3Blobs, parse_s3_url  # noqa: E402


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def new_bucket(moto: MotoServer) -> str:
    name = f"mb-{secrets.token_hex(6)}"
    moto.client().create_bucket(Bucket=name)
    return name


def _store(root: Path, remote: S3Blobs, budget: int = 1 << 40, pinned: set[str] | None = None) -> BlobStore:
    from gpu_remote.db import open_database

    return BlobStore(
        root,
        open_database(None, root),
        max_upload_bytes=1 << 40,
        disk_budget_bytes=budget,
        remote=remote,
        pinned=(lambda: pinned or set()),
    )


# -- configuration ---------------------------------------------------------------------------


def test_blobs_url_is_checked() -> None:
    assert parse_s3_url("s3://media-farm/gpu/blobs/") == ("media-farm", "gpu/blobs/")
    assert parse_s3_url("s3://media-farm") == ("media-farm", "")
    for bad, says in [
        ("/mnt/shared/blobs", "must be s3://"),
        ("s3://Bad_Bucket/x", "not a valid S3 bucket name"),
        ("s3://bucket/a/../b", "'..'"),
    ]:
        with pytest.raises(WorkerConfigError, match=says):
            parse_s3_url(bad)


def test_startup_errors_name_the_bucket(moto: MotoServer, tmp_path: Path) -> None:
    with pytest.raises(WorkerConfigError, match=r"bucket 'no-such-bucket-here' does not exist at http://127\.0\.0\.1"):
        S3Blobs("s3://no-such-bucket-here/x", endpoint_url=moto.url).check()
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(WorkerConfigError, match=f"cannot reach the S3 endpoint {dead} for bucket 'b-1'"):
        S3Blobs("s3://b-1", endpoint_url=dead, connect_timeout_s=0.5).check()
    strict = MotoServer(tmp_path / "strict", env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"})  # checks keys as AWS does
    strict.start()
    try:
        with pytest.raises(WorkerConfigError, match="refused these credentials for bucket 'media-farm'"):
            S3Blobs("s3://media-farm", endpoint_url=strict.url).check()
    finally:
        strict.stop()
    # As the operator meets it: one line, no traceback, nothing served.
    done = run_cli(
        "worker", "serve", "--port", "0", "--data", str(tmp_path / "d"), "--no-auth",
        "--blobs", "s3://no-such-bucket-here", "--s3-endpoint", moto.url, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "S3 bucket 'no-such-bucket-here' does not exist" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr + done.stdout


def test_big_files_go_up_in_parts(moto: MotoServer, tmp_path: Path) -> None:
    bucket = new_bucket(moto)
    remote = S3Blobs(f"s3://{bucket}/p", endpoint_url=moto.url, multipart_threshold=5 << 20, multipart_chunk=5 << 20)
    remote.check()
    data = os.urandom((11 << 20) + 123)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    remote.put(src, sha)
    head = moto.client().head_object(Bucket=bucket, Key=f"p/sha256/{sha}")
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]  # S3's ETag of a 3-part upload
    assert head["Metadata"]["sha256"] == sha
    back = tmp_path / "back.bin"
    assert remote.get(sha, back) and back.read_bytes() == data
    assert remote.head(sha) == len(data) and remote.head("0" * 64) is None


def test_each_folder_is_a_verified_cache_of_the_bucket(moto: MotoServer, tmp_path: Path) -> None:
    bucket = new_bucket(moto)
    remote = S3Blobs(f"s3://{bucket}", endpoint_url=moto.url)
    a, b = _store(tmp_path / "a", remote), _store(tmp_path / "b", remote, budget=300_000)
    out = tmp_path / "out.bin"
    out.write_bytes(os.urandom(100_000))
    sha, size = a.add_file(out)  # an op's output: in the bucket when this returns
    assert moto.client().head_object(Bucket=bucket, Key=f"sha256/{sha}")["ContentLength"] == size
    assert not b.path(sha).exists() and b.has(sha) and b.size(sha) == size
    assert b.fetch(sha).read_bytes() == a.path(sha).read_bytes()
    assert not any((tmp_path / "b" / "tmp").iterdir())

    # An object that is not the blob its key names is refused and removed, on any machine.
    good = os.urandom(50_000)
    bad_sha = hashlib.sha256(good).hexdigest()
    moto.client().put_object(Bucket=bucket, Key=f"sha256/{bad_sha}", Body=good[:-1] + b"\0")
    assert b.has(bad_sha)
    with pytest.raises(BlobError, match="corrupt") as caught:
        b.fetch(bad_sha)
    assert caught.value.status == 502
    assert not b.path(bad_sha).exists() and not any((tmp_path / "b" / "tmp").iterdir())
    assert not b.has(bad_sha)  # gone from the bucket: the next upload of the file replaces it

    # The budget covers b's cache alone; pinned blobs and LRU order are honoured.
    blobs = []
    for _ in range(3):
        src = tmp_path / "x.bin"
        src.write_bytes(os.urandom(100_000))
        blobs.append(a.add_file(src)[0])
    b.fetch(blobs[0])
    b._pinned = lambda: {sha}  # the oldest cached blob is an input of a live job
    b.fetch(blobs[1])
    assert b.path(sha).exists() and b.path(blobs[0]).exists()
    b.fetch(blobs[2])  # 400 kB would exceed 300 kB: the least recently used unpinned one goes
    assert b.path(sha).exists() and not b.path(blobs[0]).exists()
    assert b.path(blobs[1]).exists() and b.path(blobs[2]).exists()
    assert b.usage_bytes() == 300_000 and b.has(blobs[0])  # still in the bucket


def test_an_unreachable_store_is_transient(moto: MotoServer, tmp_path: Path) -> None:
    bucket = new_bucket(moto)
    proxy = CutProxy(moto.port)
    proxy.up()
    remote = S3Blobs(f"s3://{bucket}", endpoint_url=proxy.url, connect_timeout_s=0.5)
    a = _store(tmp_path / "a", remote, budget=150_000)
    src = tmp_path / "o.bin"
    src.write_bytes(os.urandom(100_000))
    proxy.down()
    with pytest.raises(BlobStoreUnavailable, match=f"s3://{bucket}/ at {proxy.url} is unreachable"):
        a.add_file(src)
    with pytest.raises(BlobStoreUnavailable):
        a.fetch("cd" * 32)  # not cached here: only the bucket could say
    # The only copy of a blob the bucket does not hold yet is never evicted.
    kept = next(iter(a._cached()))[0]
    assert a.gc(set(), extra=100_000) == [] and a.path(kept).exists()
    proxy.up()
    assert a.has(kept)  # put now
    assert moto.client().head_object(Bucket=bucket, Key=f"sha256/{kept}")["ContentLength"] == 100_000

    # An upload whose last bytes arrive while the bucket is unreachable: 503 for that PATCH, the
    # verified blob stays in this cache, and the client's next HEAD (has) puts it.
    body = os.urandom(70_000)
    sha = hashlib.sha256(body).hexdigest()
    upload = a.create_upload(sha, len(body), "clip.mp4", pinned=set())
    assert upload.upload_id is not None
    assert not a.path(kept).exists()  # made room: evicted from this cache once the bucket held it

    async def chunks() -> AsyncIterator[bytes]:
        yield body[:30_000]
        yield body[30_000:]

    proxy.down()
    with pytest.raises(BlobStoreUnavailable):
        asyncio.run(a.append(upload.upload_id, 0, chunks()))
    assert a.path(sha).read_bytes() == body
    proxy.up()
    assert a.has(sha)
    assert moto.client().get_object(Bucket=bucket, Key=f"sha256/{sha}")["Body"].read() == body
    proxy.down()


# -- two machines ----------------------------------------------------------------------------


def _celery_worker(
    data: Path, broker: str, name: str, extra: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen:
    args = [sys.executable, "-m", "montage_bridge", "worker", "celery", "--data", str(data), "--broker", broker]
    with log.open("w") as out:
        return subprocess.Popen(
            [*args, "--name", name, "--lease-s", "10", *extra],
            env={**os.environ, "PYTHONPATH": str(REPO), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_two_machines_share_blobs_through_s3(moto: MotoServer, pg_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.gpu_remote.redis_proc import RedisProc

    bucket = new_bucket(moto)
    proxy = CutProxy(moto.port)
    proxy.up()
    redis = RedisProc(tmp_path / "redis", free_port())
    redis.start()
    env = {"MONTAGE_WORKER_STORE": pg_cluster.create_database(), **CREDENTIALS}
    s3 = ["--blobs", f"s3://{bucket}/farm", "--s3-endpoint", proxy.url, "--s3-region", REGION]
    a_data, b_data = tmp_path / "machine-a", tmp_path / "machine-b"
    gateway = start_worker(a_data, "--backend", "celery", "--broker", redis.url, *s3, *FAST, env=env)
    stale = b_data / "work" / "killed-before-0001.1"  # what a killed worker left on machine B's own disk
    stale.mkdir(parents=True)
    (stale / "partial.mp4").write_bytes(b"half")
    b_log = tmp_path / "machine-b.log"
    worker_b = _celery_worker(b_data, redis.url, "b@test", s3, env, b_log)
    client = gateway.client(tmp_path / "state")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    s3c = moto.client()
    try:
        _wait_until(lambda: client.health()["workers"] == 1, 60, "machine B's worker to register")
        assert not stale.exists()  # no gateway sees B's folder: B reaps it at start
        clip = make_clip(tmp_path / "clip.mp4")
        ref = client.upload(clip)  # through A
        assert s3c.head_object(Bucket=bucket, Key=f"farm/sha256/{ref.sha256}")["ContentLength"] == ref.size
        assert (a_data / "blobs" / ref.sha256[:2] / ref.sha256).is_file()
        assert not (b_data / "blobs" / ref.sha256[:2] / ref.sha256).exists()

        spec = JobSpec(op="proxy", inputs={"video": ref}, params={"codec": "h264", "width": 80, "height": 60})
        job = client.wait(client.put_job("s3-proxy-0001", spec)[0].id, timeout_s=90)
        assert job.state.value == "succeeded", job.error
        out = job.outputs[0]
        assert (b_data / "blobs" / ref.sha256[:2] / ref.sha256).is_file()  # B fetched its input
        assert (b_data / "blobs" / out.sha256[:2] / out.sha256).is_file()
        assert not (a_data / "blobs" / out.sha256[:2] / out.sha256).exists()  # made on B, put to S3
        got = client.download(out.sha256, tmp_path / "got" / "proxy.mp4")  # through A: from the bucket
        assert hashlib.sha256(got.read_bytes()).hexdigest() == out.sha256
        with av.open(str(got)) as container:  # an independent decoder reads what came back
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (80, 60)
            assert sum(1 for _ in container.decode(stream)) == 25

        # A corrupt object: B refuses the input by its sha256 (the job fails saying so), A refuses a download.
        for tag in ("job", "get"):
            body = os.urandom(4096)
            sha = hashlib.sha256(body).hexdigest()
            s3c.put_object(Bucket=bucket, Key=f"farm/sha256/{sha}", Body=body[::-1])
            if tag == "job":
                bad = JobSpec(op="proxy", inputs={"video": BlobRef(sha256=sha, size=4096)}, params={"codec": "h264"})
                failed = client.wait(client.put_job("s3-corrupt-0001", bad)[0].id, timeout_s=60)
                assert failed.state.value == "failed" and failed.error is not None
                assert failed.error.code == "corrupt_input" and "corrupt" in failed.error.message, failed.error
            else:
                answer = requests.get(f"{gateway.url}/v1/blobs/{sha}", headers=auth, timeout=30)
                assert answer.status_code == 502 and "corrupt" in answer.json()["error"], answer.text
                assert requests.head(f"{gateway.url}/v1/blobs/{sha}", headers=auth, timeout=30).status_code == 404
            with pytest.raises(s3c.exceptions.ClientError):  # removed from the bucket
                s3c.head_object(Bucket=bucket, Key=f"farm/sha256/{sha}")

        # S3 down while a job runs (its output waits) ...
        noop = JobSpec(op="noop", params={"duration_s": 3.0, "steps": 6, "tag": "s3-outage"})
        first = client.put_job("s3-outage-0001", noop)[0].id
        _wait_until(lambda: client.job(first).state.value == "running", 30, "the noop job to run on B")
        proxy.down()
        answer = requests.head(f"{gateway.url}/v1/blobs/{'ab' * 32}", headers=auth, timeout=30)
        assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit()
        answer = requests.get(f"{gateway.url}/v1/blobs/{'ab' * 32}", headers=auth, timeout=30)
        assert answer.status_code == 503 and f"s3://{bucket}/farm/" in answer.json()["error"]
        time.sleep(4.0)
        assert client.job(first).state.value == "running"
        proxy.up()
        _wait_until(lambda: client.job(first).state.terminal, 30, "the noop job's output to reach the bucket")
        # ... and while a job starts (its input is not on B yet: B waits for the bucket).
        clip2 = make_clip(tmp_path / "clip2.mp4", seconds=0.5)
        ref2 = client.upload(clip2)
        proxy.down()
        second = client.put_job("s3-outage-0002", JobSpec(op="proxy", inputs={"video": ref2}, params={"codec": "h264"}))
        _wait_until(lambda: client.job(second[0].id).state.value == "running", 30, "the proxy job to start on B")
        time.sleep(2.0)
        proxy.up()
        for job in _wait_all(client, [first, second[0].id], timeout=90):
            assert job.state.value == "succeeded", (job.id, job.error)
            states = _states(client, job.id)
            assert states.count("succeeded") == 1 and states.count("running") == job.attempt == 1, (job.id, states)
        assert worker_b.poll() is None, "machine B's worker died"
    finally:
        print("machine B's log:\n" + b_log.read_text(errors="replace")[-4000:])  # shown when the test fails
        proxy.down()
        if worker_b.poll() is None:
            worker_b.terminate()
            try:
                worker_b.wait(15)
            except subprocess.TimeoutExpired:
                worker_b.kill()
        gateway.stop()
        redis.stop()


def test_a_dead_fetch_leaves_nothing_behind(moto: MotoServer, tmp_path: Path) -> None:
    remote = S3Blobs(f"s3://{new_bucket(moto)}", endpoint_url=moto.url)
    (tmp_path / "c" / "tmp").mkdir(parents=True)
    old, fresh = tmp_path / "c" / "tmp" / f"{'ef' * 32}.dead.fetch", tmp_path / "c" / "tmp" / "busy.fetch"
    old.write_bytes(b"half a download")
    os.utime(old, (time.time() - 7 * 3600,) * 2)
    fresh.write_bytes(b"still arriving")
    _store(tmp_path / "c", remote)
    assert not old.exists() and fresh.exists()
