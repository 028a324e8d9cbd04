"""EditPlan → OTIO timeline, and OTIO timelines ↔ interchange files."""

from __future__ import annotations

from kernel.lazy_api import lazy_exports

# The curated public API: each name, and the module that defines it (loaded on first use).
_EXPORTS: dict[str, str] = {
    "build_timeline": "nle_adapters.plan_to_otio",
    "read_timelines": "nle_adapters.convert",
    "ConvertOptions": "nle_adapters.convert",
    "write_timeline_files": "nle_adapters.write_files",
    "analyze_losses": "nle_adapters.loss_report",
    "LossReport": "nle_adapters.loss_report",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
