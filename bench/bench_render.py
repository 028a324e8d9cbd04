"""Render speed against a plain ffmpeg transcode of the same length, size and encoder settings.

Sources: three generated clips (640x360, 25 / 29.97 / 24 fps, 12 s, test pattern + tone). The
timeline: 24 fps, 20 s, a cut every 16 frames (30 cuts) alternating the three sources, a dissolve
every fifth cut, a dialogue track and a music bed (the first clip's sound, the third's).
Each measurement is a whole process (`montage-bridge render` and `ffmpeg`), runs interleaved
(baseline, render, render with loudness + check, baseline, ...), the median of ``REPS`` reported.

The baseline is ``ffmpeg -stream_loop -1 -i a.mp4 -t 20`` through the same scale and encoder
settings (libx264 medium crf 20, AAC 192k): what a render could cost if cutting were free.
Writes bench/results/render.json.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import opentimelineio as otio  # noqa: E402

from kernel.atomic_io import write_text_atomic  # noqa: E402
from kernel.ffmpeg_tools import ffmpeg_path  # noqa: E402

REPS = 3
SECONDS = 20
SIZE = (640, 360)
SOURCES = {"a": (Fraction(25), 440), "b": (Fraction(30000, 1001), 660), "c": (Fraction(24), 880)}


def make_source(path: Path, rate: Fraction, hz: int) -> None:
    r = f"{rate.numerator}/{rate.denominator}"
    subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s={SIZE[0]}x{SIZE[1]}:r={r}:d=12",
         "-f", "lavfi", "-i", f"sine=f={hz}:r=48000:d=12",
         "-c:v", "libx264", "-preset", "veryfast", "-g", "48", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip


def rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def build_timeline(folder: Path) -> otio.schema.Timeline:
    tl_rate = Fraction(24)
    refs = {}
    for name, (rate, _) in SOURCES.items():
        frames = int(12 * rate)
        refs[name] = otio.schema.ExternalReference(
            target_url=(folder / f"{name}.mp4").as_uri(),
            available_range=otio.opentime.TimeRange(rt(0, rate), rt(frames, rate)),
            metadata={"montage_bridge": {"rate": f"{rate.numerator}/{rate.denominator}", "has_video": True}},
        )
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    names = list(SOURCES)
    cut_len = 16
    for i in range(SECONDS * 24 // cut_len):
        name = names[i % 3]
        rate = SOURCES[name][0]
        if i and i % 5 == 0:
            video.append(
                otio.schema.Transition(
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=rt(4, 24),
                    out_offset=rt(4, 24),
                )
            )
        src = int((i * 7 % 8 + 1) * rate)  # somewhere in the clip's 1..8 s, leaving handles
        video.append(
            otio.schema.Clip(
                name=name,
                media_reference=refs[name],
                source_range=otio.opentime.TimeRange(rt(src, rate), rt(cut_len, tl_rate)),
                metadata={"montage_bridge": {"source_rate": f"{rate.numerator}/{rate.denominator}"}},
            )
        )
    music = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    music.append(
        otio.schema.Clip(
            name="music", media_reference=refs["c"],
            source_range=otio.opentime.TimeRange(rt(0, 24), rt(SECONDS * 24 // 2, tl_rate)),
        )
    )  # fmt: skip
    dialogue = otio.schema.Track(name="A2", kind=otio.schema.TrackKind.Audio)
    dialogue.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0, 24), rt(48, 24))))
    dialogue.append(
        otio.schema.Clip(
            name="a", media_reference=refs["a"],
            source_range=otio.opentime.TimeRange(rt(25, 25), rt(120, tl_rate)),
            metadata={"montage_bridge": {"source_rate": "25"}},
        )
    )  # fmt: skip
    tl = otio.schema.Timeline(name="bench")
    tl.global_start_time = rt(86400, 24)
    tl.metadata["montage_bridge"] = {"rate": "24", "width": SIZE[0], "height": SIZE[1]}
    for track in (video, music, dialogue):
        tl.tracks.append(track)
    return tl


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-render-") as scratch:
        folder = Path(scratch)
        for name, (rate, hz) in SOURCES.items():
            make_source(folder / f"{name}.mp4", rate, hz)
        timeline_file = folder / "bench.otio"
        otio.adapters.write_to_file(build_timeline(folder), str(timeline_file), adapter_name="otio_json")
        cli = [sys.executable, "-m", "montage_bridge"]
        plain = [*cli, "render", str(timeline_file), "-o", str(folder / "r.mp4"), "--loudness", "off", "--no-check"]
        full = [*cli, "render", str(timeline_file), "-o", str(folder / "f.mp4")]
        baseline = [
            ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-stream_loop", "-1", "-i", str(folder / "a.mp4"), "-t", str(SECONDS),
            "-vf", f"fps=24,scale={SIZE[0]}:{SIZE[1]},format=yuv420p",
            "-c:v", "libx264", "-preset", "medium", "-crf", "20", "-c:a", "aac", "-b:a", "192k", "-ar", "48000",
            str(folder / "b.mp4"),
        ]  # fmt: skip
        times: dict[str, list[float]] = {"baseline": [], "render": [], "render_loudness_check": []}
        for _ in range(REPS):
            times["baseline"].append(timed(baseline))
            times["render"].append(timed(plain))
            times["render_loudness_check"].append(timed(full))
    medians = {k: statistics.median(v) for k, v in times.items()}
    report = {
        "timeline": f"{SECONDS} s at 24 fps, {SIZE[0]}x{SIZE[1]}, 30 cuts from 25/29.97/24 fps sources, "
        "5 dissolves, 2 audio tracks",
        "reps": REPS,
        "median_seconds": {k: round(v, 3) for k, v in medians.items()},
        "render_vs_transcode": round(medians["render"] / medians["baseline"], 2),
        "render_loudness_check_vs_transcode": round(medians["render_loudness_check"] / medians["baseline"], 2),
        "render_realtime_factor": round(SECONDS / medians["render"], 2),
        "all_seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
    }
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    write_text_atomic(results / "render.json", json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
