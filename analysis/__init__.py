"""Footage and music analysis: one decode pass per clip (shots, picture quality, motion, faces), beats
and sections of the music, speech, and the analysis cache."""

from __future__ import annotations

from kernel.lazy_api import lazy_exports

# The curated public API: each name, and the module that defines it (loaded on first use).
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
