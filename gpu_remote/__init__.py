"""Remote GPU worker: a job server (FastAPI + SQLite, optional Celery scale-out) and its client.

Independent of the rest of Montage Bridge except for the ``kernel`` layer (errors, atomic
writes, ffmpeg lookup). See gpu_remote/README.md for the protocol and the scale-out recipe.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # ``__version__`` is looked up when asked for: importlib.metadata costs ~80 ms of start-up,
    # which a client process that only uploads a file never needs.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("montage-bridge")  # the worker ships in the montage-bridge distribution
        except PackageNotFoundError:  # a source tree that was never installed
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
