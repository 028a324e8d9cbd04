"""Compile librosa's numba kernels once, at install time, into numba's on-disk cache.

librosa builds its ``guvectorize`` kernels when ``librosa.core`` / ``librosa.util`` are first
imported, and JIT-compiles peak picking on first use; numba caches both next to librosa's own
files. On a fresh install the first music analysis therefore paid 30-70 s of compilation (measured
on a 2-core machine), and so did every process of a parallel test run that got there first. ``make
install`` runs this after pip, so the first ``auto`` (and the test suite) start warm. Where the
cache is not writable numba compiles in memory again next time: nothing breaks, it is only slower.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from analysis.beats import beat_grid

    t0 = time.perf_counter()
    sr = 22050
    # Eight seconds of clicks at 120 BPM: a steady beat takes every path beat_grid compiles (onset
    # envelope, tempo, onset picking, the tempo fit); a beatless tone takes the "no beat" path.
    clicks = np.zeros(8 * sr, dtype=np.float32)
    for start in range(0, clicks.size - 400, sr // 2):
        clicks[start : start + 400] = np.hanning(400) * np.sin(np.arange(400) * 0.6)
    beat_grid(clicks, sr)
    tone = (0.1 * np.sin(np.arange(8 * sr) * 2 * np.pi * 220 / sr)).astype(np.float32)
    beat_grid(tone, sr)
    print(f"librosa's numba kernels ready ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
