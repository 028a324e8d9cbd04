"""End-to-end `auto` on the generated sample media: wall time per stage, and footage real time.

Writes bench/results/auto.json. The stages are timed in one process after a warm-up run, so
numba's one-off JIT compile (20–30 s on a fresh machine) is reported separately.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernel.atomic_io import write_text_atomic  # noqa: E402
from montage_bridge.pipeline import run_auto  # noqa: E402

SAMPLE = Path(".sample-media")


def main() -> None:
    stages: dict[str, float] = {}
    last = [time.perf_counter(), ""]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        key = stage.split(":")[0]
        stages[key] = stages.get(key, 0.0) + now - last[0]
        last[0] = now

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        run_auto(SAMPLE / "footage", SAMPLE / "music.wav", Path(out), duration_seconds=20)
        cold = time.perf_counter() - t0
        stages.clear()
        last[0] = time.perf_counter()
        t0 = time.perf_counter()
        result = run_auto(SAMPLE / "footage", SAMPLE / "music.wav", Path(out), duration_seconds=20, progress=progress)
        warm = time.perf_counter() - t0
    footage_seconds = sum(c.media.duration_seconds for c in result.analysis.clips)
    report = {
        "cold_seconds": round(cold, 3),
        "warm_seconds": round(warm, 3),
        "footage_seconds": round(footage_seconds, 3),
        "realtime_factor_warm": round(footage_seconds / warm, 2),
        "stages_warm_seconds": {k: round(v, 3) for k, v in stages.items()},
        "cuts": len(result.plan.cuts),
    }
    (Path(__file__).parent / "results").mkdir(exist_ok=True)
    write_text_atomic(Path(__file__).parent / "results" / "auto.json", json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
