"""`montage-bridge worker`: run the remote GPU worker (HTTP server, or a Celery worker process)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from gpu_remote.errors import WorkerConfigError
from kernel.paths import data_dir

worker_app = typer.Typer(help="Run the remote GPU worker.", no_args_is_help=True)

DEFAULT_DATA = data_dir() / "worker"


def _config(
    data: Path,
    max_upload_gb: float,
    disk_budget_gb: float,
    slots: int,
    lease_s: float,
    backend: str,
    broker,
    max_queued: int = 10_000,
    max_attempts: int = 3,
    retry_backoff_s: float = 2.0,
    republish_after_s: float = 30.0,
    reaper_interval_s: float = 5.0,
    store: str | None = None,
    webhook_secret: str | None = None,
    webhook_allow_private: bool = False,
    webhook_ca_file: Path | None = None,
):  # type: ignore[no-untyped-def]
    from gpu_remote.runner import RunnerSettings
    from gpu_remote.server import WorkerConfig

    return WorkerConfig(
        data_dir=data.expanduser().resolve(),
        max_upload_bytes=int(max_upload_gb * (1 << 30)),
        disk_budget_bytes=int(disk_budget_gb * (1 << 30)),
        runner=RunnerSettings(lease_s=lease_s, heartbeat_s=max(0.5, lease_s / 6), slots=slots),
        backend=backend,
        broker_url=broker,
        max_queued=max_queued,
        max_attempts=max_attempts,
        retry_backoff_s=retry_backoff_s,
        republish_after_s=republish_after_s,
        reaper_interval_s=reaper_interval_s,
        store=store,
        webhook_secret=webhook_secret,
        webhook_allow_private=webhook_allow_private,
        webhook_ca_file=str(webhook_ca_file.expanduser().resolve()) if webhook_ca_file else None,
    )


# One --store for the gateway and every Celery worker: they must name the same job database.
StoreOpt = Annotated[
    Optional[str],
    typer.Option(
        "--store",
        envvar="MONTAGE_WORKER_STORE",
        help="Job database: postgresql://USER@HOST/DB to share state across machines (default: SQLite in --data).",
    ),
]

# One --blobs for the gateway and every Celery worker: the shared blob store (S3) they all use.
BlobsOpt = Annotated[
    Optional[str],
    typer.Option(
        "--blobs",
        envvar="MONTAGE_WORKER_BLOBS",
        help="Shared blob store s3://BUCKET/PREFIX (any S3-compatible service; --data/blobs becomes this "
        "machine's cache). Default: blobs live in --data. Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.",
    ),
]
S3EndpointOpt = Annotated[
    Optional[str],
    typer.Option(
        "--s3-endpoint",
        envvar="MONTAGE_S3_ENDPOINT",
        help="Endpoint URL of the S3-compatible service, e.g. http://minio:9000 (default: AWS, or AWS_ENDPOINT_URL).",
    ),
]
S3RegionOpt = Annotated[
    Optional[str], typer.Option("--s3-region", help="S3 region (default: AWS_DEFAULT_REGION / AWS_REGION).")
]


@worker_app.command("serve")
def serve_cmd(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (non-loopback needs a token).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8765,
    data: Annotated[Path, typer.Option("--data", help="Folder for the job database and blobs.")] = DEFAULT_DATA,
    max_upload_gb: Annotated[float, typer.Option("--max-upload-gb", min=0.0)] = 64.0,
    disk_budget_gb: Annotated[float, typer.Option("--disk-budget-gb", min=0.0)] = 500.0,
    slots: Annotated[int, typer.Option("--slots", min=1, help="Jobs run at once (embedded backend).")] = 1,
    max_queued: Annotated[int, typer.Option("--max-queued", min=1, help="Queued jobs before 429.")] = 10_000,
    lease_s: Annotated[float, typer.Option("--lease-s", min=1.0, help="Seconds a job lease lasts unrenewed.")] = 30.0,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", min=1, help="Runs per job (lost workers, retryable errors).")
    ] = 3,
    retry_backoff_s: Annotated[
        float, typer.Option("--retry-backoff-s", min=0.0, help="Wait before the first automatic retry (doubles).")
    ] = 2.0,
    republish_after_s: Annotated[
        float,
        typer.Option("--republish-after-s", min=0.1, help="celery: re-send a queued job nobody took after this."),
    ] = 30.0,
    reaper_interval_s: Annotated[
        float, typer.Option("--reaper-interval-s", min=0.1, help="How often expired leases are looked for.")
    ] = 5.0,
    backend: Annotated[str, typer.Option("--backend", help="embedded (default) or celery.")] = "embedded",
    broker: Annotated[Optional[str], typer.Option("--broker", help="Redis URL for --backend celery.")] = None,
    store: StoreOpt = None,
    blobs: BlobsOpt = None,
    s3_endpoint: S3EndpointOpt = None,
    s3_region: S3RegionOpt = None,
    webhook_secret: Annotated[
        Optional[str],
        typer.Option(
            "--webhook-secret",
            envvar="MONTAGE_WEBHOOK_SECRET",
            help="HMAC-SHA256 key signing job webhooks (jobs may ask for a webhook only when set).",
        ),
    ] = None,
    webhook_allow_private: Annotated[
        bool,
        typer.Option(
            "--webhook-allow-private",
            envvar="MONTAGE_WEBHOOK_ALLOW_PRIVATE",
            help="Let webhooks go to loopback and private addresses (in-house receivers); "
            "link-local and cloud metadata addresses stay refused.",
        ),
    ] = False,
    webhook_ca_file: Annotated[
        Optional[Path],
        typer.Option(
            "--webhook-ca-file",
            envvar="MONTAGE_WEBHOOK_CA_FILE",
            exists=True,
            dir_okay=False,
            help="PEM CA bundle that https webhook receivers' certificates are checked against "
            "(default: the public CAs of certifi); for in-house receivers with a private CA.",
        ),
    ] = None,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="No token (allowed on loopback only).")] = False,
    rotate_token: Annotated[bool, typer.Option("--rotate-token", help="Make a new token, print it once.")] = False,
) -> None:
    """Serve the worker API. On first start a token is created and printed once; keep it."""
    from gpu_remote.auth import TokenAuth, check_bind, load_or_create_token
    from gpu_remote.server import Worker, serve

    if backend not in ("embedded", "celery"):
        raise WorkerConfigError(f"--backend must be embedded or celery, not {backend}")
    config = _config(
        data,
        max_upload_gb,
        disk_budget_gb,
        slots,
        lease_s,
        backend,
        broker,
        max_queued,
        max_attempts,
        retry_backoff_s,
        republish_after_s,
        reaper_interval_s,
        store,
        webhook_secret,
        webhook_allow_private,
        webhook_ca_file,
    )
    config.blobs, config.s3_endpoint, config.s3_region = blobs, s3_endpoint, s3_region
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if no_auth:
        auth, new_token = TokenAuth(None), None
    else:
        auth, new_token = load_or_create_token(config.data_dir, rotate=rotate_token)
    check_bind(host, auth)
    if new_token:
        print(f"worker token (shown once; set MONTAGE_GPU_TOKEN on the client): {new_token}", flush=True)
    worker = Worker(config, auth)
    serve(
        worker,
        host,
        port,
        on_ready=lambda _t, bound: print(f"serving {config.data_dir} on http://{host}:{bound} ({backend})", flush=True),
    )


@worker_app.command("celery")
def celery_cmd(
    data: Annotated[Path, typer.Option("--data", help="The data folder the HTTP gateway uses.")] = DEFAULT_DATA,
    broker: Annotated[
        str, typer.Option("--broker", help="Redis URL, e.g. redis://127.0.0.1:6379/0.")
    ] = "redis://127.0.0.1:6379/0",
    name: Annotated[str, typer.Option("--name", help="Worker node name (unique per GPU).")] = "gpu@%h",
    lease_s: Annotated[float, typer.Option("--lease-s", min=1.0)] = 30.0,
    routes: Annotated[
        Optional[str],
        typer.Option(
            "--routes", help="Comma-separated queues to serve, e.g. gpu.generate,gpu.upscale (default: all it can run)."
        ),
    ] = None,
    store: StoreOpt = None,
    blobs: BlobsOpt = None,
    s3_endpoint: S3EndpointOpt = None,
    s3_region: S3RegionOpt = None,
    disk_budget_gb: Annotated[
        float, typer.Option("--disk-budget-gb", min=0.0, help="With --blobs s3://: room for this machine's cache.")
    ] = 500.0,
) -> None:
    """Run one Celery worker (one per GPU) executing jobs queued through `worker serve --backend celery`."""
    from gpu_remote.celery_backend import run_celery_worker
    from gpu_remote.routing import ROUTE_PREFIX

    wanted = [r.strip() for r in routes.split(",") if r.strip()] if routes else None
    for route in wanted or []:
        if not route.startswith(ROUTE_PREFIX):
            raise WorkerConfigError(f"--routes: {route!r} is not a route (they start with {ROUTE_PREFIX!r})")
    sys.exit(
        run_celery_worker(
            broker,
            data.expanduser().resolve(),
            name=name,
            lease_s=lease_s,
            routes=wanted,
            store=store,
            blobs_url=blobs,
            s3_endpoint=s3_endpoint,
            s3_region=s3_region,
            disk_budget_bytes=int(disk_budget_gb * (1 << 30)),
        )
    )
