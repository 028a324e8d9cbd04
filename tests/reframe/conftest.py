"""Generated footage with a face-like target on a known path (no photographs: a drawn face that
MediaPipe's BlazeFace detects, the same drawing tests/analysis/test_faces.py uses)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from kernel.ffmpeg_tools import ffmpeg_path
from tests.analysis.test_faces import draw_face

FPS = 25
W, H = 640, 360
FACE = 50  # centre to chin, px


def face_path(frames: int) -> np.ndarray:
    """The target's centre x per frame: still, a move right, still (the operator must hold), a move
    back left with a wobble (detections jitter like this on real faces)."""
    xs = np.empty(frames)
    for i in range(frames):
        t = i / frames
        if t < 0.2:
            xs[i] = 170
        elif t < 0.45:
            xs[i] = 170 + (t - 0.2) / 0.25 * 270
        elif t < 0.75:
            xs[i] = 440 + 3 * np.sin(i)  # fidgeting in place
        else:
            xs[i] = 440 - (t - 0.75) / 0.25 * 200
    return xs


def write_video(path: Path, frames: int, draw: Callable[[np.ndarray, int], None], *, audio: bool = False) -> Path:
    cmd = [ffmpeg_path(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{W}x{H}"]
    cmd += ["-r", str(FPS), "-i", "-"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={frames / FPS}", "-shortest"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", "-g", "12", str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    rng = np.random.default_rng(7)
    for i in range(frames):
        img = np.full((H, W, 3), (90, 100, 80), np.uint8)
        img[::8, :] = (80, 90, 70)  # a little background texture
        draw(img, i)
        noise = rng.integers(-4, 5, img.shape, dtype=np.int16)
        proc.stdin.write(np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8).tobytes())
    proc.stdin.close()
    assert proc.wait() == 0
    return path


@pytest.fixture(scope="session")
def moving_face(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A 4 s 640x360 clip: one face moving along :func:`face_path` at y = 180."""
    frames = 4 * FPS
    xs = face_path(frames)
    path = tmp_path_factory.mktemp("reframe") / "walker.mp4"
    write_video(path, frames, lambda img, i: draw_face(img, int(round(xs[i])), H // 2, FACE))
    return path, xs
