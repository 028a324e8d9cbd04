"""The mix: music ducking under speech and micro-fades at audio cuts, as ffmpeg filter expressions.

Ducking is computed from what is known ahead of time (the speech spans of the edit), not from a
side-chain compressor: the music starts to dip ``attack`` seconds *before* a speech span starts,
sits ``depth_db`` lower during it and comes back over ``release`` seconds after it ends. Spans
closer together than ``attack + release`` are merged so the music does not pump between words.
The gain is applied in 10 ms steps (``asetnsamples`` + ``volume`` evaluated per frame), fine
enough to be inaudible as steps at these ramp lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

# Micro-fade at every audio cut: long enough to remove the click of a cut mid-waveform, short
# enough not to be heard as a fade (5 ms is the usual NLE default range of 2-10 ms).
MICRO_FADE_SECONDS = 0.005
# Step of the ducking envelope, in samples at 48 kHz (10 ms).
DUCK_STEP_SAMPLES = 480


@dataclass(frozen=True)
class Ducking:
    """How far music dips under speech (dB, negative) and how fast (seconds)."""

    depth_db: float = -12.0
    attack: float = 0.25
    release: float = 0.5

    def __post_init__(self) -> None:
        if self.depth_db > 0 or self.depth_db < -60:
            raise ValueError(f"ducking depth must be between -60 and 0 dB, got {self.depth_db}")
        if self.attack <= 0 or self.release <= 0:
            raise ValueError("ducking attack and release must be positive seconds")


# Style-set ducking (planner/styles/*.toml names). Styles carried by dialogue duck deeper; music-led
# styles keep the music up. Unknown styles get the default.
STYLE_DUCKING: dict[str, Ducking] = {
    "documentary": Ducking(-15.0, 0.3, 0.6),
    "vlog": Ducking(-12.0, 0.2, 0.4),
    "wedding": Ducking(-10.0, 0.4, 0.8),
    "cinematic": Ducking(-10.0, 0.5, 1.0),
    "dynamic": Ducking(-8.0, 0.15, 0.3),
    "social_vertical": Ducking(-10.0, 0.15, 0.3),
}


def ducking_for_style(style: str | None) -> Ducking:
    """The ducking a style asks for (the default for no or an unknown style)."""
    return STYLE_DUCKING.get((style or "").lower(), Ducking())


def merge_spans(spans: list[tuple[float, float]], bridge: float) -> list[tuple[float, float]]:
    """Sort and merge spans (seconds) that overlap or lie less than ``bridge`` seconds apart."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start - merged[-1][1] < bridge:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def duck_fraction_expr(spans: list[tuple[float, float]], ducking: Ducking) -> str:
    """An ffmpeg expression of ``t`` (seconds): 0 = full music, 1 = fully ducked, with linear ramps."""
    attack, release = f"{ducking.attack:.4f}", f"{ducking.release:.4f}"
    terms = [
        f"clip(min((t-{a - ducking.attack:.4f})/{attack},({b + ducking.release:.4f}-t)/{release}),0,1)"
        for a, b in spans
    ]
    if not terms:
        return "0"
    expr = terms[0]
    for term in terms[1:]:
        expr = f"max({expr},{term})"
    return expr


def ducking_filter(spans: list[tuple[float, float]], ducking: Ducking) -> str | None:
    """The filter chain (no labels) that ducks a music stream under ``spans`` (seconds), or None."""
    merged = merge_spans(spans, ducking.attack + ducking.release)
    if not merged:
        return None
    fraction = duck_fraction_expr(merged, ducking)
    gain = f"pow(10,{ducking.depth_db / 20:.5f}*({fraction}))"
    return f"asetnsamples=n={DUCK_STEP_SAMPLES}:p=0,volume=volume='{gain}':eval=frame"


def duck_gain_db(t: float, spans: list[tuple[float, float]], ducking: Ducking) -> float:
    """The music gain (dB) at ``t`` seconds, as the filter applies it (for reports and tests)."""
    merged = merge_spans(spans, ducking.attack + ducking.release)
    fraction = 0.0
    for a, b in merged:
        ramp = min((t - (a - ducking.attack)) / ducking.attack, ((b + ducking.release) - t) / ducking.release)
        fraction = max(fraction, min(1.0, max(0.0, ramp)))
    return ducking.depth_db * fraction


__all__ = [
    "DUCK_STEP_SAMPLES",
    "MICRO_FADE_SECONDS",
    "STYLE_DUCKING",
    "Ducking",
    "duck_gain_db",
    "ducking_filter",
    "ducking_for_style",
    "merge_spans",
]
