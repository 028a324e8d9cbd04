"""Which subject the crop follows when a picture holds several faces, or none (unit, no decoding)."""

from __future__ import annotations

import numpy as np

from reframe.detect import Box
from reframe.track import Sample, choose_subject

SOURCE = (640, 360)
WINDOW = (202.5, 360.0)


def _face(cx: float, cy: float = 180, half: float = 30) -> Box:
    return Box(cx - half, cy - half, cx + half, cy + half, 0.9)


def _samples(left: float, right: float, mouths: tuple[float, float], n: int = 10) -> list[Sample]:
    return [Sample(i * 5, [_face(left), _face(right)], list(mouths)) for i in range(n)]


def test_faces_that_fit_together_are_framed_as_a_group() -> None:
    subject = choose_subject(_samples(250, 350, (0, 0)), 0, 46, SOURCE, WINDOW, 25.0)
    assert subject.kind == "group"
    assert np.allclose(subject.xs, 300)


def test_faces_too_far_apart_keep_the_one_who_speaks() -> None:
    # The right face's mouth moves while there is speech; the left one is larger but silent.
    samples = [Sample(i * 5, [_face(100, half=40), _face(540)], [0.5, 6.0]) for i in range(10)]
    subject = choose_subject(samples, 0, 46, SOURCE, WINDOW, 25.0, speech=[(0.0, 2.0)])
    assert subject.kind == "speaker"
    assert np.allclose(subject.xs, 540)
    # Without speech information: the most present (largest, longest seen) face.
    assert np.allclose(choose_subject(samples, 0, 46, SOURCE, WINDOW, 25.0).xs, 100)


def test_motion_where_there_is_no_face_and_the_centre_where_there_is_nothing() -> None:
    moving = [Sample(i * 5, motion=(100 + 10 * i, 200, 0.05)) for i in range(10)]
    subject = choose_subject(moving, 0, 46, SOURCE, WINDOW, 25.0)
    assert subject.kind == "motion" and subject.xs[0] == 100 and subject.xs[45] == 190
    still = choose_subject([Sample(0), Sample(45)], 0, 46, SOURCE, WINDOW, 25.0)
    assert still.kind == "centre" and np.allclose(still.xs, 320) and np.allclose(still.ys, 180)
