"""EditPlan → OTIO timeline, and OTIO timelines ↔ interchange files."""

from __future__ import annotations

import importlib
from typing import Any

# The curated public API: each name, and the module that defines it. Imported on first use (PEP 562),
# so ``import nle_adapters`` stays cheap and a CLI start pays only for what it uses.
_EXPORTS: dict[str, str] = {
    "build_timeline": "nle_adapters.plan_to_otio",
    "read_timelines": "nle_adapters.convert",
    "ConvertOptions": "nle_adapters.convert",
    "write_timeline_files": "nle_adapters.write_files",
    "analyze_losses": "nle_adapters.loss_report",
    "LossReport": "nle_adapters.loss_report",
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
