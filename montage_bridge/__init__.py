"""Montage Bridge: footage in, an edited timeline in your NLE out."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # ``__version__`` is read from the installed distribution's metadata, so pyproject.toml's
    # [project] version is the one place it is kept. Computed on first use: importlib.metadata
    # costs ~25 ms, and every CLI start (and every analysis worker process) imports this package.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("montage-bridge")
    except PackageNotFoundError:  # a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
