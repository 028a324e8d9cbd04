"""Footage and music analysis: one decode pass per clip (shots, picture quality, motion, faces), beats
and sections of the music, speech, and the analysis cache."""

from __future__ import annotations

import importlib
from typing import Any

# The curated public API: each name, and the module that defines it. Imported on first use (PEP 562),
# so ``import analysis`` stays cheap and a CLI start pays only for what it uses.
_EXPORTS: dict[str, str] = {
    "analyze_paths": "analysis.engine",
    "EngineOptions": "analysis.engine",
    "analyze_music": "analysis.beats",
    "beat_grid": "analysis.beats",
    "AnalysisResult": "analysis.models",
    "ClipAnalysis": "analysis.models",
    "Shot": "analysis.models",
    "ShotQuality": "analysis.models",
    "MusicAnalysis": "analysis.models",
    "BeatGrid": "analysis.models",
    "Transcript": "analysis.models",
    "AnalysisCache": "analysis.cache",
    "transcribe_file": "analysis.speech",
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
