"""Shared bits of the EDL reader and writer: marker colours, reel rules, black reels, source-rate notes."""

from __future__ import annotations

import hashlib
import re
from fractions import Fraction

import opentimelineio as otio

from kernel.timebase import TimecodeError, format_rate, parse_rate, supports_drop_frame

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


def _stem(name: str) -> str:
    stem = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return stem.rsplit(".", 1)[0] if "." in stem else stem


# A camera card's clip name: camera letter, 3-digit roll, C + 3-digit clip (ARRI/RED/Sony/Blackmagic:
# ``A001_C002_0101AB``, ``A001C002``, ``Day1_B012_C004``): the reel editors and labs use is ``A001C002``.
_CARD_CLIP = re.compile(r"(?<![A-Z0-9])([A-Z])(\d{3})_?C(\d{3})(?!\d)")
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def reel_candidates(name: str, key: str) -> list[str]:
    """8-character reels for the media ``name`` (a path or clip name), best first, all CMX-legal.

    The plain :func:`make_reel`; the camera-card clip name (``A001_C002_0101AB.mov`` → ``A001C002``);
    the name without separators (``INT_2997DF`` → ``INT2997D``); then a 5-character prefix and a
    3-character hash of ``key`` (the full path), which tells apart names alike in their first 8
    characters. Black reels (``BL``…) are never offered: a reader would take them for black."""
    stem = _stem(name).upper()
    found = [make_reel(name)]
    if m := _CARD_CLIP.search(stem):
        found.append(f"{m[1]}{m[2]}C{m[3]}")
    compact = re.sub(r"[^A-Z0-9]", "", stem)[:8]
    if compact:
        found.append(compact)
    digest = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big")
    suffix = "".join(_BASE36[(digest // 36**i) % 36] for i in range(3))
    found.append((compact or "R")[:5] + suffix)
    return [r for r in dict.fromkeys(found) if r.upper() not in BLACK_REELS]


class ReelNames:
    """One reel per media within an EDL, and never one reel for two media (a conform by reel).

    ``add`` every media first (in timeline order), then ``reel`` gives each its reel. A reel the
    timeline states (read from an EDL: tape workflows share a reel among many clips) is kept as it
    is. Other media get their plain 8-character reel when no other media in the list wants the same
    one, else the first of :func:`reel_candidates` still free: ``A001_C001.mov`` and
    ``A001_C002.mov`` (both ``A001_C00`` when cut) become ``A001C001`` and ``A001C002``."""

    def __init__(self) -> None:
        self._stated: dict[str, str] = {}
        self._derived: dict[str, list[str]] = {}
        self._reels: dict[str, str] | None = None

    def add(self, key: str, name: str, stated: str | None = None) -> None:
        """Media ``key`` (its path, or its clip name when it has none) named ``name``; ``stated``: its reel."""
        if key in self._stated or key in self._derived:
            return
        self._reels = None
        if stated:
            self._stated[key] = make_reel(stated)
        else:
            self._derived[key] = reel_candidates(name, key)

    def _assign(self) -> dict[str, str]:
        reels = dict(self._stated)
        taken = set(reels.values())
        wanted: dict[str, int] = {}
        for candidates in self._derived.values():
            wanted[candidates[0]] = wanted.get(candidates[0], 0) + 1
        for key, candidates in self._derived.items():
            shared = wanted[candidates[0]] > 1
            choice = next((r for r in candidates[shared:] if r not in taken), None)
            number = 0
            while choice is None or choice in taken:  # every candidate taken: a numbered reel
                number += 1
                choice = candidates[-1][:5] + f"{number:03d}"
            reels[key] = choice
            taken.add(choice)
        return reels

    def reel(self, key: str) -> str:
        if self._reels is None:
            self._reels = self._assign()
        return self._reels[key]


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
