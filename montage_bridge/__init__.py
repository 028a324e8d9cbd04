"""Montage Bridge: footage in, an edited timeline in your NLE out."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # ``__version__`` is computed on first use (see kernel.package_version).
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from kernel.package_version import package_version

    return package_version()
