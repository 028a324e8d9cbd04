"""DaVinci Resolve: connecting (in Resolve, or from outside through its scripting module), reading the
media pool, building a timeline with the API, the Scripts-menu entries, and the in-process fake Resolve
the tests use."""

from __future__ import annotations

from kernel.lazy_api import lazy_exports

# The curated public API: each name, and the module that defines it (loaded on first use).
_EXPORTS: dict[str, str] = {
    "build_in_resolve": "resolve_bridge.timeline_builder",
    "append_clips": "resolve_bridge.apply",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
