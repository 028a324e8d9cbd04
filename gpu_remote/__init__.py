"""Remote GPU worker: a job server (FastAPI + SQLite, optional Celery scale-out) and its client.

Independent of the rest of Montage Bridge except for the ``kernel`` layer (errors, atomic
writes, ffmpeg lookup). See gpu_remote/README.md for the protocol and the scale-out recipe.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # ``__version__`` is computed on first use (see kernel.package_version): a client process that
    # only uploads a file never needs it. The worker ships in the montage-bridge distribution.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from kernel.package_version import package_version

    return package_version()
