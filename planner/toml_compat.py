"""TOML reading on every supported Python: ``tomllib`` (3.11+) or its backport ``tomli`` (3.10)."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib as toml_reader
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as toml_reader

TOMLDecodeError = toml_reader.TOMLDecodeError


def loads(text: str) -> dict:
    """Parse TOML text into a dict; raises :data:`TOMLDecodeError` with line and column."""
    return toml_reader.loads(text)
