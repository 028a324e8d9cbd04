"""Camera shake: jitter reads as shake, steady pans and static shots do not."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analysis.frame_pass import FramePassOptions, camera_shake, run_frame_pass
from kernel.ffmpeg_tools import run_ffmpeg
from kernel.probe import probe_media

# Crop offsets (pixels, per frame n) into a 400x240 render: a locked-off shot, a slow steady pan,
# and handheld-style jitter of about 3% of the width.
CAMERAS = {
    "static": ("40", "30"),
    "pan": ("min(80,n*0.6)", "30"),
    "shaky": ("40+10*sin(n*2.1)+6*sin(n*3.7)", "30+7*sin(n*2.9)+4*sin(n*1.3)"),
}


@pytest.fixture(scope="module")
def camera_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("shake")
    clips = {}
    for name, (x, y) in CAMERAS.items():
        out = folder / f"{name}.mp4"
        graph = f"mandelbrot=s=400x240:r=25,crop=320:180:x='{x}':y='{y}',trim=end_frame=75,format=yuv420p"
        run_ffmpeg(["-f", "lavfi", "-i", graph, "-c:v", "libx264", "-preset", "ultrafast", str(out)], timeout=120)
        clips[name] = out
    return clips


def _shake(path: Path) -> float:
    shots = run_frame_pass(probe_media(path), FramePassOptions(faces=False))
    assert len(shots) == 1  # camera moves are not cuts
    assert shots[0].quality is not None
    return shots[0].quality.shake


def test_jitter_is_shake_and_steady_moves_are_not(camera_clips: dict[str, Path]) -> None:
    shake = {name: _shake(path) for name, path in camera_clips.items()}
    assert shake["shaky"] >= 0.9, shake
    assert shake["static"] < 0.1, shake
    assert shake["pan"] < 0.2, shake


def test_camera_path_measure() -> None:
    pan = [(0.004, 0.0)] * 50  # constant velocity: a steady pan
    assert camera_shake(pan, 25.0) == pytest.approx(0.0, abs=1e-9)
    jitter = [(0.02 * math.sin(n * 2.1), 0.015 * math.sin(n * 2.9)) for n in range(50)]
    assert camera_shake(jitter, 25.0) > 0.1
    assert camera_shake(jitter[:8], 25.0) == 0.0  # too short to tell a path from its average
