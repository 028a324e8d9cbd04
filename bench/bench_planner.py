"""Heuristic planners and the LLM summary on synthetic libraries of growing size.

Writes bench/results/planner.json: wall seconds per planner per library size (clips × 10 shots,
a 4-minute 120 BPM track with a varying energy curve, 60 s target).
"""

from __future__ import annotations

import json
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.models import AnalysisResult  # noqa: E402
from kernel.atomic_io import write_text_atomic  # noqa: E402
from planner.brief import Brief  # noqa: E402
from planner.heuristic import plan_heuristic  # noqa: E402
from planner.llm_summary import estimate_tokens, summarize  # noqa: E402
from planner.style import load_style  # noqa: E402
from tests.planner.synth import make_clip, make_music, speech  # noqa: E402

SIZES = (20, 200, 1000)


def library(n: int) -> AnalysisResult:
    words = [[(k + 0.1, k + 0.5, "word"), (k + 0.6, k + 0.9, "um")] for k in range(0, 40, 2)]
    clips = [
        make_clip(
            i,
            Fraction(25),
            [125 + (i * 37 + k * 11) % 200 for k in range(10)],
            [(i % 7 / 7, k / 10) for k in range(10)],
            transcript=speech(words) if i % 10 == 0 else None,
        )
        for i, k in ((i, 0) for i in range(n))
    ]
    energy = [0.5 + 0.45 * ((t // 40) % 2 * 2 - 1) for t in range(480)]
    return AnalysisResult(clips=clips, music=make_music(120, 240, energy=energy))


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main() -> None:
    report: dict[str, dict] = {}
    for n in SIZES:
        analysis = library(n)
        row: dict[str, float | int] = {}
        for mode, style in (("music_montage", "dynamic"), ("highlights", "dynamic"), ("talking_head", "vlog")):
            brief = Brief(mode=mode, target_duration_seconds=60)
            seconds, plan = timed(lambda a=analysis, b=brief, s=style: plan_heuristic(a, b, load_style(s)))
            row[f"{mode}_seconds"] = round(seconds, 3)
            row[f"{mode}_cuts"] = len(plan.cuts)
        seconds, summary = timed(lambda a=analysis: summarize(a, Brief(), 6000))
        row["llm_summary_seconds"] = round(seconds, 3)
        row["llm_summary_tokens"] = estimate_tokens(summary)
        report[f"{n}_clips"] = row
    (Path(__file__).parent / "results").mkdir(exist_ok=True)
    write_text_atomic(Path(__file__).parent / "results" / "planner.json", json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
