"""Loudness targets, two-pass loudnorm, and reading ffmpeg's EBU R128 meter.

Two passes: the first measures the mixed sound of the edit with ffmpeg's ``loudnorm`` (EBU R128
integrated loudness, loudness range, true peak); the second applies ONE linear gain (target minus
measured), which keeps the mix's dynamics. When that gain would push the true peak over the
ceiling, a limiter at 4x oversampling (so it catches inter-sample peaks: a true-peak limiter)
holds the peaks under it; the report says which (``normalization``: ``linear`` or
``linear+limiter``). loudnorm's own second pass is not used: when its linear mode does not fit
under the ceiling it falls back to a dynamic mode that missed the target by 3 LU on our sample
montage.

The encoded sound is what counts: lossy encoders (AAC, Opus) raise the decoded true peak, and a
limiter takes some loudness away, so the render encodes the sound alone, meters it, and corrects
gain and limit (render.render._fit_loudness) before the one render of picture and sound.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from render.errors import RenderError

# Named presets (LUFS): web default, streaming/social, EBU R128 broadcast, ATSC A/85.
PRESETS: dict[str, float] = {"web": -16.0, "streaming": -14.0, "social": -14.0, "ebu": -23.0, "atsc": -24.0}
DEFAULT_TARGET = -16.0
DEFAULT_CEILING = -1.0
DEFAULT_LRA = 11.0


def parse_target(value: str | float) -> float:
    """A loudness target in LUFS from ``-16``, ``16`` (taken as negative) or a preset name."""
    text = str(value).strip().lower()
    if text in PRESETS:
        return PRESETS[text]
    try:
        number = float(text.removesuffix("lufs").strip())
    except ValueError as exc:
        raise RenderError(
            f"loudness target {value!r}: give LUFS (-16, -14, -23, -24) or one of {', '.join(PRESETS)}"
        ) from exc
    number = -abs(number)
    if not -70 <= number <= -5:
        raise RenderError(f"loudness target {number} LUFS is out of range: use -70 .. -5 (e.g. -16)")
    return number


@dataclass(frozen=True)
class Measurement:
    """EBU R128 figures of a sound: integrated (LUFS), range (LU), true peak (dBTP), gate threshold."""

    integrated: float
    lra: float
    true_peak: float
    threshold: float = -70.0
    offset: float = 0.0


def loudnorm_measure_filter(target: float, ceiling: float) -> str:
    return f"loudnorm=I={target:.1f}:TP={ceiling:.1f}:LRA={DEFAULT_LRA:.1f}:print_format=json"


def normalize_filter(target: float, ceiling: float, measured: Measurement) -> tuple[str, str]:
    """The second-pass filter chain and its mode: a linear gain, plus a true-peak limiter when needed."""
    gain = target - measured.integrated
    chain = f"volume={gain:.2f}dB"
    if measured.true_peak + gain <= ceiling:
        return chain, "linear"
    limit = 10 ** (ceiling / 20)
    # 4x oversampling so the limiter sees inter-sample peaks; latency=1 keeps the sound in sync.
    limiter = f"aresample=192000,alimiter=limit={limit:.5f}:attack=1:release=50:level=false:latency=1"
    return f"{chain},{limiter}", "linear+limiter"


def _finite(value: str) -> float:
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(value)
    return number


def parse_loudnorm_json(log: str) -> dict[str, str]:
    """The JSON block loudnorm prints at the end of a run (the last one in ``log``)."""
    blocks = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", log)
    if not blocks:
        raise RenderError("ffmpeg loudnorm printed no measurement (is the sound silent?)")
    return json.loads(blocks[-1])


def measurement_from_loudnorm(data: dict[str, str]) -> Measurement:
    """The first pass's input figures. Silence (-inf) cannot be normalised: RenderError."""
    try:
        return Measurement(
            integrated=_finite(data["input_i"]),
            lra=_finite(data["input_lra"]),
            true_peak=_finite(data["input_tp"]),
            threshold=_finite(data["input_thresh"]),
            offset=_finite(data["target_offset"]),
        )
    except (KeyError, ValueError) as exc:
        raise RenderError(
            "the mix is silent (or too short to measure): nothing to normalise — drop --loudness"
        ) from exc


_NUMBER = r"(-?[\d.]+|-inf)"


def parse_ebur128_summary(log: str) -> Measurement | None:
    """The summary ffmpeg's ``ebur128=peak=true`` filter prints at the end; None when absent."""
    tail = log[log.rfind("Summary:") :] if "Summary:" in log else ""
    integrated = re.search(rf"Integrated loudness:\s*I:\s*{_NUMBER} LUFS", tail)
    if not integrated:
        return None
    lra = re.search(rf"Loudness range:\s*LRA:\s*{_NUMBER} LU", tail)
    peak = re.search(rf"True peak:\s*Peak:\s*{_NUMBER} dBFS", tail)

    def num(match: re.Match[str] | None) -> float:
        return float("-inf") if match is None or match.group(1) == "-inf" else float(match.group(1))

    return Measurement(integrated=num(integrated), lra=num(lra), true_peak=num(peak))


__all__ = [
    "DEFAULT_CEILING",
    "DEFAULT_TARGET",
    "PRESETS",
    "Measurement",
    "normalize_filter",
    "loudnorm_measure_filter",
    "measurement_from_loudnorm",
    "parse_ebur128_summary",
    "parse_loudnorm_json",
    "parse_target",
]
