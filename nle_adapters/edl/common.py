"""Shared bits of the EDL reader and writer: marker colours, reel rules, black reels, source-rate notes."""

from __future__ import annotations

import re
from fractions import Fraction

import opentimelineio as otio

from analysis.timebase import TimecodeError, format_rate, parse_rate, supports_drop_frame

# CMX LOC colours and Resolve's marker-EDL colours → OTIO marker colours.
LOC_COLORS: dict[str, str] = {
    "RED": otio.schema.MarkerColor.RED,
    "GREEN": otio.schema.MarkerColor.GREEN,
    "BLUE": otio.schema.MarkerColor.BLUE,
    "YELLOW": otio.schema.MarkerColor.YELLOW,
    "PINK": otio.schema.MarkerColor.PINK,
    "PURPLE": otio.schema.MarkerColor.PURPLE,
    "CYAN": otio.schema.MarkerColor.CYAN,
    "WHITE": otio.schema.MarkerColor.WHITE,
    "BLACK": otio.schema.MarkerColor.BLACK,
    "ORANGE": otio.schema.MarkerColor.ORANGE,
    "MAGENTA": otio.schema.MarkerColor.MAGENTA,
    # Resolve-only names, mapped to the nearest OTIO colour
    "FUCHSIA": otio.schema.MarkerColor.MAGENTA,
    "ROSE": otio.schema.MarkerColor.PINK,
    "LAVENDER": otio.schema.MarkerColor.PURPLE,
    "SKY": otio.schema.MarkerColor.CYAN,
    "MINT": otio.schema.MarkerColor.GREEN,
    "LEMON": otio.schema.MarkerColor.YELLOW,
    "SAND": otio.schema.MarkerColor.ORANGE,
    "COCOA": otio.schema.MarkerColor.ORANGE,
    "CREAM": otio.schema.MarkerColor.WHITE,
}

BLACK_REELS = frozenset({"BL", "BLK", "BLACK"})

_REEL_BAD = re.compile(r"[^A-Z0-9_]")


def make_reel(name: str) -> str:
    """An 8-character CMX-legal reel from a media or clip name (``A001C003_x.mov`` → ``A001C003``)."""
    stem = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    reel = _REEL_BAD.sub("_", stem.upper())[:8]
    return reel or "AX"


# ``* SOURCE FPS: 25 NDF`` after an event: its source TCs count at that rate (and DF/NDF), not at the
# record rate and FCM. Our writer adds it only where the two differ (mixed-rate media, a DF camera TC
# in an NDF list); other readers see an ordinary comment.
SOURCE_FPS = re.compile(r"^\*\s*SOURCE FPS:\s*(?P<rate>[\d./]+)\s*(?P<mode>N?DF)?\s*$", re.IGNORECASE)


def _rate_label(rate: Fraction) -> str:
    """``25``, ``23.976``, ``29.97``: the decimal editors write, when it reads back exactly."""
    label = f"{float(rate):.3f}".rstrip("0").rstrip(".")
    try:
        return label if parse_rate(label) == rate else format_rate(rate)
    except (TimecodeError, ValueError):
        return format_rate(rate)


def source_fps_comment(rate: Fraction, drop: bool) -> str:
    """The comment line that says how an event's source TCs are counted."""
    return f"* SOURCE FPS: {_rate_label(rate)} {'DF' if drop else 'NDF'}"


def parse_source_fps(line: str) -> tuple[Fraction, bool | None] | None:
    """``* SOURCE FPS: 29.97 DF`` → (30000/1001, True); None when ``line`` is not such a comment or its
    rate does not parse. DF is None when the line does not say (the separators decide then)."""
    m = SOURCE_FPS.match(line.strip())
    if not m:
        return None
    try:
        rate = parse_rate(m["rate"])
    except (TimecodeError, ValueError):
        return None
    mode = (m["mode"] or "").upper()
    drop = None if not mode else (mode == "DF" and supports_drop_frame(rate))
    return rate, drop
