"""The mix in the render: music ducking under speech and micro-fades at audio cuts, as ffmpeg filter expressions.

The envelope itself (depth, attack, release, span merging, style depths) lives in
``nle_adapters.mix``, which the timeline writers use too, so the render and the NLE timelines hold
the same mix. Here it becomes an ffmpeg expression: the gain is applied in 10 ms steps
(``asetnsamples`` + ``volume`` evaluated per frame), fine enough to be inaudible as steps at these
ramp lengths.
"""

from __future__ import annotations

from nle_adapters.mix import (
    MICRO_FADE_SECONDS,
    STYLE_DUCKING,
    Ducking,
    duck_gain_db,
    duck_spans,
    ducking_for_style,
    merge_spans,
)

# Step of the ducking envelope, in samples at 48 kHz (10 ms).
DUCK_STEP_SAMPLES = 480


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
    merged = duck_spans(spans, ducking)
    if not merged:
        return None
    fraction = duck_fraction_expr(merged, ducking)
    gain = f"pow(10,{ducking.depth_db / 20:.5f}*({fraction}))"
    return f"asetnsamples=n={DUCK_STEP_SAMPLES}:p=0,volume=volume='{gain}':eval=frame"


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
