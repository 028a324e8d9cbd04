"""`auto --aspect 9:16` end to end: every clip of the cut is reframed in the OTIO and FCPXML the run
writes, and the render shows the face in the centre third of the vertical frame (decoded frames)."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from kernel.ffmpeg_tools import ffmpeg_path
from montage_bridge.pipeline import run_auto
from nle_adapters.fcpxml.dtd import validate
from nle_adapters.reframe_meta import KEY
from planner.brief import Brief
from reframe.detect import face_detector, face_model_path
from tests.reframe.conftest import H, write_video

DTD_DIR = Path(__file__).resolve().parents[1] / "data" / "fcpxml" / "dtd"

pytestmark = pytest.mark.skipif(
    face_model_path() is None and not os.environ.get("CI"), reason="no BlazeFace model installed"
)


def _music(path: Path, seconds: float) -> Path:
    clicks = "0.8*sin(2*PI*880*t)*lt(mod(t,0.5),0.03)+0.3*sin(2*PI*110*t)*lt(mod(t,2),0.1)"
    cmd = [
        ffmpeg_path(),
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"aevalsrc='{clicks}':s=44100:d={seconds}",
        str(path),
    ]
    subprocess.run(cmd, check=True)
    return path


def test_auto_vertical_reframes_every_clip_and_renders_the_face_centred(tmp_path: Path) -> None:
    from render.render import RenderOptions, render_timeline
    from tests.analysis.test_faces import draw_face

    footage = tmp_path / "footage"
    footage.mkdir()
    # Two 4 s clips: a face gliding right, and a face standing at the left edge (the crop must go there).
    write_video(footage / "glide.mp4", 100, lambda img, i: draw_face(img, 200 + 2 * i, H // 2, 50))
    write_video(footage / "left.mp4", 100, lambda img, i: draw_face(img, 120, H // 2 + 20, 45))
    music = _music(tmp_path / "clicks.wav", 8)
    out = tmp_path / "out"
    result = run_auto(footage, music, out, duration_seconds=6, formats=("otio", "fcpxml"), brief=Brief(aspect="9:16"))
    assert result.plan.aspect == "9:16" and result.plan.height > result.plan.width
    clips = [c for t in result.timeline.video_tracks() for c in t.find_clips()]
    assert clips and all(KEY in c.metadata["montage_bridge"] for c in clips)
    assert {c.metadata["montage_bridge"][KEY]["subject"] for c in clips} == {"face"}
    # The written OTIO keeps the keyframes; the FCPXML has a transform per picture clip and is valid.
    written = otio.adapters.read_from_file(str(next(out.glob("*.otio"))))
    assert all(KEY in c.metadata["montage_bridge"] for t in written.video_tracks() for c in t.find_clips())
    fcpxml = next(out.glob("*.fcpxml")).read_text()
    assert validate(fcpxml, DTD_DIR) == []
    root = ET.fromstring(fcpxml)
    pictures = {a.get("id") for a in root.iter("asset") if a.get("hasVideo") == "1"}
    video_clips = [e for e in root.iter("asset-clip") if e.get("ref") in pictures and e.get("srcEnable") != "audio"]
    assert len(video_clips) == len(clips)
    assert all(e.find("adjust-transform") is not None for e in video_clips)

    movie = tmp_path / "vertical.mp4"
    render_timeline(result.timeline, movie, RenderOptions(size=(270, 480), check=False))
    width, height = 270, 480
    cmd = [ffmpeg_path(), "-v", "error", "-i", str(movie), "-vf", "select=not(mod(n\\,10))", "-fps_mode", "passthrough"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)
    assert len(frames) >= 10
    centred = 0
    for frame in frames:
        faces = face_detector().detect(np.ascontiguousarray(frame))
        centred += bool(faces) and width / 3 <= faces[0].cx <= 2 * width / 3
    assert centred / len(frames) >= 0.9
