"""Originals whose every frame carries its own index (an 8-bit code of black/white blocks), with an
embedded start timecode and sound, so a test can decode any frame and say which one it is."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from kernel.ffmpeg_tools import ffmpeg_path

W, H, BITS = 640, 360, 8


def draw_index(index: int) -> np.ndarray:
    img = np.full((H, W, 3), 128, np.uint8)
    block = W // BITS
    for bit in range(BITS):
        img[: H // 3, bit * block : (bit + 1) * block] = 255 if index >> bit & 1 else 0
    return img


def read_index(bgr: np.ndarray) -> int:
    h, w = bgr.shape[:2]
    block = w / BITS
    value = 0
    for bit in range(BITS):
        x0, x1 = int(bit * block + block / 4), int((bit + 1) * block - block / 4)
        if bgr[h // 12 : h // 4, x0:x1].mean() > 128:
            value |= 1 << bit
    return value


def make_original(path: Path, frames: int, rate: str, timecode: str, channels: int) -> Path:
    cmd = [ffmpeg_path(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{W}x{H}", "-r", rate]
    cmd += ["-i", "-", "-f", "lavfi", "-i", f"sine=frequency=300:sample_rate=48000,aformat=channel_layouts={channels}c"]
    cmd += ["-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", "-g", "10", "-pix_fmt", "yuv420p"]
    cmd += ["-c:a", "pcm_s16le", "-timecode", timecode, str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for i in range(frames):
        proc.stdin.write(draw_index(i).tobytes())
    proc.stdin.close()
    assert proc.wait() == 0
    return path


def decode_frame(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` (0-based, file order) of ``path``, decoded by ffmpeg."""
    cmd = [ffmpeg_path(), "-v", "error", "-i", str(path), "-vf", f"select=eq(n\\,{index})", "-fps_mode", "passthrough"]
    cmd += ["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    from kernel.probe import probe_media

    w, h = probe_media(path).display_size
    return np.frombuffer(out, np.uint8).reshape(h, w, 3)


@pytest.fixture
def footage(tmp_path: Path) -> Path:
    """Two originals: 25 fps from 01:00:00:00 with stereo, 29.97 DF from 10:00:00;00 with mono."""
    folder = tmp_path / "footage"
    folder.mkdir()
    make_original(folder / "a_cam.mov", 40, "25", "01:00:00:00", 2)
    make_original(folder / "b_cam.mov", 45, "30000/1001", "10:00:00;00", 1)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three tiny clips (scripts/make_tiny_media.py) in a footage folder of their own, and the music."""
    import shutil
    import sys

    from tests.conftest import REPO

    sys.path.insert(0, str(REPO / "scripts"))
    from make_tiny_media import make_tiny_media

    root = tmp_path_factory.mktemp("tiny")
    media = make_tiny_media(root / "made", clips=3)
    footage = root / "footage"
    footage.mkdir()
    for clip in media["clips"]:
        shutil.copy(clip, footage / clip.name)
    return footage, Path(media["music"])
