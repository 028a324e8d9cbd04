"""Captions from the speech analysis, re-timed through the edit, as SubRip (.srt) and WebVTT (.vtt).

Re-timing: a transcript's word times are seconds of its media file (analysis/speech.py). A word is
heard in the edit when a clip of that file on a dialogue (non-music) audio track plays at least
half of the word's duration; its caption times are its record times (seconds from the timeline's
first frame, the render's time 0), clipped to the clip's record range. Words cut out of the edit
are not captioned; a word heard twice is captioned twice.

Cues follow common subtitle guidelines (BBC, Netflix English): at most 2 lines of 42 characters,
a cue ends at a pause of ``PAUSE_SPLIT`` seconds, at the end of a sentence, or after
``MAX_SECONDS``; each cue stays up at least ``MIN_SECONDS`` and long enough to be read at
``MAX_CPS`` characters a second when the next cue leaves room (never overlapping it). Cues that
are still faster than ``MAX_CPS`` (fast talkers) are counted in the report, not rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from pathlib import Path

from analysis.models import Transcript
from render.layout import Layout

MAX_LINE = 42
MAX_LINES = 2
MAX_CPS = 17.0
MIN_SECONDS = 0.8
MAX_SECONDS = 7.0
PAUSE_SPLIT = 1.0
MIN_GAP = 0.08


@dataclass(frozen=True)
class TimedWord:
    """A word at its record times (seconds from the timeline's first frame)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Cue:
    """One caption: record times in seconds and its lines (each at most ``MAX_LINE`` characters)."""

    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def cps(self) -> float:
        return len(self.text) / max(1e-6, self.end - self.start)


def retime_words(layout: Layout, transcripts: dict[Path, Transcript]) -> list[TimedWord]:
    """The words the edit keeps, at their record times, sorted (see the module doc for the rule)."""
    by_path = {Path(p).resolve(): t for p, t in transcripts.items()}
    tracks = [t for t in layout.audio if t.role != "music"]
    words: list[TimedWord] = []
    for track in tracks:
        for piece in track.pieces:
            transcript = by_path.get(piece.media.path.resolve())
            if transcript is None:
                continue
            src_start = float(piece.source_seconds(piece.rec_in))
            src_end = float(piece.source_seconds(piece.rec_out))
            rec_base = float(piece.rec_in / layout.rate)
            for segment in transcript.segments:
                if segment.end < src_start or segment.start > src_end:
                    continue
                for word in segment.words:
                    length = max(0.0, word.end - word.start)
                    heard = min(word.end, src_end) - max(word.start, src_start)
                    keep = heard >= 0.5 * length if length > 0 else src_start <= word.start < src_end
                    if not keep or not word.text.strip():
                        continue
                    start = rec_base + max(word.start, src_start) - src_start
                    end = rec_base + min(word.end, src_end) - src_start
                    words.append(TimedWord(round(start, 3), round(max(end, start), 3), word.text.strip()))
    words.sort(key=lambda w: (w.start, w.end))
    return words


def wrap(text: str, width: int = MAX_LINE) -> tuple[str, ...] | None:
    """``text`` on one line, or two balanced lines of at most ``width``; None when it does not fit."""
    if len(text) <= width:
        return (text,)
    parts = text.split(" ")
    best: tuple[str, str] | None = None
    for cut in range(1, len(parts)):
        first, second = " ".join(parts[:cut]), " ".join(parts[cut:])
        if len(first) <= width and len(second) <= width:
            if best is None or max(len(first), len(second)) < max(len(best[0]), len(best[1])):
                best = (first, second)
    return best


def build_cues(words: list[TimedWord], end_limit: float | None = None) -> list[Cue]:
    """Group ``words`` into cues (limits in the module doc); ``end_limit``: the timeline's end, seconds."""
    groups: list[list[TimedWord]] = []
    current: list[TimedWord] = []
    for word in words:
        if current:
            text = " ".join(w.text for w in [*current, word])
            too_long = wrap(text) is None or word.end - current[0].start > MAX_SECONDS
            if word.start - current[-1].end > PAUSE_SPLIT or too_long:
                groups.append(current)
                current = []
        current.append(word)
        if word.text[-1] in ".?!" and len(" ".join(w.text for w in current)) > MAX_LINE // 2:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    cues: list[Cue] = []
    for index, group in enumerate(groups):
        text = " ".join(w.text for w in group)
        lines = wrap(text) or (text,)  # one word longer than a line stays whole
        start, end = group[0].start, group[-1].end
        room = groups[index + 1][0].start - MIN_GAP if index + 1 < len(groups) else end_limit
        wanted = start + max(MIN_SECONDS, len(text) / MAX_CPS)
        if wanted > end:
            end = wanted if room is None else max(end, min(wanted, room))
        # Milliseconds, the end rounded up so rounding never makes a cue faster than MAX_CPS.
        cues.append(Cue(round(start, 3), ceil(round(end * 1000, 6)) / 1000, lines))
    return cues


def _clock(seconds: float, sep: str) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: list[Cue]) -> str:
    """SubRip text, cues numbered from 1."""
    return "".join(
        f"{n}\n{_clock(c.start, ',')} --> {_clock(c.end, ',')}\n" + "\n".join(c.lines) + "\n\n"
        for n, c in enumerate(cues, 1)
    )


def to_vtt(cues: list[Cue]) -> str:
    """WebVTT text."""
    body = "".join(f"{_clock(c.start, '.')} --> {_clock(c.end, '.')}\n" + "\n".join(c.lines) + "\n\n" for c in cues)
    return "WEBVTT\n\n" + body


def too_fast(cues: list[Cue]) -> int:
    """How many cues are shown for less time than reading them at ``MAX_CPS`` takes."""
    return sum(1 for c in cues if c.cps > MAX_CPS + 1e-6)


__all__ = [
    "MAX_CPS",
    "MAX_LINE",
    "Cue",
    "TimedWord",
    "build_cues",
    "retime_words",
    "to_srt",
    "to_vtt",
    "too_fast",
    "wrap",
]
