"""Faces: OpenCV's bundled frontal-face cascade finds a face-like picture in a clip, and only in the
shot that has it. The face is drawn here (skin-tone oval, brows, eyes, nose shadow, mouth), so the
test needs no photograph; a drawing is what the Haar features respond to as well."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.frame_pass import FramePassOptions, run_frame_pass
from kernel.ffmpeg_tools import run_ffmpeg
from kernel.probe import probe_media


def draw_face(img: np.ndarray, cx: int, cy: int, size: int) -> None:
    """A frontal face, ``size`` pixels from centre to chin, drawn into the BGR ``img``."""
    import cv2

    s = size
    cv2.ellipse(img, (cx, cy), (int(s * 0.75), s), 0, 0, 360, (170, 190, 215), -1)
    for side in (-1, 1):
        x = cx + side * int(s * 0.33)
        cv2.line(img, (x - int(s * 0.2), cy - int(s * 0.42)), (x + int(s * 0.2), cy - int(s * 0.42)), (40, 40, 40), 4)
        cv2.ellipse(img, (x, cy - int(s * 0.22)), (int(s * 0.17), int(s * 0.09)), 0, 0, 360, (30, 30, 30), -1)
    cv2.line(img, (cx, cy - int(s * 0.1)), (cx, cy + int(s * 0.25)), (110, 120, 140), 4)
    cv2.ellipse(img, (cx, cy + int(s * 0.5)), (int(s * 0.3), int(s * 0.08)), 0, 0, 360, (60, 60, 90), -1)


def test_faces_are_counted_in_the_shot_that_has_one(tmp_path: Path) -> None:
    import cv2

    portrait = np.full((360, 640, 3), (90, 100, 80), np.uint8)
    draw_face(portrait, 320, 180, 70)
    cv2.imwrite(str(tmp_path / "portrait.png"), cv2.GaussianBlur(portrait, (5, 5), 0))
    clip = tmp_path / "interview.mp4"
    # 3 s on the face, then a hard cut to 3 s of bars: the two shots must differ in faces.
    graph = (
        "[0:v]loop=loop=-1:size=1,fps=25,trim=end_frame=75,setpts=PTS-STARTPTS,noise=alls=6:allf=t:all_seed=3,format=yuv420p[a];"
        "smptehdbars=s=640x360:r=25,trim=end_frame=75,setpts=PTS-STARTPTS,format=yuv420p[b];[a][b]concat=n=2:v=1[v]"
    )
    run_ffmpeg(
        ["-i", str(tmp_path / "portrait.png"), "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264"]
        + ["-preset", "ultrafast", str(clip)],
        timeout=120,
    )
    shots = run_frame_pass(probe_media(clip), FramePassOptions(), thumbnails_dir=tmp_path / "thumbs")
    assert [(s.start, s.end) for s in shots] == [(0, 75), (75, 150)]
    assert shots[0].quality is not None and shots[1].quality is not None
    assert shots[0].quality.faces == 1
    assert shots[1].quality.faces == 0
