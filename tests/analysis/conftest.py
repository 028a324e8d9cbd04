"""Extra media for the analysis tests, derived from the generated sample clips with ffmpeg."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.engine import EngineOptions, EngineResult, analyze_paths
from kernel.ffmpeg_tools import run_ffmpeg


@pytest.fixture(scope="session")
def derived_media(sample_media: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """rotated (display matrix 90° clockwise), VFR, truncated, garbage, zero-byte and audio-only files."""
    out = tmp_path_factory.mktemp("derived-media")
    beach = sample_media / "footage" / "beach_2398.mp4"
    rotated = out / "rotated.mp4"
    # -display_rotation is counter-clockwise; -90 is what a phone held upright writes (rotate=90).
    run_ffmpeg(["-display_rotation", "-90", "-i", str(beach), "-c", "copy", str(rotated)])
    vfr = out / "vfr.mp4"
    # Frames 0-99 one 24th of a second apart, later frames two 24ths apart: a real VFR file.
    run_ffmpeg(
        [
            "-i", str(beach), "-an", "-vf", "setpts='(N+gt(N,100)*(N-100))/24/TB'", "-fps_mode", "passthrough",
            "-c:v", "libx264", "-preset", "ultrafast", "-video_track_timescale", "24000", str(vfr),
        ]
    )  # fmt: skip
    data = beach.read_bytes()
    truncated = out / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])  # the moov index is at the end: it is lost
    garbage = out / "garbage.mov"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypqt  " + bytes(range(256)) * 64)
    empty = out / "empty.mp4"
    empty.write_bytes(b"")
    music = out / "song.wav"
    shutil.copy(sample_media / "music.wav", music)
    return {
        "rotated": rotated,
        "vfr": vfr,
        "truncated": truncated,
        "garbage": garbage,
        "empty": empty,
        "audio": music,
    }


@pytest.fixture(scope="session")
def engine_run(sample_media: Path, tmp_path_factory: pytest.TempPathFactory) -> EngineResult:
    """The sample footage analyzed once, in-process, with a fresh cache."""
    files = sorted((sample_media / "footage").iterdir())
    cache = tmp_path_factory.mktemp("engine-cache")
    return analyze_paths(files, EngineOptions(jobs=1, cache_dir=cache))
