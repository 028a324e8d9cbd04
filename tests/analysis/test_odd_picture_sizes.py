"""Pictures no camera makes (1x1, 4097x3) get a sentence, not an OpenCV assertion (#19 item 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel.ffmpeg_tools import run_ffmpeg
from tests.conftest import run_cli


def clip(path: Path, size: str, codec: list[str]) -> Path:
    # testsrc2 draws nothing below 2x2: draw bigger, then scale to the exact size.
    w, h = (int(v) for v in size.split("x"))
    source = f"testsrc2=size={max(w, 2) + w % 2}x{max(h, 2) + h % 2}:rate=25:duration=1"
    run_ffmpeg(["-f", "lavfi", "-i", source, "-vf", f"scale={w}:{h}", *codec, str(path)])
    return path


@pytest.mark.parametrize(
    ("size", "codec"),
    [
        ("1x1", ["-c:v", "libx264", "-pix_fmt", "yuv444p"]),
        ("4097x3", ["-c:v", "mpeg4"]),
    ],
)
def test_degenerate_pictures_are_refused_in_one_line(tmp_path: Path, size: str, codec: list[str]) -> None:
    media = clip(tmp_path / f"odd_{size}.mp4", size, codec)
    proc = run_cli("analyze", str(media), "--json", timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"picture is {size} px, too small to analyze" in proc.stderr
    assert "OpenCV" not in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_very_wide_but_real_picture_is_analyzed(tmp_path: Path) -> None:
    media = clip(tmp_path / "wide.mp4", "4096x16", ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    proc = run_cli("analyze", str(media), "--json", timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["result"]["analysis"]
    assert result["clips"][0]["shots"], result
