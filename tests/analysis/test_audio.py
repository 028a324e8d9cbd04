"""Loudness, silences, energy sections and the music analysis against known facts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis.audio import decode_audio, energy_curve, find_sections, find_silences, integrated_loudness
from analysis.beats import analyze_music
from analysis.engine import EngineResult
from kernel.ffmpeg_tools import ffmpeg_path


def _true_silences(speech: list[list[float]], duration: float) -> list[tuple[float, float]]:
    """The gaps around and between the known speech spans."""
    edges = [0.0, *[t for span in speech for t in span], duration]
    return [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a > 0.05]


def test_silences_match_the_voice_gaps(engine_run: EngineResult, facts: dict) -> None:
    clip = next(c for c in engine_run.clips if c.media.name == "interview_2997.mp4")
    truth = _true_silences(facts["clips"]["interview_2997.mp4"]["speech"], clip.media.duration_seconds)
    found = [(s.start, s.end) for s in clip.silences]
    assert len(found) == len(truth), (found, truth)
    for (a, b), (ta, tb) in zip(found, truth):
        assert abs(a - ta) <= 0.05 and abs(b - tb) <= 0.05, (found, truth)


def test_steady_ambience_has_no_silence(engine_run: EngineResult) -> None:
    for clip in engine_run.clips:
        if clip.media.name != "interview_2997.mp4":
            assert clip.silences == []


def _ffmpeg_loudness(path: Path) -> float:
    proc = subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", proc.stderr)[-1])


@pytest.mark.parametrize("name", ["music.wav", "footage/interview_2997.mp4"])
def test_loudness_agrees_with_ffmpeg_ebur128(sample_media: Path, name: str) -> None:
    audio, rate = decode_audio(sample_media / name)
    assert integrated_loudness(audio, rate) == pytest.approx(_ffmpeg_loudness(sample_media / name), abs=0.2)


def test_loudness_of_a_reference_tone() -> None:
    # A 997 Hz sine with a -20 dBFS peak has an RMS of -23 dBFS; BS.1770's -0.691 offset cancels the
    # K-filter's gain at 1 kHz, so one channel reads -23.0 LUFS and two identical channels +3.01 LU.
    rate = 48000
    t = np.arange(rate * 5) / rate
    tone = (10 ** (-20 / 20) * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    mono = integrated_loudness(tone[None, :], rate)
    stereo = integrated_loudness(np.stack([tone, tone]), rate)
    assert mono == pytest.approx(-23.0, abs=0.1)
    assert stereo == pytest.approx(mono + 3.01, abs=0.02)
    assert integrated_loudness(np.zeros((2, rate * 2), np.float32), rate) is None


def test_silences_on_a_built_signal() -> None:
    rate = 16000
    signal = np.zeros(rate * 6, np.float32)
    rng = np.random.default_rng(1)
    for start, end in [(1.0, 2.0), (3.5, 4.2)]:
        signal[int(start * rate) : int(end * rate)] = rng.standard_normal(int((end - start) * rate)) * 0.2
    spans = [t for s in find_silences(signal, rate) for t in (s.start, s.end)]
    assert spans == pytest.approx([0.0, 1.0, 2.0, 3.5, 4.2, 6.0], abs=0.011)


def test_sections_follow_the_energy_arc() -> None:
    rate = 22050
    rng = np.random.default_rng(3)
    # intro quiet 10 s, build medium 10 s, peak loud 16 s, outro quiet 8 s (noise at set levels).
    levels = [(10, -30), (10, -12), (16, 0), (8, -30)]
    parts = [rng.standard_normal(seconds * rate) * 0.3 * 10 ** (db / 20) for seconds, db in levels]
    energy = energy_curve(np.concatenate(parts), rate, 0.5)
    sections = find_sections(energy, 0.5)
    assert [s.label for s in sections] == ["intro", "build", "peak", "outro"]
    assert [s.start for s in sections] == pytest.approx([0, 10, 20, 36], abs=1.0)
    assert sections[-1].end == pytest.approx(44, abs=0.5)
    assert sections[2].energy > sections[1].energy > sections[0].energy


def test_music_analysis_fills_every_field(sample_media: Path, facts: dict) -> None:
    music = analyze_music(sample_media / "music.wav")
    assert abs(music.beat_grid.tempo_bpm - facts["music"]["tempo_bpm"]) <= 0.5
    assert len(music.energy) == pytest.approx(facts["music"]["duration"] / music.energy_hop, abs=1)
    assert all(0.0 <= e <= 1.0 for e in music.energy)
    assert music.sections and music.sections[0].start == 0 and music.sections[-1].end == pytest.approx(40, abs=0.5)
    assert music.loudness_lufs == pytest.approx(_ffmpeg_loudness(sample_media / "music.wav"), abs=0.2)
    assert music.silences == []  # drums from the first sample to the end


def _synth_drums():
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "scripts" / "make_sample_media.py"
    spec = importlib.util.spec_from_file_location("make_sample_media", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synth_drums


@pytest.mark.parametrize("bpm", [70, 150, 174])
def test_no_octave_errors_on_kick_snare_music(bpm: float) -> None:
    import librosa

    from analysis.beats import beat_grid

    stereo, beats, downbeats = _synth_drums()(20.0, bpm)
    mono = librosa.resample(stereo[:, 0].astype(np.float32), orig_sr=48000, target_sr=22050)
    grid = beat_grid(mono, 22050)
    assert grid.tempo_bpm == pytest.approx(bpm, abs=0.5)  # not bpm / 2 or bpm * 2
    assert len(grid.beats) == len(beats)
    assert max(float(np.min(np.abs(np.array(beats) - b))) for b in grid.beats) < 0.010
    assert grid.downbeats[:3] == pytest.approx(downbeats[:3], abs=0.010)


def test_streaming_meter_matches_the_whole_array(sample_media: Path) -> None:
    from analysis.audio import AudioMeter, frame_levels

    audio, rate = decode_audio(sample_media / "music.wav")
    meter = AudioMeter(rate, audio.shape[0])
    for start in range(0, audio.shape[1], 12345):  # odd chunk size: steps and blocks straddle chunks
        meter.feed(audio[:, start : start + 12345])
    assert meter.loudness() == pytest.approx(_ffmpeg_loudness(sample_media / "music.wav"), abs=0.2)
    assert meter.duration == pytest.approx(audio.shape[1] / rate)
    whole = frame_levels(audio.mean(axis=0), rate, 0.01)
    assert meter.levels_db() == pytest.approx(whole, abs=1e-3)
