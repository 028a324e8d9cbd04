"""Generated songs whose beats are known exactly: the oracle for beat tracking and music editing.

Each song is synthesized with numpy (kick, snare, hi-hat, bass and pad tones) from a list of beat
times, so the tests compare what the planner does against the times the generator used, never
against our own beat tracker. Times are seconds from the start of the file.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SR = 22050


@dataclass
class Song:
    """A generated song and its ground truth (seconds)."""

    name: str
    samples: np.ndarray  # mono float32, -1..1
    beats: list[float]  # every beat the drums play (the pulse continues through a silent gap)
    downbeats: list[float]  # first beat of every bar
    phrases: list[float] = field(default_factory=list)  # phrase starts (every 8 bars, or chord changes)
    fallback: list[float] = field(default_factory=list)  # where a cut may go when there is no beat
    silences: list[tuple[float, float]] = field(default_factory=list)
    sample_rate: int = SR

    @property
    def seconds(self) -> float:
        return self.samples.size / self.sample_rate

    def write(self, folder: Path) -> Path:
        """Write a 16-bit mono WAV into ``folder``; returns its path."""
        path = folder / f"{self.name}.wav"
        pcm = np.clip(self.samples * 32767, -32768, 32767).astype("<i2")
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.sample_rate)
            out.writeframes(pcm.tobytes())
        return path


def _add(buf: np.ndarray, at: float, sound: np.ndarray) -> None:
    i = int(round(at * SR))
    if i >= buf.size:
        return
    n = min(sound.size, buf.size - i)
    buf[i : i + n] += sound[:n]


def _kick() -> np.ndarray:
    t = np.arange(int(0.25 * SR)) / SR
    freq = 50 + 100 * np.exp(-t * 30)
    return 0.9 * np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t * 12)


def _snare(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.18 * SR)) / SR
    body = 0.3 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 25)
    return body + 0.35 * rng.standard_normal(t.size) * np.exp(-t * 22)


def _hat(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.04 * SR)) / SR
    noise = rng.standard_normal(t.size)
    return 0.12 * np.diff(noise, prepend=0.0) * np.exp(-t * 90)  # differencing: a crude high-pass


def _tone(freq: float, seconds: float, attack: float, level: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    env = np.minimum(1.0, t / max(attack, 1e-3)) * np.minimum(1.0, (seconds - t) / max(attack, 0.05))
    wave_ = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(2 * np.pi * 2 * freq * t)
    return level * env * wave_


CHORDS = [(220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63), (196.0, 261.63, 329.63)]


def _pad(buf: np.ndarray, start: float, end: float, chord: tuple[float, ...], attack: float, level: float) -> None:
    for f in chord:
        _add(buf, start, _tone(f, end - start, attack, level / len(chord)))


def _drums(buf: np.ndarray, beats: list[float], rng: np.random.Generator, *, bass: bool = True) -> None:
    kick, snare = _kick(), _snare(rng)
    for n, t in enumerate(beats):
        if n % 2 == 0:
            _add(buf, t, kick)
        else:
            _add(buf, t, snare)
        nxt = beats[n + 1] if n + 1 < len(beats) else t + (t - beats[n - 1] if n else 0.5)
        _add(buf, t, _hat(rng))
        _add(buf, (t + nxt) / 2, _hat(rng))  # eighth-note hats
        if bass and n % 4 == 0:
            root = CHORDS[(n // 16) % len(CHORDS)][0] / 2
            _add(buf, t, _tone(root, 0.9 * (nxt - t), 0.005, 0.4))


def _finish(buf: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(buf))) or 1.0
    return (0.8 * buf / peak).astype(np.float32)


def _grid(first: float, bpm: float, end: float) -> list[float]:
    period = 60.0 / bpm
    return [first + k * period for k in range(int((end - first) / period) + 1) if first + k * period < end - 0.05]


def intro_song(seconds: float = 80.0, intro: float = 8.5, bpm: float = 120.0) -> Song:
    """An ambient pad intro of ``intro`` seconds with no beat, then drums at ``bpm`` to the end."""
    rng = np.random.default_rng(21)
    buf = np.zeros(int(seconds * SR))
    _pad(buf, 0.0, intro + 0.3, CHORDS[0], attack=3.0, level=0.25)  # a slow swell, no transients
    beats = _grid(intro, bpm, seconds)
    _drums(buf, beats, rng)
    for k, t in enumerate(beats[::16]):
        _pad(buf, t, min(seconds, t + 16 * 60.0 / bpm), CHORDS[k % len(CHORDS)], attack=0.05, level=0.12)
    return Song("intro", _finish(buf), beats, beats[::4], phrases=beats[::32])


def ramp_song(seconds: float = 75.0, start_bpm: float = 96.0, end_bpm: float = 132.0) -> Song:
    """Drums whose tempo ramps linearly from ``start_bpm`` to ``end_bpm`` over the song."""
    rng = np.random.default_rng(22)
    buf = np.zeros(int(seconds * SR))
    beats = [0.05]
    while True:
        bpm = start_bpm + (end_bpm - start_bpm) * beats[-1] / seconds
        nxt = beats[-1] + 60.0 / bpm
        if nxt >= seconds - 0.05:
            break
        beats.append(nxt)
    _drums(buf, beats, rng)
    return Song("ramp", _finish(buf), beats, beats[::4], phrases=beats[::32])


def gap_song(seconds: float = 75.0, bpm: float = 120.0, gap: tuple[float, float] = (30.0, 32.0)) -> Song:
    """Steady drums with total silence in ``gap`` (one bar at 120 BPM); the pulse continues after it."""
    rng = np.random.default_rng(23)
    buf = np.zeros(int(seconds * SR))
    beats = _grid(0.0, bpm, seconds)
    _drums(buf, beats, rng)
    a, b = (int(round(t * SR)) for t in gap)
    buf[a:b] = 0.0
    return Song("gap", _finish(buf), beats, beats[::4], phrases=beats[::32], silences=[gap])


AMBIENT_DURATIONS = [2.6, 3.3, 2.9, 3.6, 2.4, 3.1]


def ambient_song(seconds: float = 70.0) -> Song:
    """Pads only: chords that change at irregular times (no pulse at all). The chord changes are
    the places a cut may go, and half-way between two of them."""
    buf = np.zeros(int(seconds * SR))
    changes = [0.0]
    k = 0
    while changes[-1] + AMBIENT_DURATIONS[k % len(AMBIENT_DURATIONS)] < seconds:
        changes.append(changes[-1] + AMBIENT_DURATIONS[k % len(AMBIENT_DURATIONS)])
        k += 1
    for n, (a, b) in enumerate(zip(changes, [*changes[1:], seconds])):
        _pad(buf, a, b, CHORDS[n % len(CHORDS)], attack=0.03, level=0.3)
    halves = [(a + b) / 2 for a, b in zip(changes, changes[1:])]
    return Song("ambient", _finish(buf), [], [], phrases=changes, fallback=sorted(changes + halves))


def all_songs() -> list[Song]:
    return [intro_song(), ramp_song(), gap_song(), ambient_song()]
