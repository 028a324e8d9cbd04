"""DaVinci Resolve: connecting (in Resolve, or from outside through its scripting module), reading the
media pool, building a timeline with the API, the Scripts-menu entries, and the in-process fake Resolve
the tests use."""

from __future__ import annotations

import importlib
from typing import Any

# The curated public API: each name, and the module that defines it. Imported on first use (PEP 562),
# so ``import resolve_bridge`` stays cheap and a CLI start pays only for what it uses.
_EXPORTS: dict[str, str] = {
    "build_in_resolve": "resolve_bridge.timeline_builder",
    "append_clips": "resolve_bridge.apply",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
