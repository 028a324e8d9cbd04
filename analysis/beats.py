"""Music beat grid with librosa, with the tempo refined by a fit over beat times.

librosa's ``beat_track`` reports tempo on a quantized grid (117.45 instead of 120 at the default
hop, research/feasibility.md §3b); fitting a line through the tracked beat times removes that.
Music that does not keep one tempo (a ramp, rubato, a ritardando) is tracked along its local
tempo; music without a clear beat gets its strongest onsets instead (``BeatGrid.pulse`` says which).

Cost: the spectrogram is taken in blocks and only what the analysis reads is kept (the 128-band
mel power, two low-band sums), so 10 min of music peaks at a few hundred MB, not gigabytes; the
file is decoded once for both the beat grid and the loudness meter; and beats are tracked by
:func:`_beat_track`, librosa's dynamic program in numpy, because importing ``librosa.beat``
compiles numba code (~3 CPU-s) on every run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from analysis.models import BeatGrid, MusicAnalysis
from kernel.errors import AnalysisError, MediaError

_SAMPLE_RATE = 22050
_HOP = 256
# Bump when analyze_music's results change, so cached music analyses are redone.
MUSIC_VERSION = "1"


def load_audio(path: str | Path, sample_rate: int = _SAMPLE_RATE) -> tuple[np.ndarray, int, int, float]:
    """Decode ``path`` to mono float32 at ``sample_rate``; returns (samples, sr, channels, seconds)."""
    samples, channels, _ = _decode(Path(path), sample_rate)
    return samples, sample_rate, channels, len(samples) / sample_rate


def _decode(path: Path, sample_rate: int, meter_rate: int | None = None, mono_sink=None):  # type: ignore[no-untyped-def]
    """(mono float32 samples at ``sample_rate``, channels, AudioMeter or None) in one decode.

    With ``meter_rate`` each decoded frame is also resampled to that rate with the file's channels
    and fed to an :class:`analysis.audio.AudioMeter` (loudness, levels), and its channel mean to
    ``mono_sink`` (float64), so the file is read once.
    The mono samples go into one buffer sized from the container's duration (no list of chunks to
    concatenate, which doubled the peak).
    """
    import av

    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"{path}: not a readable audio file ({exc})") from exc
    meter = None
    try:
        stream = next((s for s in container.streams.audio), None)
        if stream is None:
            raise MediaError(f"{path}: has no audio stream — pass a music file with --music")
        channels = stream.codec_context.channels
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        seconds = float(container.duration / av.time_base) if container.duration else 60.0
        buffer = _Samples(int(seconds * sample_rate * 1.01) + sample_rate)
        full = None
        if meter_rate is not None:
            from analysis.audio import AudioMeter

            meter_channels = max(1, channels)
            layout = "mono" if meter_channels == 1 else (stream.layout.name if stream.layout else f"{channels}c")
            full = av.AudioResampler(format="fltp", layout=layout, rate=meter_rate)
            meter = AudioMeter(meter_rate, meter_channels)
            batch = _Batch(meter, mono_sink, meter_rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                buffer.add(out.to_ndarray().reshape(-1))
            if full is not None:
                for out in full.resample(frame):
                    batch.add(out.to_ndarray())
        for out in resampler.resample(None):
            buffer.add(out.to_ndarray().reshape(-1))
        if full is not None:
            for out in full.resample(None):
                batch.add(out.to_ndarray())
            batch.flush()
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: audio is damaged or truncated ({exc})") from exc
    finally:
        container.close()
    return buffer.array(), channels, meter


class _Batch:
    """Decoded frames (~1k samples each) gathered into ~1 s chunks before metering: the meter's
    filters and block sums cost per call, and streaming them is exact whatever the chunk size."""

    def __init__(self, meter, mono_sink, rate: int) -> None:  # type: ignore[no-untyped-def]
        self._meter, self._sink, self._limit = meter, mono_sink, rate
        self._chunks: list[np.ndarray] = []
        self._size = 0

    def add(self, chunk: np.ndarray) -> None:
        self._chunks.append(chunk)
        self._size += chunk.shape[1]
        if self._size >= self._limit:
            self.flush()

    def flush(self) -> None:
        if not self._chunks:
            return
        chunk = np.concatenate(self._chunks, axis=1)
        self._chunks, self._size = [], 0
        self._meter.feed(chunk)
        if self._sink is not None:
            self._sink(chunk.mean(axis=0, dtype=np.float64))


class _Samples:
    """A float32 buffer that grows (by half) only when the container under-stated its duration."""

    def __init__(self, capacity: int) -> None:
        self._data = np.empty(max(1, capacity), dtype=np.float32)
        self._size = 0

    def add(self, chunk: np.ndarray) -> None:
        end = self._size + chunk.size
        if end > self._data.size:
            grown = np.empty(max(end, self._data.size * 3 // 2), dtype=np.float32)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : end] = chunk
        self._size = end

    def array(self) -> np.ndarray:
        if self._data.size - self._size > (1 << 20):
            return self._data[: self._size].copy()  # give back a large unused tail
        return self._data[: self._size]


def fit_tempo(beats: np.ndarray) -> tuple[float, float]:
    """Least-squares line through beat times; returns (bpm, phase in seconds of beat 0)."""
    idx = np.arange(len(beats), dtype=float)
    period, phase = np.polyfit(idx, beats, 1)
    return 60.0 / period, float(phase)


def beat_grid(samples: np.ndarray, sample_rate: int, *, beats_per_bar: int = 4) -> BeatGrid:
    """Track beats in mono ``samples``; beat times in seconds.

    Three outcomes, named in ``BeatGrid.pulse``:
    - ``steady``: the tempo is fitted over the tracked beats and the beats are snapped to the
      fitted grid (every tracked beat within 15 % of a period of it), which recovers the beats
      ``beat_track`` skips at the start and removes its hop-size jitter. The grid reaches only as
      far as the music has attacks on it: a beatless intro or outro gets no invented beats;
    - ``variable``: the tempo drifts or ramps (or rubato, a ritardando): the beats are tracked
      again following librosa's local tempo curve and kept as tracked;
    - ``none``: no clear beat (ambient, a pad, speech): fewer than half of the tracked "beats" sit
      on a strong onset. ``beats`` are then the strongest onsets, at least a second apart (chord
      changes, phrase starts), ``downbeats`` the same, ``beats_per_bar`` 1.

    Raises AnalysisError only when there is nothing to cut to: silence, under a second of audio,
    or neither a beat nor two distinct onsets.
    """
    import librosa

    if samples.size < sample_rate or float(np.max(np.abs(samples), initial=0.0)) < 1e-4:
        raise AnalysisError("music is silent or shorter than one second: no beat to cut to")
    # One STFT feeds the onset envelope (as librosa's default: log-power mel flux) and the
    # downbeat picker's low bands; the tempo prior comes from one autocorrelation of the whole
    # envelope instead of librosa's per-frame tempogram, which was a third of the run time.
    onset_env, (low500, low150) = _onset_envelope(samples, sample_rate, 2048, _HOP, bands=((30, 500), (0, 150)))
    duration = samples.size / sample_rate
    start_bpm = _global_tempo(onset_env, sample_rate)
    tracked = _track(onset_env, sample_rate, start_bpm)
    if len(tracked) >= 4:
        factor = _octave_correction(tracked, low500, sample_rate)
        if factor != 1.0:
            # Track again with the corrected tempo imposed: beat_track then follows that period.
            tracked = _track(onset_env, sample_rate, 60.0 / float(np.median(np.diff(tracked))) * factor)
    if len(tracked) < 4 or _pulse_clarity(onset_env, tracked, sample_rate) < CLEAR_PULSE:
        return _onset_grid(onset_env, samples, sample_rate, tracked)
    steady = _steady_grid(tracked, samples, sample_rate, onset_env, duration)
    if steady is None:
        # Drift, a ramp, rubato: follow librosa's local tempo curve (a tempogram, ~9 s windows).
        # Only here: it costs as much as the rest of the analysis.
        # Its prior stays at librosa's 120 BPM: a ramp read at double speed above (hats on the
        # eighths) would otherwise stay doubled.
        local = librosa.feature.tempo(onset_envelope=onset_env, sr=sample_rate, hop_length=_HOP, aggregate=None)
        retracked = _track(onset_env, sample_rate, local)
        if len(retracked) >= 4 and _pulse_clarity(onset_env, retracked, sample_rate) >= CLEAR_PULSE:
            tracked = retracked
        steady = _steady_grid(tracked, samples, sample_rate, onset_env, duration)
    if steady is not None:
        bpm, beats = steady
        pulse = "steady"
    else:
        bpm, _ = fit_tempo(tracked)
        beats = [float(t) for t in tracked]
        pulse = "variable"
    downbeats = _downbeats(low150, sample_rate, beats, beats_per_bar)
    return BeatGrid(tempo_bpm=float(bpm), beats=beats, downbeats=downbeats, beats_per_bar=beats_per_bar, pulse=pulse)


# A pulse is clear when at least this share of the tracked beats sit on a strong onset (the top
# 10 % of the onset envelope). Drum-driven music measures 0.95+, a pad with chord changes ~0.35.
CLEAR_PULSE = 0.5


def _track(onset_env: np.ndarray, sample_rate: int, bpm: float | np.ndarray) -> np.ndarray:
    """Beat times (s) from librosa's tracker at a fixed or (array, one per frame) local tempo."""
    frames = _beat_track(onset_env, float(sample_rate) / _HOP, bpm)
    return frames * (_HOP / sample_rate)


def _onset_envelope(
    samples: np.ndarray,
    sample_rate: int,
    n_fft: int,
    hop: int,
    bands: tuple[tuple[float | None, float], ...] = (),
) -> tuple[np.ndarray, list[np.ndarray]]:
    """librosa's default onset envelope (log-power mel flux, centred frames) without holding the
    spectrogram: the STFT is taken in blocks of frames and each block is reduced to its 128 mel
    bands (and to the magnitude summed over each ``(low, high)`` Hz band, low None: from DC) at
    once. Equal to ``onset_strength(S=power_to_db(melspectrogram(S=|stft|**2)))`` frame for frame:
    every frame is the same windowed FFT of the zero-padded signal; only the dB floor (80 dB under
    the loudest mel value) needs the whole, and the mel power is 128 rows, not ``1 + n_fft/2``.
    """
    import librosa

    n = samples.size
    frames = 1 + n // hop
    half = n_fft // 2
    mel_basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    masks = [(freqs < hi) if lo is None else ((freqs > lo) & (freqs < hi)) for lo, hi in bands]
    mel = np.empty((mel_basis.shape[0], frames), dtype=np.float32)
    sums = [np.empty(frames, dtype=np.float32) for _ in bands]
    block = max(1, (1 << 20) // n_fft)  # frames per block: ~4 MB of complex spectrum
    for f0 in range(0, frames, block):
        f1 = min(frames, f0 + block)
        start, end = f0 * hop - half, (f1 - 1) * hop + n_fft - half  # in the unpadded signal
        segment = np.zeros(end - start, dtype=np.float32)
        lo, hi = max(0, start), min(n, end)
        if hi > lo:
            segment[lo - start : hi - start] = samples[lo:hi]
        magnitude = np.abs(librosa.stft(segment, n_fft=n_fft, hop_length=hop, center=False))
        mel[:, f0:f1] = np.einsum("...ft,mf->...mt", magnitude**2, mel_basis, optimize=True)
        for mask, out in zip(masks, sums):
            out[f0:f1] = magnitude[mask].sum(axis=0)
    # librosa.power_to_db(mel) (ref 1, amin 1e-10, top_db 80), in place.
    np.maximum(mel, 1e-10, out=mel)
    np.log10(mel, out=mel)
    mel *= 10.0
    np.maximum(mel, mel.max() - 80.0, out=mel)
    # librosa.onset.onset_strength(S=mel_db): mean positive flux at lag 1, shifted right by
    # 1 + n_fft / (2 hop) frames (centring), trimmed to the frame count; in blocks of frames.
    envelope = np.zeros(frames, dtype=np.float32)
    shift = 1 + n_fft // (2 * hop)
    for f0 in range(0, max(0, frames - shift), block):
        f1 = min(frames - shift, f0 + block)
        flux = np.maximum(0.0, mel[:, f0 + 1 : f1 + 1] - mel[:, f0:f1])
        envelope[f0 + shift : f1 + shift] = np.mean(flux, axis=0)
    return envelope, sums


def _beat_track(
    onset_env: np.ndarray, frame_rate: float, bpm: float | np.ndarray, tightness: float = 100.0
) -> np.ndarray:
    """Beat frames: ``librosa.beat.beat_track(onset_envelope=..., bpm=...)`` (librosa 0.11, trim on),
    the same dynamic program (Ellis 2007) in numpy instead of numba kernels compiled at import.

    ``bpm`` is one tempo or one per frame. The local score is the normalised envelope smoothed by
    a Gaussian one beat wide; each frame's best predecessor is the one between half a beat and two
    beats back with the highest cumulative score less a log-tempo-deviation penalty; the path is
    backtracked from the last strong local maximum; weak leading and trailing beats are dropped.
    """
    if not onset_env.any():
        return np.zeros(0, dtype=int)
    env = onset_env / (onset_env.std(ddof=1) + np.finfo(onset_env.dtype).tiny)
    env = env.astype(np.float64)  # librosa's kernels take the float64 loop: the tempo is float64
    per_beat = np.round(frame_rate * 60.0 / np.atleast_1d(np.asarray(bpm, dtype=float)))
    if per_beat.size not in (1, env.size):
        raise ValueError(f"bpm has {per_beat.size} values for {env.size} frames")
    if np.any(per_beat <= 0):
        raise ValueError("bpm must be positive")
    n = env.size
    shifted = env.copy()
    shifted[0] = 0.0  # librosa's convolution loop never reaches the first frame
    localscore = np.empty(n)
    for fpb in np.unique(per_beat):
        window = np.exp(-0.5 * (np.arange(-fpb, fpb + 1) * 32.0 / fpb) ** 2)
        half = int(fpb)
        smooth = np.convolve(shifted, window)[half : half + n]
        if per_beat.size == 1:
            localscore = smooth
        else:
            at = per_beat == fpb
            localscore[at] = smooth[at]
    backlink, cumscore = _beat_dp(localscore, per_beat, float(np.float32(tightness)))
    tail = _last_beat(cumscore)
    beats = np.zeros(n, dtype=bool)
    k = tail
    while k >= 0:
        beats[k] = True
        k = backlink[k]
    # Drop weak leading and trailing frames: half the RMS of the smoothed local score at the beats.
    smooth = np.convolve(localscore[beats], np.hanning(5))[2 : n + 2]
    threshold = 0.5 * float(np.sqrt(np.mean(smooth**2)))
    k = 0
    while k < n and localscore[k] <= threshold:
        beats[k] = False
        k += 1
    k = n - 1
    while k >= 0 and localscore[k] <= threshold:
        beats[k] = False
        k -= 1
    return np.flatnonzero(beats)


def _beat_dp(localscore: np.ndarray, per_beat: np.ndarray, tightness: float) -> tuple[np.ndarray, np.ndarray]:
    """(backlink, cumscore) of librosa's beat-tracking dynamic program.

    A frame's candidates lie at least ``round(fpb / 2)`` frames back, so with one tempo a block of
    that many frames depends only on frames before the block and is solved at once; with a tempo
    per frame it goes frame by frame. Ties go to the nearest candidate, as in librosa's loop.
    """
    n = localscore.size
    cumscore = np.empty(n)
    backlink = np.full(n, -1, dtype=np.int64)
    thresh = 0.01 * float(localscore.max())
    strong = np.flatnonzero(localscore >= thresh)
    first = int(strong[0]) if strong.size else n  # before it, no back-links (librosa's first_beat)
    if per_beat.size == 1:
        fpb = float(per_beat[0])
        near, far = int(np.round(fpb / 2)), int(2 * fpb)
        offsets = np.arange(near, far + 1)  # how far back each candidate is, nearest first
        penalty = tightness * (np.log(offsets) - np.log(fpb)) ** 2
        step = max(1, near)
        for b in range(0, n, step):
            block = np.arange(b, min(n, b + step))
            loc = block[:, None] - offsets[None, :]
            score = np.where(loc >= 0, cumscore[np.maximum(loc, 0)] - penalty, -np.inf)
            best = np.argmax(score, axis=1)
            best_score = score[np.arange(block.size), best]
            found = np.isfinite(best_score)
            cumscore[block] = localscore[block] + np.where(found, best_score, 0.0)
            backlink[block] = np.where(found, block - offsets[best], -1)
    else:
        for i in range(n):
            fpb = float(per_beat[i])
            near, far = int(np.round(fpb / 2)), int(2 * fpb)
            lo = i - far
            hi = i - near
            if hi < 0:
                cumscore[i] = localscore[i]
                continue
            locs = np.arange(hi, max(lo, 0) - 1, -1)
            score = cumscore[locs] - tightness * (np.log(i - locs) - np.log(fpb)) ** 2
            best = int(np.argmax(score))
            cumscore[i] = localscore[i] + score[best]
            backlink[i] = locs[best]
    backlink[:first] = -1
    return backlink, cumscore


def _last_beat(cumscore: np.ndarray) -> int:
    """The last local maximum of ``cumscore`` reaching half the median of its local maxima."""
    previous = np.concatenate([cumscore[:1], cumscore[:-1]])
    following = np.concatenate([cumscore[1:], cumscore[-1:]])
    peaks = (cumscore > previous) & (cumscore >= following)
    if not peaks.any():
        return cumscore.size - 1
    threshold = 0.5 * float(np.median(cumscore[peaks]))
    good = np.flatnonzero(peaks & (cumscore >= threshold))
    return int(good[-1]) if good.size else cumscore.size - 1


def _strength_at(onset_env: np.ndarray, times: np.ndarray, sample_rate: int, reach: int = 1) -> np.ndarray:
    """The onset envelope's maximum within ``reach`` frames of each time (hop rounding, centring)."""
    frames = np.round(np.asarray(times) * sample_rate / _HOP).astype(int)
    rows = [onset_env[np.clip(frames + k, 0, onset_env.size - 1)] for k in range(-reach, reach + 1)]
    return np.maximum.reduce(rows)


def _pulse_clarity(onset_env: np.ndarray, tracked: np.ndarray, sample_rate: int) -> float:
    """Share of tracked beats on a strong onset (0..1): how much of a beat the tracker really heard."""
    if len(tracked) == 0:
        return 0.0
    strong = float(np.percentile(onset_env, 90))
    return float(np.mean(_strength_at(onset_env, tracked, sample_rate) >= strong))


def _steady_grid(
    tracked: np.ndarray, samples: np.ndarray, sample_rate: int, onset_env: np.ndarray, duration: float
) -> tuple[float, list[float]] | None:
    """(bpm, beats) on the fitted grid when the tracked beats keep one tempo; None when they drift.

    The grid is extended from the tracked beats towards both ends of the music only over beats
    that have an attack (a third of the median strength at the tracked beats): librosa often
    skips the first beats of a song, but a beatless intro must not get invented beats.
    """
    bpm, phase = fit_tempo(tracked)
    period = 60.0 / bpm
    idx = np.round((tracked - phase) / period)
    residual = tracked - (phase + idx * period)
    if np.max(np.abs(residual)) >= 0.15 * period:
        return None
    first = phase - np.floor(phase / period) * period
    grid = np.arange(first, duration - 1e-6, period)
    grid = grid + _attack_offset(samples, sample_rate, grid, period)
    strength = _strength_at(onset_env, grid, sample_rate, reach=2)
    inside = (grid >= tracked[0] - period / 2) & (grid <= tracked[-1] + period / 2)
    floor = float(np.median(strength[inside])) / 3.0 if inside.any() else 0.0
    lo = int(np.argmax(inside))
    hi = len(grid) - int(np.argmax(inside[::-1]))
    while lo > 0 and strength[lo - 1] >= floor:
        lo -= 1
    if (
        lo == 1
        and grid[0] < 0.05
        and float(np.max(np.abs(samples[: int(0.05 * sample_rate)]))) > 0.1 * float(np.max(np.abs(samples)))
    ):
        lo = 0  # a beat on the first sample: the flux has no earlier frame to see its attack in
    while hi < len(grid) and strength[hi] >= floor:
        hi += 1
    # A beat a few ms before 0 is the music's first attack at sample 0 seen through the
    # attack-offset estimate's jitter: keep it, at 0.
    beats = [max(0.0, float(t)) for t in grid[lo:hi] if -0.01 <= t < duration]
    return bpm, beats


def _onset_grid(onset_env: np.ndarray, samples: np.ndarray, sample_rate: int, tracked: np.ndarray) -> BeatGrid:
    """The fallback for music without a clear beat: its strongest onsets, at least 1 s apart.

    Chord changes and phrase starts in ambient music are the onsets that stand out (at least
    twice the median onset peak); each is a place a cut may go (``beats`` = ``downbeats``, one
    "beat" per bar). Strongest first, so a weak onset never displaces a strong one within the
    second around it. The envelope's peaks trail or lead the attack by a hop or two (its 93 ms
    window is centred), so each chosen onset moves to the backtracked onset of a fine-hop
    envelope within 80 ms, which lands near the attack itself (within ~50 ms: about a video frame).
    """
    import librosa

    peaks = librosa.onset.onset_detect(onset_envelope=onset_env, sr=sample_rate, hop_length=_HOP, units="frames")
    if len(peaks) < 2:
        raise AnalysisError(f"no steady beat and too few onsets to cut on (only {len(tracked)} beats tracked)")
    strength = onset_env[peaks]
    floor = 2.0 * float(np.median(strength))
    min_gap = int(round(1.0 * sample_rate / _HOP))
    chosen: list[int] = []
    for k in np.argsort(-strength, kind="stable"):
        if strength[k] < floor and len(chosen) >= 2:
            break
        if all(abs(int(peaks[k]) - c) >= min_gap for c in chosen):
            chosen.append(int(peaks[k]))
    coarse = librosa.frames_to_time(np.array(sorted(chosen)), sr=sample_rate, hop_length=_HOP)
    fine_hop = 64
    fine_env, _ = _onset_envelope(samples, sample_rate, 512, fine_hop)
    fine = librosa.onset.onset_detect(
        onset_envelope=fine_env, sr=sample_rate, hop_length=fine_hop, backtrack=True, units="time"
    )
    times: list[float] = []
    for t in coarse:
        near = fine[np.abs(fine - t) <= 0.08] if len(fine) else fine
        times.append(float(near[np.argmin(np.abs(near - t))]) if len(near) else float(t))
    if len(times) < 2:
        raise AnalysisError(f"no steady beat and too few onsets to cut on (only {len(tracked)} beats tracked)")
    bpm = 60.0 / float(np.median(np.diff(times)))
    return BeatGrid(tempo_bpm=bpm, beats=times, downbeats=list(times), beats_per_bar=1, pulse="none")


def _attack_offset(samples: np.ndarray, sample_rate: int, grid: np.ndarray, period: float) -> float:
    """Median distance from grid beats to the nearest backtracked onset (seconds).

    Onset-strength peaks trail the audible attack by about a hop; backtracked onsets at a fine hop
    land on the attack itself, so the grid is shifted by their median offset.
    """
    import librosa

    fine_hop = 64
    # The offset is one number for the whole (steady) track, so a 16 s excerpt from the middle
    # measures it as well as the full length, at a constant cost however long the song is.
    # A 512-sample window (23 ms) is plenty to see an attack and costs a third of the default.
    excerpt = int(16 * sample_rate)
    begin = max(0, (samples.size - excerpt) // 2)
    part = samples[begin : begin + excerpt]
    envelope, _ = _onset_envelope(part, sample_rate, 512, fine_hop)
    onsets = librosa.onset.onset_detect(
        onset_envelope=envelope, sr=sample_rate, hop_length=fine_hop, backtrack=True, units="time"
    )
    onsets = onsets + begin / sample_rate
    grid = grid[(grid >= begin / sample_rate) & (grid < (begin + part.size) / sample_rate)]
    if len(onsets) == 0 or len(grid) == 0:
        return 0.0
    idx = np.clip(np.searchsorted(onsets, grid), 1, len(onsets) - 1)
    nearest = np.where(np.abs(onsets[idx] - grid) < np.abs(onsets[idx - 1] - grid), onsets[idx], onsets[idx - 1])
    delta = nearest - grid
    close = delta[np.abs(delta) < 0.15 * period]
    return float(np.median(close)) if close.size >= 4 else 0.0


def _octave_correction(tracked: np.ndarray, low: np.ndarray, sample_rate: int) -> float:
    """2.0 when the tracker locked onto every other beat, 0.5 when it took the off-beats for
    beats, else 1.0.

    Fast kick/snare music (150+ BPM) is read at half speed by the 120-BPM prior: the tracker
    follows the kicks and the snares fall exactly between its beats. The test is the energy below
    500 Hz (kick and snare bodies; hi-hats have almost none there) halfway between tracked beats
    against on them: a snare there gives ~0.4 of the kick, eighth-note hats well under 0.1. At
    >= 0.2, and when the doubled tempo stays <= 200 BPM, the midpoints are beats too.

    ``low`` is the magnitude spectrum summed over 30–500 Hz, one value per STFT frame.
    """
    period = float(np.median(np.diff(tracked)))
    if period <= 0:
        return 1.0
    mids = (tracked[:-1] + tracked[1:]) / 2.0

    def strength(times: np.ndarray) -> float:
        frames = np.clip(np.round(times * sample_rate / _HOP).astype(int), 0, low.size - 3)
        # The max over the next two frames covers the hop rounding and the STFT's centring.
        return float(np.median(np.maximum.reduce([low[frames], low[frames + 1], low[frames + 2]])))

    on, off = strength(tracked), strength(mids)
    if on > 0 and off / on >= 0.2 and 60.0 / period * 2 <= 200.0:
        return 2.0
    # The opposite error: slow music read at double speed (hats between the beats tracked as
    # beats). One parity of the tracked beats then has almost no low end; keep the other.
    even, odd = strength(tracked[0::2]), strength(tracked[1::2])
    if len(tracked) >= 8 and 60.0 / period / 2 >= 50.0 and min(even, odd) < 0.2 * max(even, odd):
        return 0.5
    return 1.0


def _global_tempo(onset_env: np.ndarray, sample_rate: int) -> float:
    """Tempo (BPM) from the autocorrelation of the whole onset envelope.

    Lags are weighted by librosa's prior (log-normal around 120 BPM, one octave wide), which is
    what keeps a kick/snare pattern from being read at half or double speed; the peak lag is
    refined by parabolic interpolation. Only the starting tempo for ``beat_track``: the reported
    tempo is the fit over the tracked beats.
    """
    import librosa

    max_lag = min(onset_env.size - 1, int(round(4.0 * sample_rate / _HOP)))  # down to 15 BPM
    ac = librosa.autocorrelate(onset_env - onset_env.mean(), max_size=max_lag + 1)
    lags = np.arange(1, ac.size)
    bpms = 60.0 * sample_rate / (_HOP * lags)
    prior = np.exp(-0.5 * (np.log2(bpms / 120.0)) ** 2)
    weighted = np.where((bpms >= 30) & (bpms <= 300), np.maximum(ac[1:], 0) * prior, 0.0)
    k = int(np.argmax(weighted))
    if weighted[k] <= 0:
        return 120.0
    lag = float(lags[k])
    if 0 < k < weighted.size - 1:
        a, b, c = weighted[k - 1], weighted[k], weighted[k + 1]
        denom = a - 2 * b + c
        if denom != 0:
            lag += 0.5 * (a - c) / denom
    return 60.0 * sample_rate / (_HOP * lag)


def _downbeats(low: np.ndarray, sample_rate: int, beats: list[float], beats_per_bar: int) -> list[float]:
    """Pick the bar phase whose beats carry the most low-frequency energy (the kick).

    ``low`` is the magnitude STFT (n_fft 2048, hop ``_HOP``) summed below 150 Hz, per frame.
    """
    if len(beats) < beats_per_bar:
        return beats[:1]
    frames = (np.asarray(beats, dtype=float) * sample_rate).astype(int) // _HOP  # librosa.time_to_frames
    frames = np.clip(frames, 0, low.size - 1)
    strength = low[frames]
    scores = [strength[p::beats_per_bar].mean() for p in range(beats_per_bar)]
    best = int(np.argmax(scores))
    return beats[best::beats_per_bar]


def analyze_music(path: str | Path, *, energy_hop: float = 0.5) -> MusicAnalysis:
    """Decode ``path``; compute its beat grid, energy curve, sections, silences and loudness.

    The beat grid uses mono audio at 22.05 kHz; loudness (EBU R128) and silences use the file's
    channels at 48 kHz, as BS.1770 specifies; the energy curve has one value per ``energy_hop``
    seconds and its sections' boundaries snap to downbeats.
    """
    from analysis.audio import (
        LOUDNESS_RATE,
        BlockLevels,
        energy_curve,
        energy_from_levels,
        find_sections,
        find_silences,
        silences_from_levels,
    )

    path = Path(path)
    # One decode: mono 22.05 kHz for the beats, the file's channels at 48 kHz streamed through the
    # loudness meter (10 ms levels for silences) and the energy curve's blocks.
    blocks = BlockLevels(LOUDNESS_RATE, energy_hop)
    samples, channels, meter = _decode(path, _SAMPLE_RATE, LOUDNESS_RATE, blocks.feed)
    sr = _SAMPLE_RATE
    seconds = len(samples) / sr
    try:
        grid = beat_grid(samples, sr)
    except AnalysisError as exc:
        raise AnalysisError(f"{path}: {exc}") from exc
    if meter.samples:
        energy = energy_from_levels(blocks.levels_db())
        silences = silences_from_levels(meter.levels_db(), meter.level_hop, meter.duration)
        loudness = meter.loudness()
    else:
        energy, silences, loudness = energy_curve(samples, sr, energy_hop), find_silences(samples, sr), None
    return MusicAnalysis(
        path=path.resolve(),
        name=path.name,
        duration_seconds=seconds,
        sample_rate=sr,
        channels=channels,
        beat_grid=grid,
        energy=energy,
        energy_hop=energy_hop,
        sections=find_sections(energy, energy_hop, downbeats=grid.downbeats),
        silences=silences,
        loudness_lufs=loudness,
    )


def analyze_music_cached(
    path: str | Path, cache_dir: str | os.PathLike[str] | None, *, energy_hop: float = 0.5
) -> MusicAnalysis:
    """:func:`analyze_music` through the analysis cache (kind ``"music"``), keyed like footage by the
    file's content, so a song used again (renamed or moved too) costs a fingerprint and a row read.
    ``cache_dir`` None: no cache. A hit is reported under the path it is used from now.
    """
    from analysis.cache import fingerprint, open_cache, params_key

    path = Path(path)
    if cache_dir is None or not path.is_file():
        return analyze_music(path, energy_hop=energy_hop)
    fp = fingerprint(path)
    key = params_key({"energy_hop": energy_hop, "sample_rate": _SAMPLE_RATE, "hop": _HOP})
    with open_cache(cache_dir) as cache:
        if cache is None:  # open_cache yields None only for a None folder, checked above
            return analyze_music(path, energy_hop=energy_hop)
        hit = cache.get(fp, "music", MUSIC_VERSION, key)
        if hit is not None:
            try:
                return MusicAnalysis.model_validate(hit).model_copy(update={"path": path.resolve(), "name": path.name})
            except ValueError:
                pass  # a row from an incompatible model: analyze again and replace it
        music = analyze_music(path, energy_hop=energy_hop)
        cache.put(fp, "music", MUSIC_VERSION, key, music.model_dump(mode="json"))
        return music
