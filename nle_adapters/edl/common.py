"""Shared bits of the EDL reader and writer: marker colours, reel rules, black reels."""

from __future__ import annotations

import re

import opentimelineio as otio

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
