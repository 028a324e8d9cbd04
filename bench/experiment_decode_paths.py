"""Decoding less than a full decode for `analyze` (issue #12): what each way costs, and what it changes.

`analyze` decodes every frame (full loop filter), scales it to 256 px and stacks two strips of
source pixels under it for the picture-quality measures (analysis/frame_pass.py). Two ways to
decode less were proposed; this measures both against that command, as ffmpeg processes
(CPU-s = user + sys from ``os.wait4``, interleaved, medians of ``--rounds``):

(a) the analysis stream decoded with ``-skip_loop_filter all`` (small frames only), plus a second,
    full-fidelity decode that returns the source strips of the quality-sample frames (every
    ``quality_step``-th frame, selected by index). Also: does skipping the loop filter change the
    small frames (and so the cuts and the per-frame measures)?
(b) a first pass that decodes reference frames only (``-skip_frame noref``) and finds candidate
    cuts at a lowered bar, then an exact pass over a window around each candidate (``-ss`` before
    ``-i``: frame-accurate, re-decoding from the keyframe before it). Do the candidates cover every
    cut the full decode finds?

Clips: the bench clips at 720p and 1080p (x264 veryfast defaults: on this noisy picture x264 puts
only ~14% of frames in non-reference B-frames), and the 720p clip re-encoded without B-frames
(``-bf 0``, IPPP) and with three B-frames always (``b-adapt=0``).

Not part of `make bench` (it takes ~10 min on 2 cores); run it when the decode path changes.
Usage: ``python bench/experiment_decode_paths.py [--rounds 3] [--clips 720,1080,720-ippp,720-bbb]``;
results in bench/results/decode_paths.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analysis.frame_pass import (  # noqa: E402
    FramePassOptions,
    ShotDetector,
    _filter_graph,
    analysis_size,
    quality_step,
    source_strips,
)
from kernel.atomic_io import write_text_atomic  # noqa: E402
from kernel.ffmpeg_tools import ffmpeg_path  # noqa: E402
from kernel.probe import probe_media  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "decode_paths.json"
_TAIL = ["-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough", "-pix_fmt", "bgr24", "-f", "rawvideo"]
_TAIL += ["pipe:1"]
# Pass 1 of (b): a candidate is a content change between consecutive decoded frames of at least
# this much, at least this many times its neighbours' mean (the exact detector asks 15 and 3).
_CANDIDATE_CONTENT = 8.0
_CANDIDATE_RATIO = 1.5


def _run(argv: list[str]) -> tuple[bytes, bytes]:
    """stdout and stderr of one ffmpeg process; a failure ends the benchmark with ffmpeg's words."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"ffmpeg failed ({proc.returncode}): {' '.join(argv)}\n{err.decode()[-800:]}")
    return out, err


def _cpu(argv: list[str]) -> tuple[bytes, bytes, float]:
    """stdout, stderr and CPU-s (user + sys) of one process, from the reaped children's rusage."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out, err = _run(argv)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, err, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def _clip(name: str) -> Path:
    from bench_analysis import make_clip

    height, _, variant = name.partition("-")
    clip, _ = make_clip(int(height))
    if not variant:
        return clip
    target = clip.with_name(f"{clip.stem}_{variant}.mp4")
    if not target.is_file():
        x264 = {"ippp": ["-bf", "0"], "bbb": ["-x264-params", "bframes=3:b-adapt=0"]}[variant]
        tmp = target.with_suffix(".part.mp4")
        cmd = [ffmpeg_path(), "-nostdin", "-loglevel", "error", "-y", "-i", str(clip), "-c:v", "libx264"]
        cmd += ["-preset", "veryfast", "-crf", "23", "-g", "50", *x264, "-pix_fmt", "yuv420p", str(tmp)]
        _run(cmd)
        tmp.replace(target)
    return target


def _frames(data: bytes, size: int) -> list[np.ndarray]:
    return [np.frombuffer(data, np.uint8, size, k * size) for k in range(len(data) // size)]


def _cuts(frames: list[np.ndarray], h: int, w: int) -> list[int]:
    detector = ShotDetector(FramePassOptions())
    found = []
    for index, frame in enumerate(frames):
        cut = detector.process(index, frame.reshape(h, w, 3))
        if cut is not None:
            found.append(cut)
    return found


def measure(name: str, rounds: int) -> dict:
    clip = _clip(name)
    media = probe_media(clip)
    w, h = analysis_size(media, 256)
    strips = source_strips(media, 256)
    fps = float(media.rate)
    step = quality_step(fps, FramePassOptions().min_scene_len)
    small = f"scale={w}:{h}:flags=bilinear"
    head = [ffmpeg_path(), "-hide_banner", "-nostdin", "-threads", "1"]
    quiet = ["-loglevel", "error"]
    src_w, _ = media.display_size
    x = (src_w - w) // 2 // 16 * 16
    crops = ";".join(f"[p{i}]crop={w}:{sh}:{x}:{y}[s{i}]" for i, (y, sh) in enumerate(strips))
    stack = "".join(f"[s{i}]" for i in range(len(strips)))
    exact_strips = f"select='not(mod(n\\,{step}))',split={len(strips)}" + "".join(f"[p{i}]" for i in range(len(strips)))
    exact_strips += f";{crops};{stack}vstack=inputs={len(strips)}"
    commands = {
        "anchor": [ffmpeg_path(), "-nostdin", *quiet, "-threads", "2", "-i", str(clip), "-f", "null", "-"],
        "current": [*head, *quiet, "-i", str(clip), "-vf", _filter_graph(media, w, h, strips), *_TAIL],
        "small_full": [*head, *quiet, "-i", str(clip), "-vf", small, *_TAIL],
        "a_small_skip_loop_filter": [*head, *quiet, "-skip_loop_filter", "all", "-i", str(clip), "-vf", small, *_TAIL],
        "a_exact_strips": [*head, *quiet, "-i", str(clip), "-vf", exact_strips, *_TAIL],
        "b_reference_frames": [
            *head,
            "-loglevel",
            "info",
            "-skip_frame",
            "noref",
            "-i",
            str(clip),
            "-vf",
            f"{small},showinfo",
            *_TAIL,
        ],
    }
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    outputs: dict[str, tuple[bytes, bytes]] = {}
    for _ in range(rounds):
        for key, argv in commands.items():
            out, err, seconds = _cpu(argv)
            cpu[key].append(seconds)
            outputs[key] = (out, err)
    med = {k: round(statistics.median(v), 2) for k, v in cpu.items()}
    size = w * h * 3
    # The frames `analyze` sees: the top of each stacked frame of its own filter graph (the scale
    # there outputs yuv420p and the conversion to BGR follows the stack, so these differ slightly
    # from a plain scale straight to BGR, and so can the cuts).
    stacked = size + sum(sh for _, sh in strips) * w * 3
    full = [f[:size] for f in _frames(outputs["current"][0], stacked)]
    exact = _cuts(full, h, w)

    # (a): the same graph without the loop filter, against the frames with it.
    argv = commands["current"]
    out, _ = _run([*argv[: argv.index("-i")], "-skip_loop_filter", "all", *argv[argv.index("-i") :]])
    skipped = [f[:size] for f in _frames(out, stacked)]
    differ = sum(not np.array_equal(p, q) for p, q in zip(full, skipped))
    mean_abs = float(np.mean([np.abs(p.astype(np.int16) - q).mean() for p, q in zip(full, skipped)]))
    cuts_a = _cuts(skipped, h, w)

    # (b): candidates from the reference frames, then an exact window around each.
    refs = _frames(outputs["b_reference_frames"][0], size)
    shown = [round(float(t) * fps) for t in re.findall(rb"pts_time:([0-9.]+)", outputs["b_reference_frames"][1])]
    if len(shown) != len(refs):
        raise SystemExit(f"{clip}: showinfo listed {len(shown)} frames, {len(refs)} came out")
    scorer = ShotDetector(FramePassOptions())
    scores = [scorer.content_value(f.reshape(h, w, 3)) for f in refs]
    candidates = []
    for k in range(1, len(refs)):
        around = [scores[j] for j in range(max(1, k - 2), min(len(refs), k + 3)) if j != k]
        mean = sum(around) / max(1, len(around))
        if scores[k] >= _CANDIDATE_CONTENT and (mean < 1e-5 or scores[k] / mean >= _CANDIDATE_RATIO):
            candidates.append((shown[k - 1], shown[k]))  # the cut lies in (previous shown, this one]
    covered = [c for c in exact if any(a < c <= b for a, b in candidates)]
    window_cpu = []
    for _ in range(rounds):
        total = 0.0
        for a, b in candidates:
            start = max(0, a - FramePassOptions().window_width - 1)
            count = b + FramePassOptions().window_width + 1 - start + 1
            argv = [*head, *quiet, "-ss", f"{start / fps:.6f}", "-i", str(clip), "-frames:v", str(count)]
            total += _cpu([*argv, "-vf", small, *_TAIL])[2]
        window_cpu.append(total)
    windows = round(statistics.median(window_cpu), 2)
    return {
        "clip": f"{name} ({clip.name}, {len(full)} frames, {len(refs)} reference frames)",
        "cpu_s": med,
        "a": {
            "cpu_s": round(med["a_small_skip_loop_filter"] + med["a_exact_strips"], 2),
            "vs_current": round((med["a_small_skip_loop_filter"] + med["a_exact_strips"]) / med["current"], 2),
            "small_frames_changed": f"{differ}/{len(full)}",
            "mean_abs_pixel_change": round(mean_abs, 3),
            "cuts_same": cuts_a == exact,
            # The cost row's plain scale, with and without the loop filter: the cuts there.
            "cuts_same_plain_scale": _cuts(_frames(outputs["a_small_skip_loop_filter"][0], size), h, w)
            == _cuts(_frames(outputs["small_full"][0], size), h, w),
            "cuts_extra_missing": [sorted(set(cuts_a) - set(exact)), sorted(set(exact) - set(cuts_a))],
        },
        "b": {
            "pass1_cpu_s": med["b_reference_frames"],
            "windows_cpu_s": windows,
            "candidates": len(candidates),
            "cpu_s": round(med["b_reference_frames"] + windows, 2),
            "vs_small_full": round((med["b_reference_frames"] + windows) / med["small_full"], 2),
            "cuts_covered": f"{len(covered)}/{len(exact)}",
        },
        "load": round(os.getloadavg()[0], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clips", default="720,1080,720-ippp,720-bbb")
    args = parser.parse_args(argv)
    report = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.uname().machine}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start",
        "rounds": args.rounds,
        "clips": [],
    }
    for name in args.clips.split(","):
        result = measure(name, args.rounds)
        report["clips"].append(result)
        print(json.dumps(result), flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    write_text_atomic(RESULTS, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
