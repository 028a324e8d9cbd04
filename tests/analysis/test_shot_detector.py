"""Our shot detector against scenedetect's own ``AdaptiveDetector`` on the same frames.

frame_pass re-states scenedetect's adaptive detector on frame indexes (issue #12: scenedetect's
NumPy scoring and a FrameTimecode per frame cost ~0.15 ms a frame). With the weak-cut test turned
off (``weak_cut_content=0``) every content value and every cut must be scenedetect's, exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.frame_pass import FramePassOptions, ShotDetector

H, W = 72, 128


def _frames(seed: int) -> list[np.ndarray]:
    """Shots of textured colour with camera drift, sensor noise, a fade and a one-frame flash."""
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    yy, xx = np.mgrid[0:H, 0:W]
    for shot in range(7):
        base = rng.integers(0, 256, size=3)
        texture = rng.integers(0, 60, size=(H, W + 40, 1))
        length = int(rng.integers(3, 30))  # some shots shorter than min_scene_len
        for k in range(length):
            drift = texture[:, k % 40 : k % 40 + W]
            picture = base + drift + rng.normal(0, 4, size=(H, W, 3))
            if shot == 3:  # a fade to black
                picture = picture * (1.0 - k / length)
            if shot == 5 and k == length // 2:  # a flash
                picture = picture + 120
            if shot == 6:  # a gradient that moves, hue wrapping around
                picture = np.stack([(xx + 7 * k) % 256, yy * 3 % 256, (xx + yy + k) % 256], axis=2)
            frames.append(np.clip(picture, 0, 255).astype(np.uint8))
    return frames


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("threshold", "min_scene_len", "window_width"), [(3.0, 8, 2), (1.5, 1, 1), (3.0, 15, 3)])
def test_same_scores_and_cuts_as_scenedetect(
    seed: int, threshold: float, min_scene_len: int, window_width: int
) -> None:
    from scenedetect import AdaptiveDetector
    from scenedetect.common import FrameTimecode

    options = FramePassOptions(
        adaptive_threshold=threshold, min_scene_len=min_scene_len, window_width=window_width, weak_cut_content=0.0
    )
    ours = ShotDetector(options)
    theirs = AdaptiveDetector(adaptive_threshold=threshold, min_scene_len=min_scene_len, window_width=window_width)
    our_cuts: list[int] = []
    their_cuts: list[int] = []
    for index, frame in enumerate(_frames(seed)):
        cut = ours.process(index, frame)
        if cut is not None:
            our_cuts.append(cut)
        their_cuts += [int(tc.frame_num) for tc in theirs.process_frame(FrameTimecode(index, fps=25.0), frame)]
        assert ours._buffer[-1][1] == theirs._frame_score, f"content value of frame {index}"
    assert their_cuts, "the frames must contain cuts for the comparison to mean anything"
    assert our_cuts == their_cuts


def test_weak_cut_needs_a_large_change() -> None:
    """A step at a ratio just over the threshold and a small content value (~23, like a keyframe
    pulse in noisy footage) is refused; a big change is a cut."""
    rng = np.random.default_rng(7)
    base = np.array([40.0, 90.0, 180.0])
    frames = [
        np.clip(base + (35 if i >= 10 else 0) + rng.normal(0, 6, size=(H, W, 3)), 0, 255).astype(np.uint8)
        for i in range(20)
    ]
    frames += [np.full((H, W, 3), (20, 200, 60), np.uint8)] * 12  # a real cut at 20

    def cuts(weak: float) -> list[int]:
        detector = ShotDetector(FramePassOptions(weak_cut_content=weak, min_scene_len=1))
        return [c for i, f in enumerate(frames) if (c := detector.process(i, f)) is not None]

    assert cuts(40.0) == [20]
    assert cuts(0.0) == [10, 20]  # the plain adaptive detector calls the step a cut
