"""Every real timeline file the interchange matrix runs on: tests/data, plus ../shared/corpus when
present (the lossless-cut files are GPL and live only there; without it they are not collected).

``CORPUS`` is a list of (id, kind, path); kind is the folder name (fcpxml, fcp7xml, edl, otio, aaf).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from tests.conftest import SHARED_CORPUS, TEST_DATA

KINDS = ("fcpxml", "fcp7xml", "edl", "otio", "aaf")
SUFFIXES = {".fcpxml", ".xml", ".edl", ".otio", ".aaf"}

# An EDL states no rate: these come from corpus/SOURCES.md and the files' FCM lines (as in
# tests/interchange/test_edl_corpus.py); every other EDL in the corpus is 24 fps.
EDL_RATES: dict[str, Fraction] = {
    "lossless-cut__edl-genius_cmx3600.edl": Fraction(30000, 1001),
    "lossless-cut__edl-genius_cmx3600_5994.edl": Fraction(60000, 1001),
    "lossless-cut__edl-genius_12_16_TL01_MUSIC.edl": Fraction(30000, 1001),
    "lossless-cut__cmx3600_edlx_5994.edl": Fraction(60000, 1001),
}


def edl_rate(path: Path) -> Fraction:
    return EDL_RATES.get(path.name, Fraction(24))


def _collect() -> list[tuple[str, str, Path]]:
    found: dict[str, tuple[str, str, Path]] = {}
    for root in (TEST_DATA, SHARED_CORPUS):
        for kind in KINDS:
            folder = root / kind
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.is_file() and path.suffix.lower() in SUFFIXES and path.name not in found:
                    found[path.name] = (path.name, kind, path)
    return sorted(found.values(), key=lambda f: (KINDS.index(f[1]), f[0]))


CORPUS: list[tuple[str, str, Path]] = _collect()

__all__ = ["CORPUS", "EDL_RATES", "edl_rate"]
