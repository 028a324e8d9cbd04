"""Exact frame rates and SMPTE timecode.

Every rate is a :class:`fractions.Fraction` (24000/1001, never 23.976); every frame count is an
``int``; ranges are half-open ``[in, out)``. Drop-frame timecode is supported for the NTSC
rates whose nominal rate is a multiple of 30 (29.97, 59.94, 119.88).
"""

from __future__ import annotations

import re
from fractions import Fraction

# Rates people type or that float-minded tools write, mapped to the exact rational rate.
_NTSC_ALIASES: dict[str, Fraction] = {
    "23.976": Fraction(24000, 1001),
    "23.98": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "47.952": Fraction(48000, 1001),
    "47.95": Fraction(48000, 1001),
    "59.94": Fraction(60000, 1001),
    "119.88": Fraction(120000, 1001),
}

_TC_RE = re.compile(r"^\s*(-)?(\d{1,2})[:;.](\d{2})[:;.](\d{2})([:;.,])(\d{2,3})\s*$")


class TimecodeError(ValueError):
    """A timecode string or frame number that cannot be represented at the given rate."""


MAX_RATE = 384_000
"""Highest rate (units per second) we accept anywhere. Video runs far below it; audio-only media
and audio clips count their time in samples (48000, 96000, up to 384 kHz in some recorders)."""
MAX_RATE_DENOMINATOR = 1_000_000
"""Largest denominator of an exact rate (NTSC uses 1001; container time bases stay far below this)."""


def parse_rate(value: str | int | float | Fraction) -> Fraction:
    """Return the exact rational rate for ``value``.

    Accepts ``"24000/1001"``, ``"23.976"``, ``"25"``, ``Fraction`` and ints. Float-like NTSC
    spellings map to their exact 1001-based rate, because no real media runs at 23.976 exactly.
    """
    if isinstance(value, Fraction):
        rate = value
    elif isinstance(value, int):
        rate = Fraction(value)
    else:
        text = str(value).strip()
        if text in _NTSC_ALIASES:
            return _NTSC_ALIASES[text]
        try:
            rate = Fraction(text)
        except (ValueError, ZeroDivisionError) as exc:
            raise ValueError(f"not a frame rate: {value!r}") from exc
    if rate.denominator != 1:
        # 29.97, 29.97002997… (a float division) and 2997/100 all mean NTSC 30000/1001.
        for exact in _NTSC_ALIASES.values():
            if abs(float(rate) - float(exact)) < 5e-4:
                return exact
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, got {value!r}")
    if rate > MAX_RATE or rate.denominator > MAX_RATE_DENOMINATOR:
        # No NLE or camera runs here; such a number only comes from a damaged or hostile file, and
        # passing it on makes 300-digit timecodes or overflows in OTIO's C++ core.
        raise ValueError(f"not a usable frame rate: {value!r} (expected e.g. 24000/1001, 25 or an audio sample rate)")
    return rate


MAX_TIMELINE_RATE = 300
"""Highest timeline (video) rate we accept from a user: NLE timelines top out at 120 fps and
high-speed footage is conformed below this. A 48000 here is an audio sample rate typed by mistake."""


def parse_timeline_rate(value: str | int | float | Fraction) -> Fraction:
    """:func:`parse_rate`, limited to what a video timeline can run at (<= 300 fps)."""
    rate = parse_rate(value)
    if rate > MAX_TIMELINE_RATE:
        raise ValueError(
            f"{value!r} is not a timeline frame rate (at most {MAX_TIMELINE_RATE} fps; "
            "48000 or 44100 is an audio sample rate): use e.g. 24000/1001, 25 or 30000/1001"
        )
    return rate


def format_rate(rate: Fraction) -> str:
    """``Fraction(24000, 1001)`` → ``"24000/1001"``; integer rates print without a denominator."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def nominal_fps(rate: Fraction) -> int:
    """The integer counting base of the timecode for ``rate`` (30 for 29.97, 24 for 23.976)."""
    return int(-(-rate.numerator // rate.denominator)) if rate.denominator != 1 else rate.numerator


def supports_drop_frame(rate: Fraction) -> bool:
    """True for 29.97, 59.94 and 119.88 — the only rates with SMPTE drop-frame counting."""
    return rate.denominator == 1001 and rate.numerator % 30000 == 0


def default_drop_frame(rate: Fraction) -> bool:
    """Our default timecode flavour: drop-frame wherever the rate supports it (broadcast habit)."""
    return supports_drop_frame(rate)


def _drop_per_minute(rate: Fraction) -> int:
    return 2 * (nominal_fps(rate) // 30)


def frames_to_timecode(frames: int, rate: Fraction, drop_frame: bool = False) -> str:
    """Format an absolute frame count as ``HH:MM:SS:FF`` (``HH:MM:SS;FF`` when drop-frame)."""
    if not isinstance(frames, int):
        raise TimecodeError(f"frame count must be an integer, got {frames!r}")
    if drop_frame and not supports_drop_frame(rate):
        raise TimecodeError(f"drop-frame timecode does not exist at {format_rate(rate)} fps")
    sign = "-" if frames < 0 else ""
    frames = abs(frames)
    fps = nominal_fps(rate)
    if drop_frame:
        drop = _drop_per_minute(rate)
        per_10min = fps * 600 - drop * 9
        per_min = fps * 60 - drop
        tens, rem = divmod(frames, per_10min)
        if rem > drop:
            frames += drop * 9 * tens + drop * ((rem - drop) // per_min)
        else:
            frames += drop * 9 * tens
    ff = frames % fps
    total_seconds = frames // fps
    ss = total_seconds % 60
    mm = (total_seconds // 60) % 60
    hh = total_seconds // 3600
    sep = ";" if drop_frame else ":"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:02d}"


def timecode_to_frames(tc: str, rate: Fraction, drop_frame: bool | None = None) -> int:
    """Parse ``HH:MM:SS:FF`` / ``HH:MM:SS;FF`` into an absolute frame count at ``rate``.

    ``drop_frame=None`` infers drop-frame from a ``;``/``,``/``.`` before the frames field, the
    convention every NLE writes; pass True/False to force it (EDL ``FCM:`` lines do).
    """
    match = _TC_RE.match(tc)
    if not match:
        raise TimecodeError(f"not a timecode: {tc!r} (expected HH:MM:SS:FF)")
    neg, hh, mm, ss, sep, ff = match.groups()
    h, m, s, f = int(hh), int(mm), int(ss), int(ff)
    fps = nominal_fps(rate)
    if drop_frame is None:
        drop_frame = sep in ";,." and supports_drop_frame(rate)
    if m > 59 or s > 59 or f >= fps:
        raise TimecodeError(f"timecode {tc!r} is out of range at {format_rate(rate)} fps")
    if drop_frame:
        if not supports_drop_frame(rate):
            raise TimecodeError(f"drop-frame timecode does not exist at {format_rate(rate)} fps")
        drop = _drop_per_minute(rate)
        if s == 0 and m % 10 != 0 and f < drop:
            raise TimecodeError(f"timecode {tc!r} does not exist in drop-frame counting")
        total_minutes = 60 * h + m
        frames = (3600 * h + 60 * m + s) * fps + f - drop * (total_minutes - total_minutes // 10)
    else:
        frames = (3600 * h + 60 * m + s) * fps + f
    return -frames if neg else frames


def round_ratio_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` to the nearest integer, halves away from zero: the one rounding rule.

    Every conversion of an exact time to whole frames (or samples) goes through here, so a clip lands on
    the same frame whichever format wrote it. Integer arithmetic: callers that already hold the two
    products (seconds × rate) skip building a :class:`Fraction`.
    """
    if denominator == 0:
        raise ZeroDivisionError(f"cannot round {numerator}/0 to a frame")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def round_half_up(value: Fraction | int) -> int:
    """Nearest integer to an exact ``value``, halves away from zero (2.5 → 3, -2.5 → -3)."""
    value = Fraction(value)
    return round_ratio_half_up(value.numerator, value.denominator)


def seconds_to_frames(seconds: float | Fraction, rate: Fraction) -> int:
    """Nearest frame to a time in seconds (half rounds up), the one rounding rule we use."""
    return round_half_up(Fraction(seconds) * rate)


def frames_to_seconds(frames: int, rate: Fraction) -> Fraction:
    """Exact time in seconds of ``frames`` at ``rate``."""
    return Fraction(frames) / rate


def rescale_frames(frames: int, from_rate: Fraction, to_rate: Fraction) -> int:
    """Convert a frame count between rates, rounding half up: the documented mixed-rate rule."""
    return seconds_to_frames(Fraction(frames) / from_rate, to_rate)


def rate_from_float(value: float) -> Fraction:
    """Recover the exact rate from a float such as OTIO's ``RationalTime.rate``.

    NTSC floats (23.976023976…) map to their 1001-based rate; others to the nearest simple fraction.
    """
    if value <= 0:
        raise ValueError(f"frame rate must be positive, got {value!r}")
    exact = Fraction(value).limit_denominator(1001)
    return parse_rate(exact)
