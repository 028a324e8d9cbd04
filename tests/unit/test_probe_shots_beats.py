"""Probe, shot detection and beat tracking checked against the sample-media generator's facts."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from analysis.beats import analyze_music, beat_grid
from kernel.errors import AnalysisError, MediaError
from kernel.probe import probe_media
from kernel.timebase import parse_rate


def test_probe_matches_facts(sample_media: Path, facts: dict) -> None:
    for name, truth in facts["clips"].items():
        item = probe_media(sample_media / "footage" / name)
        assert item.rate == parse_rate(truth["rate"])
        assert item.frames == truth["frames"]
        assert item.start_frame == truth["start_frame"]
        assert item.drop_frame == truth["drop_frame"]
        assert item.start_timecode == truth["start_timecode"]
        assert (item.width, item.height) == (320, 180)
        assert item.audio_channels >= 1
        assert not item.variable_frame_rate


def test_beat_grid_matches_facts(sample_media: Path, facts: dict) -> None:
    music = analyze_music(sample_media / "music.wav")
    truth = facts["music"]
    assert abs(music.beat_grid.tempo_bpm - truth["tempo_bpm"]) <= 0.5
    true_beats = np.array(truth["beats"])
    errors = [float(np.min(np.abs(true_beats - b))) for b in music.beat_grid.beats]
    assert max(errors) < 0.010  # 10 ms: well inside one frame at any video rate
    assert len(music.beat_grid.beats) >= len(true_beats) - 1
    assert abs(music.beat_grid.downbeats[0] - truth["downbeats"][0]) < 0.010


def test_silent_music_is_refused() -> None:
    with pytest.raises(AnalysisError, match="silent"):
        beat_grid(np.zeros(22050 * 5, dtype=np.float32), 22050)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.mp4", b"", "empty"),
        ("notes.mp4", b"this is not video\n" * 20, "not a readable media file"),
        ("still.png", b"\x89PNG\r\n\x1a\n", "still image"),
    ],
)
def test_probe_errors_name_the_file(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MediaError, match=message) as info:
        probe_media(path)
    assert name in str(info.value)


def test_probe_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        probe_media(tmp_path / "nope.mov")


def test_audio_only_file_probes_as_audio(sample_media: Path) -> None:
    item = probe_media(sample_media / "music.wav")
    assert not item.has_video and item.audio_channels == 2 and item.audio_sample_rate == 48000
    assert item.rate == Fraction(48000)


def test_matroska_uppercase_timecode_tag(tmp_path: Path) -> None:
    # Matroska stores the start timecode as a container tag named TIMECODE (upper case).
    from kernel.ffmpeg_tools import run_ffmpeg

    clip = tmp_path / "cam.mkv"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=s=64x36:r=25:d=1", "-timecode", "10:00:00:00", "-c:v", "libx264", str(clip)]
    )
    item = probe_media(clip)
    assert item.start_frame == 900000 and item.start_timecode == "10:00:00:00"
