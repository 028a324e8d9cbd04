"""An S3-compatible object store as the farm's shared blob store (``--blobs s3://BUCKET/PREFIX``).

Blobs are content-addressed, so the bucket holds each one once under ``PREFIX/sha256/<hex>`` and
never rewrites it. Every machine keeps its own blob folder as a cache (``gpu_remote/blobs.py``);
the bucket is the source of truth between machines: a finished upload and every job output are
put here before anyone is told they exist, and a machine that lacks a blob fetches it, checks its
sha256 and renames it into its cache. Big files go up and down through boto3's managed transfer
(multipart above :data:`MULTIPART_THRESHOLD`).

Errors are sorted for the caller: an endpoint that does not answer, throttling and 5xx are
:class:`BlobStoreUnavailable` (transient: the API answers 503 + Retry-After, a runner waits);
a missing bucket or refused credentials at start-up are a :class:`WorkerConfigError` naming the
bucket and endpoint. Credentials and region come from boto3's usual sources (``AWS_ACCESS_KEY_ID``
/ ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``AWS_DEFAULT_REGION``,
instance roles); the endpoint from ``--s3-endpoint`` (``MONTAGE_S3_ENDPOINT``) or
``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gpu_remote.errors import DatabaseUnavailable, WorkerConfigError

MULTIPART_THRESHOLD = 64 << 20  # files above this go up in parts (S3's single PUT tops out at 5 GiB)
MULTIPART_CHUNK = 64 << 20
TRANSFER_THREADS = 4

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_TRANSIENT_CODES = {"SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable"}
_REFUSED_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AllAccessDisabled",
}


class BlobStoreUnavailable(DatabaseUnavailable):
    """The shared blob store (S3) did not answer or answered with a transient error; nothing was
    stored there. Like a lost job database: routes answer 503 + Retry-After and a runner waits
    and tries again (blobs are content-addressed, so a repeated put or get is harmless)."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → (``bucket``, ``some/prefix/``); a clear error for anything else."""
    if not url.startswith("s3://"):
        raise WorkerConfigError(
            f"--blobs must be s3://BUCKET[/PREFIX] (or left out: blobs stay in --data), not {url!r}"
        )
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise WorkerConfigError(
            f"--blobs {url!r}: {bucket!r} is not a valid S3 bucket name (3-63 characters of a-z 0-9 . -)"
        )
    prefix = prefix.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise WorkerConfigError(f"--blobs {url!r}: the prefix has an empty, '.' or '..' part")
    return bucket, (prefix + "/" if prefix else "")


def _error_code(exc: Exception) -> tuple[str, int]:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


class S3Blobs:
    """Blobs in one bucket under one prefix. Thread-safe (one boto3 client, shared)."""

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunk: int = MULTIPART_CHUNK,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 30.0,
    ) -> None:
        try:
            import boto3
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config
        except ImportError as exc:
            raise WorkerConfigError("--blobs s3:// needs boto3: pip install 'montage-bridge[s3]'") from exc
        self.url = url
        self.bucket, self.prefix = parse_s3_url(url)
        self.endpoint_url = endpoint_url or None
        config = Config(
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"max_attempts": 2, "mode": "standard"},  # the callers wait and retry for longer
            region_name=region or None,
        )
        self.client: Any = boto3.client("s3", endpoint_url=self.endpoint_url, config=config)
        self.where = f"s3://{self.bucket}/{self.prefix}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunk,
            max_concurrency=TRANSFER_THREADS,
        )

    def key(self, sha256: str) -> str:
        return f"{self.prefix}sha256/{sha256}"

    # -- errors -----------------------------------------------------------------------------

    def _failure(self, exc: Exception, doing: str) -> Exception:
        """The error to raise for a boto3/botocore failure while ``doing`` something."""
        from botocore.exceptions import NoCredentialsError, PartialCredentialsError

        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return BlobStoreUnavailable(
                f"the blob store {self.where} cannot be used while {doing}: no S3 credentials "
                "(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
            )
        code, status = _error_code(exc)
        if code == "NoSuchBucket":
            return BlobStoreUnavailable(f"the S3 bucket {self.bucket!r} does not exist ({self.where}) while {doing}")
        if code in _REFUSED_CODES or status == 403:
            return BlobStoreUnavailable(
                f"the blob store {self.where} refused the S3 credentials ({code or status}) while {doing}"
            )
        detail = f"{exc.__class__.__name__}: {exc}"[:300]
        return BlobStoreUnavailable(f"the blob store {self.where} is unreachable while {doing} ({detail})")

    # -- start-up ---------------------------------------------------------------------------

    def check(self) -> None:
        """At start-up: the bucket exists and these credentials may use it, else one line naming it."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise WorkerConfigError(
                f"--blobs {self.url}: no S3 credentials found; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
            ) from exc
        except ClientError as exc:
            code, status = _error_code(exc)
            if status == 404 or code in ("NoSuchBucket", "404"):
                raise WorkerConfigError(
                    f"--blobs {self.url}: the S3 bucket {self.bucket!r} does not exist"
                    + (f" at {self.endpoint_url}" if self.endpoint_url else "")
                    + "; create it or fix --blobs"
                ) from exc
            if status == 403 or code in _REFUSED_CODES:
                raise WorkerConfigError(
                    f"--blobs {self.url}: the S3 endpoint refused these credentials for bucket {self.bucket!r} "
                    f"({code or status}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy"
                ) from exc
            raise WorkerConfigError(f"--blobs {self.url}: bucket {self.bucket!r} answered {code or status}") from exc
        except BotoCoreError as exc:
            raise WorkerConfigError(
                f"--blobs {self.url}: cannot reach the S3 endpoint "
                f"{self.endpoint_url or '(AWS default)'} for bucket {self.bucket!r} ({exc}); "
                "check --s3-endpoint / AWS_ENDPOINT_URL and that the service runs"
            ) from exc

    # -- objects ----------------------------------------------------------------------------

    def head(self, sha256: str) -> int | None:
        """Size of the object holding ``sha256``, or None if the bucket has none."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as exc:
            code, status = _error_code(exc)
            if status == 404 or code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._failure(exc, f"looking for blob {sha256[:12]}") from exc
        except BotoCoreError as exc:
            raise self._failure(exc, f"looking for blob {sha256[:12]}") from exc
        return int(answer["ContentLength"])

    def put(self, path: Path, sha256: str) -> None:
        """Upload ``path`` (already verified to hash to ``sha256``) as its object; multipart when big."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.upload_file(
                str(path),
                self.bucket,
                self.key(sha256),
                ExtraArgs={"Metadata": {"sha256": sha256}, "ContentType": "application/octet-stream"},
                Config=self.transfer,
            )
        except S3UploadFailedError as exc:  # wraps the ClientError of a failed part or PUT
            cause = exc.__cause__ or exc.__context__
            raise self._failure(cause if isinstance(cause, Exception) else exc, f"storing blob {sha256[:12]}") from exc
        except (BotoCoreError, ClientError) as exc:
            raise self._failure(exc, f"storing blob {sha256[:12]}") from exc

    def get(self, sha256: str, dest: Path) -> bool:
        """Download the object of ``sha256`` to ``dest`` (overwritten); False if the bucket has none.
        The caller verifies the bytes."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.download_file(self.bucket, self.key(sha256), str(dest), Config=self.transfer)
        except ClientError as exc:
            code, status = _error_code(exc)
            if status == 404 or code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._failure(exc, f"fetching blob {sha256[:12]}") from exc
        except BotoCoreError as exc:
            raise self._failure(exc, f"fetching blob {sha256[:12]}") from exc
        return True

    def delete(self, sha256: str) -> None:
        """Remove the object of ``sha256`` (one found not to hold those bytes)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))
        except (BotoCoreError, ClientError) as exc:
            raise self._failure(exc, f"removing the corrupt object of blob {sha256[:12]}") from exc


def open_blob_store_remote(url: str | None, *, endpoint_url: str | None, region: str | None) -> S3Blobs | None:
    """The shared store ``--blobs`` names (checked: bucket reachable, credentials accepted), or None."""
    if not url:
        return None
    remote = S3Blobs(url, endpoint_url=endpoint_url, region=region)
    remote.check()
    return remote
