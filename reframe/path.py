"""The crop path: a window of the target aspect that follows the subject like a camera operator.

:func:`operate` turns the subject's per-frame centre into the window's per-frame centre:

* a **dead zone**: while the subject stays within ``dead_zone`` (fraction of the window's size) of
  the window's centre the camera does not move, so a still or fidgeting subject gives a locked-off
  shot, not a drifting one;
* outside it the camera heads for the subject at a speed proportional to the distance
  (``gain`` per second) until it is well inside the zone again, then rests; never faster than
  ``max_speed`` (window sizes per second) and
  never changing speed faster than ``max_accel`` (window sizes per second²): no jitter, no whip;
* the camera looks ``lead`` seconds ahead (an operator sees the subject start to move): it steers
  for where the subject will be, which cancels most of the lag a speed-limited camera has, while
  every rule above still holds exactly (one causal pass over the shifted target);
* the window never leaves the picture.

Cuts in the path come only at cuts in the edit: each timeline clip gets its own path, which
starts on its subject.

:func:`keyframes` reduces a path to the fewest linear keyframes that reproduce it within
``tolerance`` px (Ramer–Douglas–Peucker); those keyframes are what every timeline format carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Operator:
    """How the virtual camera operator moves (sizes are fractions of the window, times seconds)."""

    dead_zone: float = 0.07
    gain: float = 4.0
    max_speed: float = 1.5
    max_accel: float = 3.0
    lead: float = 0.25


def window_size(source: tuple[int, int], aspect: Fraction) -> tuple[float, float]:
    """The largest window of ``aspect`` (width / height) inside the source picture."""
    width, height = source
    if Fraction(width, height) > aspect:
        return float(height * aspect), float(height)
    return float(width), float(width / aspect)


def _one_pass(target: np.ndarray, size: float, fps: float, op: Operator, lo: float, hi: float) -> np.ndarray:
    dt = 1.0 / fps
    dead = op.dead_zone * size
    vmax = op.max_speed * size
    amax = op.max_accel * size * dt
    out = np.empty_like(target)
    p = float(np.clip(target[0], lo, hi))
    v = 0.0
    moving = False
    for i, goal in enumerate(target):
        error = float(goal) - p
        # Hysteresis: start when the subject leaves the dead zone, settle once near it again, so a
        # subject resting near the zone's edge gives a locked-off shot instead of a slow creep.
        if not moving and abs(error) > dead:
            moving = True
        if moving and abs(error) < dead * 0.3 and abs(v) <= amax * fps:
            moving = False
        want = float(np.sign(error)) * min(vmax, abs(error) * op.gain) if moving else 0.0
        v += float(np.clip(want - v, -amax, amax))
        p += v * dt
        if p < lo or p > hi:
            p, v = float(np.clip(p, lo, hi)), 0.0
        out[i] = p
    return out


def operate(target: np.ndarray, size: float, fps: float, lo: float, hi: float, op: Operator = Operator()) -> np.ndarray:
    """Window centres along one axis for subject centres ``target`` (one per frame); ``size`` is the
    window's extent on this axis, ``[lo, hi]`` the centres that keep it inside the picture."""
    if hi <= lo:
        return np.full(len(target), (lo + hi) / 2)
    shift = int(round(op.lead * fps))
    ahead = np.r_[target[shift:], np.full(min(shift, len(target)), target[-1])] if shift else target
    return _one_pass(ahead, size, fps, op, lo, hi)


def _rdp(points: np.ndarray, tolerance: float) -> list[int]:
    """Indexes of the points Ramer–Douglas–Peucker keeps (first and last always), measuring the
    error as the largest per-axis distance at the same frame (what a viewer sees)."""
    keep = [0, len(points) - 1]
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        t = (points[a + 1 : b, 0] - points[a, 0]) / (points[b, 0] - points[a, 0])
        line = points[a, 1:] + t[:, None] * (points[b, 1:] - points[a, 1:])
        err = np.abs(points[a + 1 : b, 1:] - line).max(axis=1)
        worst = int(np.argmax(err))
        if err[worst] > tolerance:
            mid = a + 1 + worst
            keep.append(mid)
            stack += [(a, mid), (mid, b)]
    return sorted(set(keep))


def keyframes(first: int, xs: np.ndarray, ys: np.ndarray, tolerance: float = 0.5) -> list[dict]:
    """``[{"frame", "x", "y"}]`` (source frames, window centres in source pixels, 0.01 px) whose
    linear interpolation stays within ``tolerance`` px of the path at every frame."""
    frames = np.arange(first, first + len(xs), dtype=float)
    points = np.stack([frames, xs, ys], axis=1)
    return [
        {"frame": int(points[i, 0]), "x": round(float(points[i, 1]), 2), "y": round(float(points[i, 2]), 2)}
        for i in _rdp(points, tolerance)
    ]


def jerk(xs: np.ndarray, fps: float) -> float:
    """The largest |third derivative| of a path (px / s³), from frame-to-frame differences."""
    if len(xs) < 4:
        return 0.0
    return float(np.abs(np.diff(xs, n=3)).max() * fps**3)
