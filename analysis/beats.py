"""Music beat grid with librosa, with the tempo refined by a fit over beat times.

librosa's ``beat_track`` reports tempo on a quantized grid (117.45 instead of 120 at the default
hop, research/feasibility.md §3b); fitting a line through the tracked beat times removes that.
Music that does not keep one tempo (a ramp, rubato, a ritardando) is tracked along its local
tempo; music without a clear beat gets its strongest onsets instead (``BeatGrid.pulse`` says which).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.errors import AnalysisError, MediaError
from analysis.models import BeatGrid, MusicAnalysis

_SAMPLE_RATE = 22050
_HOP = 256


def load_audio(path: str | Path, sample_rate: int = _SAMPLE_RATE) -> tuple[np.ndarray, int, int, float]:
    """Decode ``path`` to mono float32 at ``sample_rate``; returns (samples, sr, channels, seconds)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"{path}: not a readable audio file ({exc})") from exc
    try:
        stream = next((s for s in container.streams.audio), None)
        if stream is None:
            raise MediaError(f"{path}: has no audio stream — pass a music file with --music")
        channels = stream.codec_context.channels
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: audio is damaged or truncated ({exc})") from exc
    finally:
        container.close()
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return samples.astype(np.float32, copy=False), sample_rate, channels, len(samples) / sample_rate


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
    # downbeat picker's low band; the tempo prior comes from one autocorrelation of the whole
    # envelope instead of librosa's per-frame tempogram, which was a third of the run time.
    spec = np.abs(librosa.stft(samples, n_fft=2048, hop_length=_HOP))
    mel = librosa.feature.melspectrogram(S=spec**2, sr=sample_rate)
    onset_env = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=sample_rate, hop_length=_HOP)
    duration = samples.size / sample_rate
    start_bpm = _global_tempo(onset_env, sample_rate)
    tracked = _track(onset_env, sample_rate, start_bpm)
    if len(tracked) >= 4:
        factor = _octave_correction(tracked, spec, sample_rate)
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
    downbeats = _downbeats(spec, sample_rate, beats, beats_per_bar)
    return BeatGrid(tempo_bpm=float(bpm), beats=beats, downbeats=downbeats, beats_per_bar=beats_per_bar, pulse=pulse)


# A pulse is clear when at least this share of the tracked beats sit on a strong onset (the top
# 10 % of the onset envelope). Drum-driven music measures 0.95+, a pad with chord changes ~0.35.
CLEAR_PULSE = 0.5


def _track(onset_env: np.ndarray, sample_rate: int, bpm: float | np.ndarray) -> np.ndarray:
    """Beat times (s) from librosa's tracker at a fixed or (array, one per frame) local tempo."""
    import librosa

    _, frames = librosa.beat.beat_track(onset_envelope=onset_env, sr=sample_rate, hop_length=_HOP, bpm=bpm)
    return librosa.frames_to_time(frames, sr=sample_rate, hop_length=_HOP)


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
    fine_env = librosa.onset.onset_strength(y=samples, sr=sample_rate, hop_length=fine_hop, n_fft=512)
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
    envelope = librosa.onset.onset_strength(y=part, sr=sample_rate, hop_length=fine_hop, n_fft=512)
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


def _octave_correction(tracked: np.ndarray, spec: np.ndarray, sample_rate: int) -> float:
    """2.0 when the tracker locked onto every other beat, 0.5 when it took the off-beats for
    beats, else 1.0.

    Fast kick/snare music (150+ BPM) is read at half speed by the 120-BPM prior: the tracker
    follows the kicks and the snares fall exactly between its beats. The test is the energy below
    500 Hz (kick and snare bodies; hi-hats have almost none there) halfway between tracked beats
    against on them: a snare there gives ~0.4 of the kick, eighth-note hats well under 0.1. At
    >= 0.2, and when the doubled tempo stays <= 200 BPM, the midpoints are beats too.
    """
    import librosa

    period = float(np.median(np.diff(tracked)))
    if period <= 0:
        return 1.0
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=2048)
    low = spec[(freqs > 30) & (freqs < 500)].sum(axis=0)
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


def _downbeats(spec: np.ndarray, sample_rate: int, beats: list[float], beats_per_bar: int) -> list[float]:
    """Pick the bar phase whose beats carry the most low-frequency energy (the kick).

    ``spec`` is the magnitude STFT (n_fft 2048, hop ``_HOP``) already computed for the onsets.
    """
    import librosa

    if len(beats) < beats_per_bar:
        return beats[:1]
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=2048)
    low = spec[freqs < 150].sum(axis=0)
    frames = librosa.time_to_frames(beats, sr=sample_rate, hop_length=_HOP)
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
        decode_audio,
        energy_curve,
        find_sections,
        find_silences,
        integrated_loudness,
    )

    path = Path(path)
    samples, sr, channels, seconds = load_audio(path)
    try:
        grid = beat_grid(samples, sr)
    except AnalysisError as exc:
        raise AnalysisError(f"{path}: {exc}") from exc
    full, full_rate = decode_audio(path, LOUDNESS_RATE)
    mono = full.mean(axis=0) if full.shape[1] else samples
    mono_rate = full_rate if full.shape[1] else sr
    energy = energy_curve(mono, mono_rate, energy_hop)
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
        silences=find_silences(mono, mono_rate),
        loudness_lufs=integrated_loudness(full, full_rate) if full.shape[1] else None,
    )
