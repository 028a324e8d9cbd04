"""Client for the GPU worker: uploads that resume, downloads that resume, jobs that survive restarts.

- ``requests`` with urllib3 ``Retry`` (exponential backoff + jitter, ``Retry-After`` honoured) on
  connection errors and 429/502/503/504; every call here is idempotent (PUT with a client job
  id, POST /v1/uploads dedupes by sha256, cancel is idempotent).
- Each input is hashed once (cache keyed by path, size, mtime_ns); a blob the worker already has
  is not uploaded again; an interrupted upload resumes from the worker's ``Upload-Offset``.
- Downloads go to ``.NAME.SHA.part`` beside the target, resume with ``Range``, are verified by
  sha256 and then renamed atomically into place.
- Job ids are persisted in the state folder so ``reconcile()`` finds them after a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from gpu_remote.errors import ClientError
from gpu_remote.models import BlobRef, Capabilities, Event, Job, JobSpec, JobState, UploadStatus
from kernel.atomic_io import durable_replace, write_text_atomic
from kernel.paths import state_dir

DEFAULT_URL = "http://127.0.0.1:8765"
CHUNK_BYTES = 256 << 20  # bytes per PATCH (streamed from the file; a cut request resumes mid-way)
READ_BYTES = 1 << 20  # file reads per socket write while streaming a PATCH body
MIME_BY_SUFFIX = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
SUFFIX_BY_MIME = {"video/mp4": ".mp4", "application/json": ".json", "image/png": ".png"}


def default_state_dir() -> Path:
    explicit = os.environ.get("MONTAGE_GPU_STATE")
    return Path(explicit) if explicit else state_dir() / "gpu"


def sha256_file(path: Path) -> str:
    """sha256 hex of a file (the worker's own function, imported when first needed: the worker's
    blob store brings asyncio and SQLite, which an upload whose hash is cached never needs)."""
    from gpu_remote.blobs import sha256_file as worker_sha256_file

    return worker_sha256_file(path)


class HashCache:
    """sha256 of files, remembered by (absolute path, size, mtime_ns) in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._data: dict[str, dict[str, Any]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._data = {}
        self.computed = 0  # how many files were actually hashed (for tests and benchmarks)

    def sha256(self, file: Path) -> str:
        file = file.resolve()
        st = file.stat()
        key = str(file)
        with self._lock:
            hit = self._data.get(key)
            if hit and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
                return str(hit["sha256"])
        digest = sha256_file(file)
        with self._lock:
            self.computed += 1
            self._data[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps(self._data))
        return digest


class JobLedger:
    """Job ids this client submitted and where their outputs go (JSON, written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> dict[str, dict[str, Any]]:
        try:
            return dict(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return {}

    def record(self, job_id: str, info: dict[str, Any]) -> None:
        with self._lock:
            data = self.load()
            data[job_id] = {**data.get(job_id, {}), **info}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps(data, indent=1))

    def forget(self, job_id: str) -> None:
        with self._lock:
            data = self.load()
            if data.pop(job_id, None) is not None:
                write_text_atomic(self.path, json.dumps(data, indent=1))


def _retry() -> Retry:
    return Retry(
        total=6,
        connect=4,
        read=3,
        status=6,
        backoff_factor=0.3,
        backoff_max=20,
        backoff_jitter=0.2,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "POST", "OPTIONS"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def worker_url(url: str) -> str:
    """``url`` as the worker's base URL (no trailing slash); :class:`ClientError` naming it when it is
    not an http(s) URL with a host (``--url --json`` once reached requests as the URL ``--json``)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(
            f"worker URL {url!r} is not an http(s) URL with a host: give it as e.g. http://gpu-box:8765 "
            "(--url or MONTAGE_GPU_URL)"
        )
    if parts.query or parts.fragment:
        raise ClientError(f"worker URL {url!r} has a query or fragment: give only scheme, host, port and path")
    return url.strip().rstrip("/")


class GpuClient:
    """One worker at ``url`` with bearer ``token``; state (hash cache, job ledger) in ``state_dir``."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        state_dir: Path | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        timeout: tuple[float, float] = (5.0, 120.0),
        pool_size: int = 16,
    ) -> None:
        self.url = worker_url(url)
        self.state_dir = state_dir or default_state_dir()
        self.hashes = HashCache(self.state_dir / "hashes.json")
        self.ledger = JobLedger(self.state_dir / "jobs.json")
        self.chunk_bytes = chunk_bytes
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=_retry(), pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        token = token if token is not None else os.environ.get("MONTAGE_GPU_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.uploaded_bytes = 0  # bytes this client actually sent (dedupe/resume make it < sizes)

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        try:
            resp = self.session.request(method, f"{self.url}{path}", **kwargs)
        except requests.exceptions.RetryError as exc:
            raise ClientError(f"worker at {self.url} kept failing {method} {path}: {exc}") from exc
        except requests.exceptions.ConnectionError as exc:
            raise ClientError(
                f"cannot reach the worker at {self.url}: is `montage-bridge worker serve` running?"
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise ClientError(f"worker at {self.url} did not answer {method} {path} in time") from exc
        if resp.status_code not in ok:
            if resp.status_code == 401:
                raise ClientError(f"worker at {self.url} refused the token: set MONTAGE_GPU_TOKEN or --token")
            if resp.status_code == 503:
                detail = _detail(resp)
                raise ClientError(f"worker at {self.url} is unavailable after retries: {detail}")
            raise ClientError(f"{method} {path} failed with {resp.status_code}: {_detail(resp)}")
        return resp

    def capabilities(self) -> Capabilities:
        return Capabilities.model_validate(self._request("GET", "/v1/capabilities").json())

    def health(self) -> dict[str, Any]:
        return dict(self._request("GET", "/v1/health").json())

    # -- blobs ------------------------------------------------------------------------------

    def has_blob(self, sha256: str) -> bool:
        return self._request("HEAD", f"/v1/blobs/{sha256}", ok=(200, 404)).status_code == 200

    def upload(self, path: Path, *, max_resumes: int = 20) -> BlobRef:
        """Make sure the worker holds ``path``'s bytes; returns the input reference for a job."""
        path = Path(path)
        if not path.is_file():
            raise ClientError(f"{path}: no such file")
        sha = self.hashes.sha256(path)
        size = path.stat().st_size
        ref = BlobRef(sha256=sha, size=size, mime=MIME_BY_SUFFIX.get(path.suffix.lower(), "application/octet-stream"))
        if self.has_blob(sha):
            return ref
        resp = self._request(
            "POST", "/v1/uploads", ok=(200, 201), json={"sha256": sha, "size": size, "filename": path.name[:255]}
        )
        status = UploadStatus.model_validate(resp.json())
        resumes = 0
        while not status.complete:
            assert status.upload_id is not None
            try:
                status = self._send_from(path, status)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ClientError) as exc:
                resumes += 1
                if resumes > max_resumes:
                    raise ClientError(f"upload of {path.name} kept failing: {exc}") from exc
                time.sleep(min(5.0, 0.2 * 2**resumes))
                # Ask how much arrived and continue from there.
                resp = self._request("GET", f"/v1/uploads/{status.upload_id}", ok=(200, 404))
                if resp.status_code == 404:
                    if self.has_blob(sha):
                        return ref
                    raise ClientError(f"the worker dropped the upload of {path.name}: run the command again") from exc
                status = UploadStatus.model_validate(resp.json())
        return ref

    def _send_from(self, path: Path, status: UploadStatus) -> UploadStatus:
        """PATCH the rest of ``path`` from ``status.offset``, up to ``chunk_bytes`` a request, each
        request's body streamed from the file (never held whole); returns the final status."""
        offset = status.offset
        with path.open("rb") as handle:
            while offset < status.size:
                length = min(self.chunk_bytes, status.size - offset)
                resp = self.session.patch(
                    f"{self.url}/v1/uploads/{status.upload_id}",
                    # urllib3 sends each piece with sendall; the stubs only know bytes pieces.
                    data=_FileRegion(handle, path, offset, length),  # type: ignore[arg-type]
                    headers={"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
                    timeout=self.timeout,
                )
                if resp.status_code == 422:
                    raise ClientError(f"{path.name} changed while uploading (hash mismatch): run the command again")
                if resp.status_code != 204:
                    raise ClientError(f"upload chunk refused with {resp.status_code}: {resp.text[:200]}")
                self.uploaded_bytes += length
                offset = int(resp.headers["Upload-Offset"])
        return UploadStatus(upload_id=None, sha256=status.sha256, size=status.size, offset=offset, complete=True)

    def download(self, sha256: str, dest: Path, *, max_resumes: int = 20) -> Path:
        """Fetch blob ``sha256`` to ``dest`` (resuming a ``.part`` file), verify it, rename atomically."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_file() and self.hashes.sha256(dest) == sha256:
            return dest
        part = dest.with_name(f".{dest.name}.{sha256[:12]}.part")
        resumes = 0
        while True:
            have = part.stat().st_size if part.exists() else 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with self.session.get(
                    f"{self.url}/v1/blobs/{sha256}", headers=headers, stream=True, timeout=self.timeout
                ) as resp:
                    if resp.status_code == 416:  # we already have every byte
                        break
                    if resp.status_code == 404:
                        raise ClientError(f"output {sha256[:12]} is no longer on the worker (expired or deleted)")
                    if resp.status_code not in (200, 206):
                        raise ClientError(f"download of {sha256[:12]} failed with {resp.status_code}")
                    mode = "ab" if resp.status_code == 206 else "wb"
                    with part.open(mode) as handle:
                        for chunk in resp.iter_content(1 << 20):
                            handle.write(chunk)
                break
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                resumes += 1
                if resumes > max_resumes:
                    raise ClientError(f"download of {dest.name} kept failing: {exc}") from exc
                time.sleep(min(5.0, 0.2 * 2**resumes))
        actual = sha256_file(part)
        if actual != sha256:
            part.unlink(missing_ok=True)
            raise ClientError(f"download of {dest.name} is corrupt (sha256 {actual[:12]} ≠ {sha256[:12]}): fetch again")
        durable_replace(part, dest)
        return dest

    # -- jobs -------------------------------------------------------------------------------

    def put_job(self, job_id: str, spec: JobSpec) -> tuple[Job, bool]:
        """Create job ``job_id`` (or find the identical one): (job, created by this call).

        The ``Submit-Token`` is new for each call and the same on each resend of it (urllib3
        retries a PUT whose answer was lost), so a job this call created is reported as created
        even when the answer that said so never arrived: ``submit`` then does not run it again.
        """
        resp = self._request(
            "PUT",
            f"/v1/jobs/{job_id}",
            ok=(200, 201),
            data=spec.model_dump_json(),
            headers={"Content-Type": "application/json", "Submit-Token": uuid.uuid4().hex},
        )
        return Job.model_validate(resp.json()), resp.status_code == 201

    def submit(
        self,
        op: str,
        inputs: dict[str, Path],
        params: dict[str, Any] | None = None,
        *,
        job_id: str | None = None,
        out_dir: Path | None = None,
        labels: dict[str, str] | None = None,
        force: bool = False,
    ) -> Job:
        """Upload what is missing and create the job; the ledger remembers it for reconcile().

        Submitting a job id that already exists re-attaches to it, except that a failed or
        canceled job is run again (``retry``), and with ``force`` a succeeded one too.
        """
        refs = {name: self.upload(Path(path)) for name, path in inputs.items()}
        spec = JobSpec(op=op, inputs=refs, params=params or {}, labels=labels or {})
        job_id = job_id or uuid.uuid4().hex
        first = next(iter(inputs.values()), None)
        self.ledger.record(
            job_id,
            {
                "op": op,
                "inputs": {k: str(Path(v).resolve()) for k, v in inputs.items()},
                "out_dir": str(Path(out_dir or (Path(first).resolve().parent if first else Path.cwd()))),
                "submitted_at": time.time(),
            },
        )
        job, created = self.put_job(job_id, spec)
        if self._rerun_needed(job, created, force):
            job = self.retry(job_id, force=force)
        return job

    @staticmethod
    def _rerun_needed(job: Job, created: bool, force: bool) -> bool:
        """Whether ``submit`` must re-queue the job the PUT answered with.

        The worker answers a PUT with the job as it is by then, and a job that fails (or succeeds)
        in milliseconds is already finished when this PUT created it (201): that finished run is
        this submit's own run, and re-queueing it would run the job twice (attempt 2, issue #16).
        Only a job that existed before (200) is run again; with ``force`` also a result-cache hit,
        which ran nothing.
        """
        if job.state in (JobState.failed, JobState.canceled):
            return not created
        return force and job.state == JobState.succeeded and (job.cache_hit or not created)

    def retry(self, job_id: str, *, force: bool = False) -> Job:
        """Run a failed or canceled job again under its id (with ``force``, a succeeded one too)."""
        resp = self._request("POST", f"/v1/jobs/{job_id}/retry", params={"force": "true" if force else "false"})
        return Job.model_validate(resp.json())

    def workers(self) -> list[dict[str, Any]]:
        """Live workers as they registered: routes, ops, models, GPUs, free slots, running jobs."""
        return list(self._request("GET", "/v1/workers").json()["workers"])

    def job(self, job_id: str) -> Job:
        return Job.model_validate(self._request("GET", f"/v1/jobs/{job_id}").json())

    def jobs(self, ids: list[str] | None = None) -> list[Job]:
        params = {"ids": ",".join(ids)} if ids else {}
        return [Job.model_validate(j) for j in self._request("GET", "/v1/jobs", params=params).json()["jobs"]]

    def cancel(self, job_id: str) -> Job:
        return Job.model_validate(self._request("POST", f"/v1/jobs/{job_id}/cancel").json())

    def delete(self, job_id: str) -> None:
        self._request("DELETE", f"/v1/jobs/{job_id}", ok=(204, 404))
        self.ledger.forget(job_id)

    def reconcile(self) -> list[Job]:
        """Current state of every job in the ledger (after a restart or a lost connection)."""
        ids = list(self.ledger.load())
        found: list[Job] = []
        for start in range(0, len(ids), 200):
            found.extend(self.jobs(ids[start : start + 200]))
        return found

    def events(self, job_id: str, after: int = 0, *, max_reconnects: int = 50) -> Iterator[Event]:
        """Events of a job over SSE until its ``completed`` event; reconnects with Last-Event-ID."""
        last = after
        reconnects = 0
        while True:
            headers = {"Accept": "text/event-stream", "Last-Event-ID": str(last)}
            try:
                with self.session.get(
                    f"{self.url}/v1/jobs/{job_id}/events", headers=headers, stream=True, timeout=(5.0, 45.0)
                ) as resp:
                    if resp.status_code != 200:
                        raise ClientError(f"events of job {job_id} failed with {resp.status_code}: {resp.text[:200]}")
                    data = ""
                    for raw_line in resp.iter_lines(decode_unicode=True):
                        line = raw_line if isinstance(raw_line, str) else raw_line.decode("utf-8", "replace")
                        if line.startswith("data: "):
                            data = line[6:]
                        elif line == "" and data:
                            raw = json.loads(data)
                            data = ""
                            event = Event(
                                job_id=job_id, seq=raw["seq"], type=raw["type"], data=raw["data"], at=raw["at"]
                            )
                            last = event.seq
                            yield event
                            if event.type == "completed":
                                return
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                reconnects += 1
                if reconnects > max_reconnects:
                    raise ClientError(f"lost the event stream of job {job_id}: {exc}") from exc
                time.sleep(min(5.0, 0.2 * 2 ** min(reconnects, 5)))

    def wait(self, job_id: str, on_event: Callable[[Event], None] | None = None, timeout_s: float | None = None) -> Job:
        """Follow the job's events until it ends; returns the final job.

        A ``completed`` event of an earlier run (the job was retried, or re-run with --force) does
        not end the wait: the job must be finished now, else the new run's events are followed.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        after = 0
        while True:
            for event in self.events(job_id, after):
                after = event.seq
                if on_event:
                    on_event(event)
                if deadline and time.monotonic() > deadline:
                    raise ClientError(f"job {job_id} did not finish within {timeout_s} s")
            job = self.job(job_id)
            if job.state.terminal:
                return job

    def fetch(self, job: Job, out_dir: Path | None = None, stem: str | None = None) -> dict[str, Path]:
        """Download a succeeded job's outputs as ``STEM.OP[.NAME].EXT`` into ``out_dir``."""
        if job.state != JobState.succeeded:
            raise ClientError(f"job {job.id} is {job.state.value}, not succeeded: nothing to fetch")
        info = self.ledger.load().get(job.id, {})
        folder = Path(out_dir or info.get("out_dir") or Path.cwd())
        if stem is None:
            first_input = next(iter(info.get("inputs", {}).values()), None)
            stem = Path(first_input).stem if first_input else job.id
        results: dict[str, Path] = {}
        for out in job.outputs:
            suffix = SUFFIX_BY_MIME.get(out.mime, ".bin")
            name = f"{stem}.{job.op}{suffix}" if len(job.outputs) == 1 else f"{stem}.{job.op}.{out.name}{suffix}"
            results[out.name] = self.download(out.sha256, folder / name)
        return results


class _FileRegion:
    """``length`` bytes of an open file from ``offset``, as a request body that requests streams:
    its length gives the Content-Length, iterating reads the file 1 MiB at a time into one reused
    buffer (each piece is on the socket before the next read)."""

    def __init__(self, handle: Any, path: Path, offset: int, length: int) -> None:
        self.handle, self.path, self.offset, self.length = handle, path, offset, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[memoryview]:
        self.handle.seek(self.offset)
        buffer = bytearray(min(READ_BYTES, self.length))
        view = memoryview(buffer)
        left = self.length
        while left > 0:
            got = self.handle.readinto(view[: min(len(buffer), left)])
            if not got:
                raise ClientError(f"{self.path.name} got shorter while uploading: run the command again")
            yield view[:got]
            left -= got


def _detail(resp: requests.Response) -> str:
    try:
        detail = resp.json().get("error", resp.text)
    except (ValueError, AttributeError):
        return resp.text[:200]
    if isinstance(detail, dict):  # the request gate's {"status", "message"}
        detail = detail.get("message", detail)
    return str(detail)


def input_name(client: GpuClient, op: str) -> str:
    """The op's first required input name, from the worker's capabilities."""
    for info in client.capabilities().ops:
        if info.name == op:
            required = [name for name in info.inputs if not name.endswith("?")]
            if not required:
                raise ClientError(f"op {op} takes no input file")
            return required[0]
    raise ClientError(f"the worker has no op {op}")


def stable_job_id(op: str, sha256: str, params: dict[str, Any]) -> str:
    """A job id derived from what is computed, so resubmitting after a crash re-attaches (PUT is idempotent)."""
    blob = json.dumps({"op": op, "sha256": sha256, "params": params}, sort_keys=True).encode()
    return "mb-" + hashlib.sha256(blob).hexdigest()[:40]


def process_files(
    url: str,
    token: str | None,
    op: str,
    paths: list[Path],
    params: dict[str, Any] | None = None,
    *,
    out_dir: Path | None = None,
    state_dir: Path | None = None,
    on_event: Callable[[Path, Event], None] | None = None,
    timeout_s: float | None = None,
) -> dict[Path, Path]:
    """Run ``op`` on each file on the worker; return {input path: output path beside it (or in out_dir)}.

    This is the integration point for the pipeline (e.g. ``auto --gpu URL``): it uploads only
    what the worker lacks, re-attaches to jobs submitted before a crash (ids derive from input
    hash + op + params), downloads verified outputs atomically and then tells the worker it may
    drop the job.
    """
    client = GpuClient(url, token, state_dir=state_dir)
    name = input_name(client, op)
    params = params or {}
    submitted: dict[Path, str] = {}
    for path in paths:
        path = Path(path)
        sha = client.hashes.sha256(path)
        job_id = stable_job_id(op, sha, params)
        client.submit(op, {name: path}, params, job_id=job_id, out_dir=out_dir or path.resolve().parent)
        submitted[path] = job_id
    results: dict[Path, Path] = {}
    finals: dict[str, Job] = {}
    for path, job_id in submitted.items():
        # Identical files share one job (same id); follow it once.
        if job_id not in finals:
            finals[job_id] = client.wait(job_id, _event_for(path, on_event), timeout_s)
        job = finals[job_id]
        if job.state != JobState.succeeded:
            message = job.error.message if job.error else job.state.value
            raise ClientError(f"{op} of {path.name} {job.state.value}: {message}")
        outputs = client.fetch(job, out_dir or path.resolve().parent, stem=path.stem)
        results[path] = next(iter(outputs.values()))
    for job_id in finals:
        client.delete(job_id)  # tell the worker the outputs are safely here
    return results


def _event_for(path: Path, on_event: Callable[[Path, Event], None] | None) -> Callable[[Event], None] | None:
    """``on_event`` bound to ``path`` (one job's events name the file they are about)."""
    if on_event is None:
        return None
    return lambda event: on_event(path, event)
