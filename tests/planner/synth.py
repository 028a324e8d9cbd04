"""Synthetic analyses for planner tests: clips with shots (and quality), music with energy."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from hypothesis import strategies as st

from analysis.models import (
    BeatGrid,
    ClipAnalysis,
    MediaItem,
    MusicAnalysis,
    MusicSection,
    Shot,
    ShotQuality,
    Transcript,
    TranscriptSegment,
    Word,
)

RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(50), Fraction(60000, 1001)]


def make_clip(
    i: int,
    rate: Fraction,
    shot_lengths: list[int],
    qualities: list[tuple[float, float]] | None = None,
    *,
    height: int = 1080,
    transcript: Transcript | None = None,
    start_frame: int = 0,
) -> ClipAnalysis:
    """Clip ``clip{i}`` with back-to-back shots of the given lengths (frames); quality as (score, motion)."""
    bounds = [0]
    for n in shot_lengths:
        bounds.append(bounds[-1] + n)
    media = MediaItem(
        path=Path(f"/media/clip{i}.mov"),
        name=f"clip{i}.mov",
        rate=rate,
        frames=bounds[-1],
        start_frame=start_frame,
        width=height * 16 // 9,
        height=height,
        audio_channels=2,
    )
    shots = []
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        q = None
        if qualities is not None:
            score, motion = qualities[k % len(qualities)]
            q = ShotQuality(score=score, motion=motion, sharpness=score)
        shots.append(Shot(start=a, end=b, quality=q))
    return ClipAnalysis(id=f"clip{i}", media=media, shots=shots, transcript=transcript)


def make_music(
    bpm: float,
    seconds: float,
    *,
    phase: float = 0.0,
    energy: list[float] | None = None,
    hop: float = 0.5,
    sections: list[MusicSection] | None = None,
) -> MusicAnalysis:
    period = 60 / bpm
    beats = [phase + k * period for k in range(int((seconds - phase) / period) + 1) if phase + k * period < seconds]
    return MusicAnalysis(
        path=Path("/media/song.wav"),
        name="song.wav",
        duration_seconds=seconds,
        sample_rate=22050,
        channels=2,
        beat_grid=BeatGrid(tempo_bpm=bpm, beats=beats, downbeats=beats[::4]),
        energy=energy or [],
        energy_hop=hop,
        sections=sections or [],
    )


def speech(sentences: list[list[tuple[float, float, str]]], language: str = "en") -> Transcript:
    """A transcript from sentences of (start, end, word) triples."""
    segments = [
        TranscriptSegment(
            start=words[0][0],
            end=words[-1][1],
            text=" ".join(w for _, _, w in words),
            words=[Word(start=a, end=b, text=w) for a, b, w in words],
        )
        for words in sentences
    ]
    return Transcript(language=language, model="test", segments=segments)


qualities = st.lists(
    st.tuples(st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1)), min_size=1, max_size=4
)
clip_specs = st.lists(
    st.tuples(
        st.sampled_from(RATES),
        st.lists(st.integers(min_value=20, max_value=400), min_size=1, max_size=6),
        st.one_of(st.none(), qualities),
    ),
    min_size=1,
    max_size=5,
)


INTERVIEW_WORDS = [
    [(1.0, 1.3, "So"), (1.35, 1.6, "um"), (2.5, 2.8, "we"), (2.85, 3.2, "built"), (3.25, 3.6, "bridges.")],
    [(6.0, 6.3, "Every"), (6.35, 6.7, "cut"), (6.75, 7.0, "uh"), (7.05, 7.4, "counts.")],
    [(10.0, 10.4, "Budgets"), (10.45, 10.9, "matter"), (11.0, 11.3, "most.")],
]
