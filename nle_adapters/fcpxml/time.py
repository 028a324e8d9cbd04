"""FCPXML time values: rational seconds strings such as ``"1001/24000s"``, ``"3600s"``, ``"0/1s"``.

FCPXML stores every time as exact rational seconds. We read them into :class:`fractions.Fraction`
seconds and write them back from integer frame counts, so every written time is an exact multiple
of the frame duration (1/rate seconds) at the rate it belongs to.
"""

from __future__ import annotations

import re
from fractions import Fraction

from kernel.timebase import round_ratio_half_up

_TIME_RE = re.compile(r"^\s*(-?\d+)(?:/(\d+))?s\s*$")
# Keep numbers sane: a value with more digits than this is hostile or broken, not a timeline.
_MAX_DIGITS = 30


class FcpxmlTimeError(ValueError):
    """A string that is not an FCPXML time value."""


def parse_time(text: str) -> Fraction:
    """``"1001/24000s"`` → ``Fraction(1001, 24000)`` seconds; ``"3600s"`` → 3600."""
    match = _TIME_RE.match(text or "")
    if not match:
        raise FcpxmlTimeError(f"not an FCPXML time value: {text!r} (expected e.g. '1001/24000s')")
    num, den = match.group(1), match.group(2)
    if len(num) > _MAX_DIGITS or (den is not None and len(den) > _MAX_DIGITS):
        raise FcpxmlTimeError(f"time value {text[:40]!r}… has too many digits")
    if den is not None and int(den) == 0:
        raise FcpxmlTimeError(f"time value {text!r} divides by zero")
    return Fraction(int(num), int(den) if den is not None else 1)


def format_time(seconds: Fraction) -> str:
    """Exact rational seconds → FCPXML string: ``Fraction(1001, 24000)`` → ``"1001/24000s"``,
    whole seconds → ``"3600s"``."""
    seconds = Fraction(seconds)
    if seconds.denominator == 1:
        return f"{seconds.numerator}s"
    return f"{seconds.numerator}/{seconds.denominator}s"


def frames_time(frames: int, rate: Fraction) -> str:
    """``frames`` at ``rate`` as an FCPXML time (an exact multiple of the frame duration)."""
    return format_time(Fraction(frames) / rate)


def frame_duration(rate: Fraction) -> str:
    """The ``format@frameDuration`` for ``rate`` in the spelling FCP writes: 24000/1001 →
    ``"1001/24000s"``, 25 → ``"100/2500s"``, 24 → ``"100/2400s"``."""
    rate = Fraction(rate)
    if rate.denominator == 1:
        return f"100/{rate.numerator * 100}s"
    return f"{rate.denominator}/{rate.numerator}s"


def rate_from_frame_duration(text: str) -> Fraction:
    """``format@frameDuration`` → exact rate (``"1001/30000s"`` → 30000/1001, ``"200/5000s"`` → 25)."""
    duration = parse_time(text)
    if duration <= 0:
        raise FcpxmlTimeError(f"frame duration must be positive, got {text!r}")
    return 1 / duration


def to_frames(seconds: Fraction, rate: Fraction) -> int:
    """Seconds → nearest whole frame at ``rate`` (half up: the project's one rounding rule).

    Exact for every time FCP writes on the frame grid; off-grid times (audio-sample-accurate
    durations) land on the nearest frame.
    """
    # The two products, not seconds * rate: skips Fraction's gcd on a hot path (readers call this per clip).
    return round_ratio_half_up(seconds.numerator * rate.numerator, seconds.denominator * rate.denominator)


def is_on_grid(seconds: Fraction, rate: Fraction) -> bool:
    """True when ``seconds`` is a whole number of frames at ``rate``."""
    return (Fraction(seconds) * rate).denominator == 1


def conform_rate_name(rate: Fraction) -> str | None:
    """``conform-rate@srcFrameRate`` spelling for a media rate (the DTD's enumeration), or None."""
    names = {
        Fraction(24000, 1001): "23.98",
        Fraction(24): "24",
        Fraction(25): "25",
        Fraction(30000, 1001): "29.97",
        Fraction(30): "30",
        Fraction(48000, 1001): "47.95",
        Fraction(48): "48",
        Fraction(50): "50",
        Fraction(60000, 1001): "59.94",
        Fraction(60): "60",
    }
    return names.get(Fraction(rate))


__all__ = [
    "FcpxmlTimeError",
    "conform_rate_name",
    "format_time",
    "frame_duration",
    "frames_time",
    "is_on_grid",
    "parse_time",
    "rate_from_frame_duration",
    "to_frames",
]
