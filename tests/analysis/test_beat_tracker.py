"""Our beat tracker is librosa's: ``_beat_track`` (numpy) returns the frames of
``librosa.beat.beat_track`` (numba) for the same onset envelope, at one tempo and at a tempo per
frame, so dropping the numba import changed no beat. librosa.beat is imported here only."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.beats import _HOP, _beat_track, _onset_envelope
from tests.planner.songs import ambient_song, intro_song, ramp_song

SR = 22050


@pytest.fixture(scope="module")
def envelopes() -> dict[str, np.ndarray]:
    songs = {"intro": intro_song(seconds=24.0, intro=4.0), "ramp": ramp_song(seconds=24.0), "ambient": ambient_song(20)}
    return {name: _onset_envelope(song.samples, SR, 2048, _HOP)[0] for name, song in songs.items()}


@pytest.mark.parametrize("name", ["intro", "ramp", "ambient"])
def test_same_frames_as_librosa_beat_track(envelopes: dict[str, np.ndarray], name: str) -> None:
    import librosa
    import librosa.beat  # compiles numba kernels: only here, never in the product

    env = envelopes[name]
    local = librosa.feature.tempo(onset_envelope=env, sr=SR, hop_length=_HOP, aggregate=None)
    for bpm in (120.0, 97.3, 151.0, local):
        _, expected = librosa.beat.beat_track(onset_envelope=env, sr=SR, hop_length=_HOP, bpm=bpm)
        assert np.array_equal(_beat_track(env, SR / _HOP, bpm), expected), (name, np.size(bpm))


def test_onset_envelope_in_blocks_equals_librosa_on_the_whole_signal() -> None:
    import librosa

    samples = intro_song(seconds=30.0, intro=2.0).samples
    ours, (low,) = _onset_envelope(samples, SR, 2048, _HOP, bands=((None, 150.0),))
    spec = np.abs(librosa.stft(samples, n_fft=2048, hop_length=_HOP))
    mel = librosa.feature.melspectrogram(S=spec**2, sr=SR)
    expected = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=SR, hop_length=_HOP)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    freqs = librosa.fft_frequencies(sr=SR, n_fft=2048)
    np.testing.assert_allclose(low, spec[freqs < 150].sum(axis=0), rtol=1e-5)


def test_silence_has_no_beats() -> None:
    assert _beat_track(np.zeros(500, dtype=np.float32), SR / _HOP, 120.0).size == 0
