"""Quality gate for generated clips: catch the ways a video model fails silently.

A diffusion pipeline that "succeeds" can still hand back garbage: NaN latents decoded to black
(a bf16 VAE overflow), a frozen clip (the same frame N times), frames that flash (flicker), or a
clip that has nothing to do with the image it was conditioned on. Each check is cheap and runs on
the frames the pipeline returned (F×H×W×3, floats 0..1 or uint8) before they are encoded, so NaN
is still visible.

Thresholds are deliberately loose: they flag broken output, not taste. ``assess`` returns a
report stored in the job result (``result["quality"]``); the op fails the job on it unless asked
only to report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BLACK_MEAN = 0.03  # mean luma (0..1) below which a frame is black
BLACK_STD = 0.02  # ... provided it is also flat
FROZEN_DIFF = 0.002  # mean |frame - previous| (0..1) below which a clip does not move at all
FLICKER_JUMP = 0.25  # a jump of mean luma between neighbouring frames this big is a flash
MIN_SIMILARITY = 0.5  # correlation of 32×32 grey thumbnails: conditioning image vs its frame
THUMB = 32


def _luma(frames: np.ndarray) -> np.ndarray:
    return frames[..., 0] * 0.2126 + frames[..., 1] * 0.7152 + frames[..., 2] * 0.0722


def _thumb(grey: np.ndarray) -> np.ndarray:
    """A THUMB×THUMB block-mean thumbnail of a 2-D array (any size ≥ 1)."""
    h, w = grey.shape
    ys = np.linspace(0, h, THUMB + 1).astype(int)
    xs = np.linspace(0, w, THUMB + 1).astype(int)
    out = np.empty((THUMB, THUMB))
    for i in range(THUMB):
        for j in range(THUMB):
            block = grey[ys[i] : max(ys[i + 1], ys[i] + 1), xs[j] : max(xs[j + 1], xs[j] + 1)]
            out[i, j] = block.mean()
    return out


def similarity(frame: np.ndarray, image: np.ndarray) -> float:
    """Pearson correlation of grey thumbnails of two RGB pictures (floats 0..1), -1..1.

    Coarse on purpose: a generated first frame that follows its conditioning image keeps its
    layout of light and dark even when details change; an unrelated or noise frame does not.
    Two flat pictures correlate only if they are equally flat and the same grey.
    """
    a, b = _thumb(_luma(frame)).ravel(), _thumb(_luma(image)).ravel()
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if denom < 1e-9:
        return 1.0 if abs(_luma(frame).mean() - _luma(image).mean()) < 0.05 else 0.0
    return float((a * b).sum() / denom)


def as_unit_floats(frames: Any) -> np.ndarray:
    array = np.asarray(frames)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return array.astype(np.float32)


def assess(frames: Any, *, first_image: Any | None = None, last_image: Any | None = None) -> dict[str, Any]:
    """Check generated ``frames`` (F×H×W×3); images are H×W×3 arrays (floats 0..1 or uint8).

    Returns ``{"ok": bool, "problems": [str], "metrics": {...}}``.
    """
    array = as_unit_floats(frames)
    problems: list[str] = []
    metrics: dict[str, Any] = {"frames": int(array.shape[0])}
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] == 0:
        return {"ok": False, "problems": [f"not a clip of RGB frames (shape {array.shape})"], "metrics": metrics}
    finite = np.isfinite(array)
    bad = int((~finite.all(axis=(1, 2, 3))).sum())
    metrics["nan_frames"] = bad
    if bad:
        problems.append(f"{bad} of {array.shape[0]} frames hold NaN/inf values (a numeric overflow in the model)")
        array = np.where(finite, array, 0.0)
    array = np.clip(array, 0.0, 1.0)
    luma = _luma(array)
    means = luma.mean(axis=(1, 2))
    stds = luma.std(axis=(1, 2))
    black = int(((means < BLACK_MEAN) & (stds < BLACK_STD)).sum())
    metrics["black_frames"] = black
    metrics["mean_luma"] = round(float(means.mean()), 4)
    if black == array.shape[0]:
        problems.append("every frame is black")
    elif black > array.shape[0] // 2:
        problems.append(f"{black} of {array.shape[0]} frames are black")
    if array.shape[0] > 1:
        motion = np.abs(np.diff(luma, axis=0)).mean(axis=(1, 2))
        metrics["motion"] = round(float(motion.mean()), 5)
        if float(motion.max()) < FROZEN_DIFF and black < array.shape[0]:
            problems.append("the clip is frozen: every frame is the same picture")
        jumps = np.abs(np.diff(means))
        metrics["max_luma_jump"] = round(float(jumps.max()), 4)
        if float(jumps.max()) > FLICKER_JUMP:
            problems.append(f"the brightness flashes between frames (a jump of {jumps.max():.2f} of full scale)")
    for name, image, frame in (("first", first_image, array[0]), ("last", last_image, array[-1])):
        if image is None:
            continue
        score = similarity(frame, as_unit_floats(image))
        metrics[f"{name}_frame_similarity"] = round(score, 3)
        if score < MIN_SIMILARITY:
            problems.append(
                f"the {name} frame does not resemble the {name} image it was conditioned on "
                f"(similarity {score:.2f} < {MIN_SIMILARITY})"
            )
    return {"ok": not problems, "problems": problems, "metrics": metrics}
