"""The installed distribution's version, read once and only when asked for."""

from __future__ import annotations

import functools


@functools.cache
def package_version() -> str:
    """``montage-bridge``'s version from its installed metadata (pyproject.toml's [project] version
    is the one place it is kept), or ``0+unknown`` in a source tree that was never installed.

    Read on first use, not at import: importlib.metadata costs 25–80 ms, and every CLI start, every
    analysis worker and every GPU client process imports the packages that expose ``__version__``.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("montage-bridge")
    except PackageNotFoundError:
        return "0+unknown"
