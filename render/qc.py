"""Quality check of a finished render, with ffmpeg's own detectors (one decode pass of the output).

Checks (each failure is one line in the report; any failure makes ``render`` exit with code 3):
- duration: the file's video frames equal the timeline's length, to the frame;
- black: no black stretch of ``BLACK_SECONDS`` or more outside the timeline's picture gaps
  (``blackdetect``: pixels under 10 % luma on 98 % of the frame);
- frozen: no stretch of ``FREEZE_SECONDS`` or more of identical frames outside gaps (``freezedetect``
  at -60 dB noise: truly repeated frames, not a calm shot);
- silence: no ``SILENCE_SECONDS`` of silence (under -60 dBFS) where the timeline has sound
  (``silencedetect``);
- loudness (when a target was asked): integrated within ±1 LU of it, true peak at or under the
  ceiling (``ebur128`` with ``peak=true``).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import av

from kernel.ffmpeg_tools import ffmpeg_path
from render.errors import RenderError
from render.layout import Layout
from render.loudness import Measurement, parse_ebur128_summary

BLACK_SECONDS = 1.0
FREEZE_SECONDS = 2.0
SILENCE_SECONDS = 1.0
LOUDNESS_TOLERANCE = 1.0


@dataclass
class QualityReport:
    """What the check measured and what failed (empty ``failures``: the render passed)."""

    frames: int
    expected_frames: int
    loudness: Measurement | None
    black: list[tuple[float, float]] = field(default_factory=list)
    frozen: list[tuple[float, float]] = field(default_factory=list)
    silent: list[tuple[float, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def count_frames(path: Path) -> int:
    """Video frames in ``path`` (its packets: exact, no decode)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def _spans(log: str, start_key: str, end_key: str, total: float) -> list[tuple[float, float]]:
    """Pair ``start_key: t`` / ``end_key: t`` lines of a detector's log into spans (open ones end at ``total``)."""
    spans: list[tuple[float, float]] = []
    start = None
    for match in re.finditer(rf"({start_key}|{end_key})[:=]\s*(-?[\d.]+)", log):
        key, value = match.group(1), float(match.group(2))
        if key == start_key:
            start = value
        elif start is not None:
            spans.append((start, value))
            start = None
    if start is not None:
        spans.append((start, total))
    return spans


def _black_spans(log: str) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in re.findall(r"black_start:\s*([\d.]+)\s+black_end:\s*([\d.]+)", log)]


def _outside(span: tuple[float, float], allowed: list[tuple[float, float]], slack: float) -> float:
    """Seconds of ``span`` not covered by ``allowed`` (each widened by ``slack`` seconds)."""
    start, end = span
    covered = 0.0
    for a, b in allowed:
        covered += max(0.0, min(end, b + slack) - max(start, a - slack))
    return max(0.0, (end - start) - covered)


def _inside(span: tuple[float, float], spans: list[tuple[float, float]]) -> float:
    start, end = span
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)


def meter(path: Path) -> Measurement | None:
    """EBU R128 figures of ``path``'s first audio stream by ffmpeg's ``ebur128`` (true peak on)."""
    proc = subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-nostdin", "-nostats", "-i", str(path), "-map", "0:a:0",
         "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
        capture_output=True, text=True, errors="replace", check=False,
    )  # fmt: skip
    return parse_ebur128_summary(proc.stderr) if proc.returncode == 0 else None


def check_render(
    path: Path, layout: Layout, *, target: float | None = None, ceiling: float | None = None
) -> QualityReport:
    """Run the checks of the module doc on the rendered ``path``."""
    rate = float(layout.rate)
    total = layout.duration / rate
    cmd = [
        ffmpeg_path(),
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "info",
        "-i",
        str(path),
        "-filter_complex",
        f"[0:v:0]blackdetect=d={BLACK_SECONDS}:pix_th=0.10,freezedetect=n=-60dB:d={FREEZE_SECONDS}[v];"
        f"[0:a:0]ebur128=peak=true:framelog=verbose,silencedetect=n=-60dB:d={SILENCE_SECONDS}[a]",
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-f",
        "null",
        "-",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-2:])
        raise RenderError(f"{path}: the quality check could not decode the render ({tail})")
    log = proc.stderr
    report = QualityReport(
        frames=count_frames(path), expected_frames=layout.duration, loudness=parse_ebur128_summary(log)
    )
    gaps = _complement(layout.picture_spans(), layout.duration)
    gaps_s = [(a / rate, b / rate) for a, b in gaps]
    slack = 2 / rate
    report.black = _black_spans(log)
    report.frozen = _spans(log, "lavfi.freezedetect.freeze_start", "lavfi.freezedetect.freeze_end", total)
    report.silent = _spans(log, "silence_start", "silence_end", total)
    if report.frames != layout.duration:
        report.failures.append(
            f"duration: {report.frames} frames rendered, the timeline has {layout.duration} "
            f"({layout.timecode(0)} to {layout.timecode(layout.duration)})"
        )
    for span in report.black:
        if _outside(span, gaps_s, slack) >= BLACK_SECONDS:
            report.failures.append(f"black picture {span[0]:.2f}-{span[1]:.2f} s where the timeline has a clip")
    for span in report.frozen:
        if _outside(span, gaps_s, slack) >= FREEZE_SECONDS:
            report.failures.append(f"frozen picture {span[0]:.2f}-{span[1]:.2f} s where the timeline has a clip")
    sound = [(a / rate, b / rate) for a, b in layout.sound_spans()]
    for span in report.silent:
        if _inside(span, sound) >= SILENCE_SECONDS:
            report.failures.append(f"silence {span[0]:.2f}-{span[1]:.2f} s where the timeline has sound")
    if target is not None and sound:
        measured = report.loudness
        if measured is None:
            report.failures.append("loudness: the meter printed no result")
        else:
            if abs(measured.integrated - target) > LOUDNESS_TOLERANCE:
                report.failures.append(
                    f"loudness: {measured.integrated:.1f} LUFS integrated, "
                    f"target {target:.1f} ± {LOUDNESS_TOLERANCE:.0f}"
                )
            if ceiling is not None and measured.true_peak > ceiling:
                report.failures.append(f"true peak: {measured.true_peak:.2f} dBTP, over the {ceiling:.1f} dBTP ceiling")
    return report


def _complement(spans: list[tuple[int, int]], duration: int) -> list[tuple[int, int]]:
    out, position = [], 0
    for start, end in spans:
        if start > position:
            out.append((position, start))
        position = max(position, end)
    if position < duration:
        out.append((position, duration))
    return out


__all__ = ["QualityReport", "check_render", "count_frames", "meter"]
