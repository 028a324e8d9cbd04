"""Audio measures: decoding, EBU R128 loudness, silences, an energy curve and its sections.

Times are seconds from the start of the file; spans are half-open ``[start, end)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from analysis.models import MusicSection, TimeSpan
from kernel.errors import MediaError

LOUDNESS_RATE = 48000


def iter_audio(path: str | Path, sample_rate: int = LOUDNESS_RATE, *, mono: bool = False) -> Iterator[np.ndarray]:
    """Decode the first audio stream in float32 ``(channels, samples)`` chunks at ``sample_rate``.

    Yields nothing when the file has no audio stream. Raises :class:`MediaError` when the file
    cannot be opened or its audio is damaged.
    """
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path}: not a readable media file ({exc})") from exc
    try:
        stream = next((s for s in container.streams.audio), None)
        if stream is None:
            return
        channels = 1 if mono else max(1, stream.codec_context.channels)
        layout = "mono" if channels == 1 else (stream.layout.name if stream.layout else f"{channels}c")
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                yield out.to_ndarray()
        for out in resampler.resample(None):
            yield out.to_ndarray()
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: audio is damaged or truncated ({exc})") from exc
    finally:
        container.close()


def decode_audio(path: str | Path, sample_rate: int = LOUDNESS_RATE, *, mono: bool = False) -> tuple[np.ndarray, int]:
    """The whole first audio stream as float32 ``(channels, samples)``; zero samples when none."""
    chunks = list(iter_audio(path, sample_rate, mono=mono))
    if not chunks:
        return np.zeros((1, 0), dtype=np.float32), sample_rate
    return np.concatenate(chunks, axis=1).astype(np.float32, copy=False), sample_rate


def _k_weighting(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two BS.1770 K-weighting biquads (high shelf, high pass) for any sample rate.

    Coefficients from the analogue prototypes libebur128 uses, so 48 kHz gives exactly the
    table in ITU-R BS.1770-4.
    """
    f0, gain, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10 ** (gain / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = np.array([(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0])
    shelf_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1.0 + k / q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    return [(shelf_b, shelf_a), (hp_b, hp_a)]


def _channel_weights(channels: int) -> np.ndarray:
    """BS.1770 channel weights: 1.0 for front channels, 1.41 for surrounds, 0 for LFE (5.1 order)."""
    if channels == 6:  # L R C LFE Ls Rs
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(channels)


class AudioMeter:
    """Streaming EBU R128 integrated loudness and short-block levels, fed chunk by chunk.

    Memory is one number per 100 ms per channel plus one per ``level_hop`` (10 ms), so an hour
    of audio never has to be held in memory. Loudness follows BS.1770-4: K-weighting, 400 ms
    blocks with 75 % overlap (four 100 ms steps), absolute gate at −70 LUFS, relative gate 10 LU
    below the ungated mean. Levels are plain RMS of the channel mean in dBFS.
    """

    def __init__(self, sample_rate: int, channels: int, *, level_hop: float = 0.01) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.level_hop = level_hop
        self._filters = _k_weighting(sample_rate)
        # Zero initial filter state: the signal is taken to start from silence.
        self._zi = [np.zeros((channels, len(a) - 1)) for _, a in self._filters]
        self._step = int(round(0.1 * sample_rate))
        self._level_size = max(1, int(round(level_hop * sample_rate)))
        self._k_rest = np.zeros((channels, 0))
        self._m_rest = np.zeros(0)
        self._steps: list[np.ndarray] = []
        self._levels: list[np.ndarray] = []
        self.samples = 0
        self._finished = False

    def feed(self, chunk: np.ndarray) -> None:
        """Add ``(channels, n)`` samples."""
        from scipy.signal import lfilter

        if chunk.ndim == 1:
            chunk = chunk[None, :]
        if chunk.shape[0] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {chunk.shape[0]}")
        self.samples += chunk.shape[1]
        filtered = chunk.astype(np.float64)
        for i, (b, a) in enumerate(self._filters):
            filtered, self._zi[i] = lfilter(b, a, filtered, axis=1, zi=self._zi[i])
        k = np.concatenate([self._k_rest, filtered], axis=1)
        n = k.shape[1] // self._step
        if n:
            self._steps.append((k[:, : n * self._step] ** 2).reshape(self.channels, n, self._step).mean(axis=2))
        self._k_rest = k[:, n * self._step :]
        mono = np.concatenate([self._m_rest, chunk.mean(axis=0, dtype=np.float64)])
        n = mono.size // self._level_size
        if n:
            self._levels.append((mono[: n * self._level_size] ** 2).reshape(n, self._level_size).mean(axis=1))
        self._m_rest = mono[n * self._level_size :]

    def _finish(self) -> None:
        if not self._finished and self._m_rest.size:
            # The tail block's mean over its real samples.
            self._levels.append(np.array([float((self._m_rest**2).mean())]))
        self._finished = True

    @property
    def duration(self) -> float:
        """Seconds fed so far."""
        return self.samples / self.sample_rate

    def levels_db(self) -> np.ndarray:
        """RMS level in dBFS per ``level_hop`` block (the last, partial block included)."""
        self._finish()
        power = np.concatenate(self._levels) if self._levels else np.zeros(0)
        return 10.0 * np.log10(np.maximum(power, 1e-12))

    def loudness(self) -> float | None:
        """Integrated loudness in LUFS; None when shorter than one 400 ms block or below the gate."""
        if not self._steps:
            return None
        steps = np.concatenate(self._steps, axis=1)
        if steps.shape[1] < 4:
            return None
        kernel = np.ones(4) / 4.0
        blocks = np.stack([np.convolve(ch, kernel, mode="valid") for ch in steps])
        power = (_channel_weights(self.channels)[:, None] * blocks).sum(axis=0)
        with np.errstate(divide="ignore"):
            level = -0.691 + 10.0 * np.log10(power)
        gated = power[level > -70.0]
        if gated.size == 0:
            return None
        relative = -0.691 + 10.0 * np.log10(gated.mean()) - 10.0
        final = power[(level > -70.0) & (level > relative)]
        if final.size == 0:
            return None
        return float(-0.691 + 10.0 * np.log10(final.mean()))


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float | None:
    """EBU R128 / BS.1770-4 integrated loudness in LUFS of ``(channels, samples)`` audio."""
    if audio.ndim == 1:
        audio = audio[None, :]
    meter = AudioMeter(sample_rate, audio.shape[0])
    meter.feed(audio)
    return meter.loudness()


def frame_levels(mono: np.ndarray, sample_rate: int, hop: float) -> np.ndarray:
    """RMS level in dBFS of consecutive ``hop``-second blocks (the last partial block included)."""
    size = max(1, int(round(hop * sample_rate)))
    n = int(math.ceil(mono.size / size))
    if n == 0:
        return np.zeros(0)
    padded = np.zeros(n * size, dtype=np.float64)
    padded[: mono.size] = mono
    power = (padded.reshape(n, size) ** 2).mean(axis=1)
    if mono.size % size:
        power[-1] *= size / (mono.size % size)  # the tail block's mean over its real samples
    return 10.0 * np.log10(np.maximum(power, 1e-12))


class BlockLevels:
    """:func:`frame_levels` fed chunk by chunk: RMS in dBFS of consecutive ``hop``-second blocks of a
    mono signal, holding one number per block (the music's energy curve over a whole song)."""

    def __init__(self, sample_rate: int, hop: float) -> None:
        self._size = max(1, int(round(hop * sample_rate)))
        self._rest = np.zeros(0)
        self._powers: list[np.ndarray] = []
        self.samples = 0

    def feed(self, mono: np.ndarray) -> None:
        self.samples += mono.size
        data = np.concatenate([self._rest, mono.astype(np.float64, copy=False)])
        n = data.size // self._size
        if n:
            self._powers.append((data[: n * self._size] ** 2).reshape(n, self._size).mean(axis=1))
        self._rest = data[n * self._size :]

    def levels_db(self) -> np.ndarray:
        power = list(self._powers)
        if self._rest.size:
            power.append(np.array([float((self._rest**2).mean())]))  # the tail block's real samples
        joined = np.concatenate(power) if power else np.zeros(0)
        return 10.0 * np.log10(np.maximum(joined, 1e-12))


def silence_threshold(levels_db: np.ndarray) -> float:
    """Level (dBFS) below which audio counts as silence: 30 dB under the loud parts, within −60…−35.

    "Loud parts" is the 95th percentile of the block levels, so a few peaks do not move it and a
    quiet recording still gets a sensible threshold.
    """
    if levels_db.size == 0:
        return -60.0
    reference = float(np.percentile(levels_db, 95))
    return float(min(-35.0, max(-60.0, reference - 30.0)))


def find_silences(
    mono: np.ndarray,
    sample_rate: int,
    *,
    min_duration: float = 0.25,
    threshold_db: float | None = None,
    hop: float = 0.01,
) -> list[TimeSpan]:
    """Quiet spans of at least ``min_duration`` seconds; edges resolved to ``hop`` (10 ms).

    ``min_duration`` bridges the short dips between syllables and beats; ``threshold_db`` defaults
    to :func:`silence_threshold`.
    """
    levels = frame_levels(mono, sample_rate, hop)
    return silences_from_levels(
        levels, hop, mono.size / sample_rate, min_duration=min_duration, threshold_db=threshold_db
    )


def silences_from_levels(
    levels: np.ndarray,
    hop: float,
    duration: float,
    *,
    min_duration: float = 0.25,
    threshold_db: float | None = None,
) -> list[TimeSpan]:
    """Silent spans from block levels (dBFS, one per ``hop`` seconds) of audio ``duration`` s long."""
    if levels.size == 0:
        return []
    threshold = silence_threshold(levels) if threshold_db is None else threshold_db
    quiet = np.concatenate([[False], levels < threshold, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    spans: list[TimeSpan] = []
    for start, end in zip(edges[::2], edges[1::2]):
        t0, t1 = start * hop, min(duration, end * hop)
        if t1 - t0 >= min_duration:
            spans.append(TimeSpan(start=round(t0, 3), end=round(t1, 3)))
    return spans


def energy_curve(mono: np.ndarray, sample_rate: int, hop: float = 0.5, *, range_db: float = 30.0) -> list[float]:
    """Loudness-like energy per ``hop`` seconds, 0..1.

    RMS in dB mapped linearly so the loud parts (98th percentile) are 1 and ``range_db`` below
    them is 0: a dB scale follows what a listener hears as "more" far better than raw RMS.
    """
    return energy_from_levels(frame_levels(mono, sample_rate, hop), range_db=range_db)


def energy_from_levels(levels: np.ndarray, *, range_db: float = 30.0) -> list[float]:
    """:func:`energy_curve` from block levels in dBFS (e.g. :class:`BlockLevels`)."""
    if levels.size == 0:
        return []
    top = float(np.percentile(levels, 98))
    values = np.clip((levels - (top - range_db)) / range_db, 0.0, 1.0)
    return [round(float(v), 4) for v in values]


def _runs(labels: np.ndarray) -> list[list[int]]:
    """[[label, start, end), ...] runs of equal values."""
    runs: list[list[int]] = []
    for i, value in enumerate(labels.tolist()):
        if runs and runs[-1][0] == value:
            runs[-1][2] = i + 1
        else:
            runs.append([value, i, i + 1])
    return runs


def find_sections(
    energy: list[float],
    hop: float,
    *,
    downbeats: list[float] | None = None,
    min_seconds: float = 6.0,
) -> list[MusicSection]:
    """Split an energy curve into labelled sections (intro, build, peak, break, outro).

    The curve is smoothed over ~2 s and banded into low (< 0.45), mid and high (>= 0.75); runs
    shorter than ``min_seconds`` are merged into the neighbour closest in energy; boundaries move
    to the nearest downbeat within one second. Labels: high runs are peaks; low or mid runs at the
    start and end are intro and outro; mid runs rising into a louder section are builds; the other
    middle runs are breaks.
    """
    if not energy:
        return []
    values = np.asarray(energy, dtype=float)
    width = max(1, int(round(2.0 / hop)))
    smooth = np.convolve(np.pad(values, width // 2, mode="edge"), np.ones(width) / width, mode="valid")[: values.size]
    bands = np.where(smooth >= 0.75, 2, np.where(smooth < 0.45, 0, 1))
    runs = _runs(bands)
    min_len = max(1, int(round(min_seconds / hop)))
    while len(runs) > 1:
        lengths = [end - start for _, start, end in runs]
        k = int(np.argmin(lengths))
        if lengths[k] >= min_len:
            break
        mean = lambda r: float(values[r[1] : r[2]].mean())  # noqa: E731
        here = mean(runs[k])
        if k == 0:
            j = 1
        elif k == len(runs) - 1:
            j = k - 1
        else:
            j = k - 1 if abs(mean(runs[k - 1]) - here) <= abs(mean(runs[k + 1]) - here) else k + 1
        lo, hi = min(j, k), max(j, k)
        keep = runs[j][0]
        runs[lo : hi + 1] = [[keep, runs[lo][1], runs[hi][2]]]
        # Neighbours that now share a band become one run.
        merged: list[list[int]] = []
        for run in runs:
            if merged and merged[-1][0] == run[0]:
                merged[-1][2] = run[2]
            else:
                merged.append(run)
        runs = merged
    duration = values.size * hop
    bounds = [run[1] * hop for run in runs] + [duration]
    if downbeats:
        marks = np.asarray(downbeats, dtype=float)
        for i in range(1, len(bounds) - 1):
            nearest = float(marks[np.argmin(np.abs(marks - bounds[i]))])
            if abs(nearest - bounds[i]) <= 1.0 and bounds[i - 1] < nearest < bounds[i + 1]:
                bounds[i] = nearest
    sections: list[MusicSection] = []
    for i, (band, start, end) in enumerate(runs):
        level = float(values[start:end].mean())
        if band == 2:
            label = "peak"
        elif i == 0 and len(runs) > 1:
            label = "intro"
        elif i == len(runs) - 1 and len(runs) > 1:
            label = "outro"
        elif i + 1 < len(runs) and float(values[runs[i + 1][1] : runs[i + 1][2]].mean()) > level:
            label = "build"
        else:
            label = "break"
        sections.append(
            MusicSection(
                start=round(bounds[i], 3), end=round(bounds[i + 1], 3), label=label, energy=round(min(1.0, level), 4)
            )
        )
    return sections
