"""Remote GPU worker: a job server (FastAPI + SQLite, optional Celery scale-out) and its client.

Independent of the rest of Montage Bridge except for the ``kernel`` layer (errors, atomic
writes, ffmpeg lookup). See gpu_remote/README.md for the protocol and the scale-out recipe.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("montage-bridge")  # the worker ships in the montage-bridge distribution (pyproject.toml)
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
