"""Quality gate for generated clips: catch the ways a video model fails silently.

A diffusion pipeline that "succeeds" can still hand back garbage: NaN latents decoded to black
(a bf16 VAE overflow), a frozen clip (the same frame N times), frames that flash (flicker), or a
clip that has nothing to do with the image it was conditioned on. Each check is cheap and runs on
the frames the pipeline returned (F×H×W×3, floats 0..1 or uint8) before they are encoded, so NaN
is still visible.

Thresholds are deliberately loose: they flag broken output, not taste. ``assess`` returns a
report stored in the job result (``result["quality"]``); the op fails the job on it unless asked
only to report. Processed clips (stabilize, upscale) get :func:`assess_processed`: sampled frames
of the output against the same times of the input. Every report lists its ``checks`` (name,
passed, figure, limit); a failing report is stored with the failed job too.
"""

from __future__ import annotations

from pathlib import Path
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
    checks: list[dict[str, Any]] = []
    metrics: dict[str, Any] = {"frames": int(array.shape[0])}
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] == 0:
        problem = f"not a clip of RGB frames (shape {array.shape})"
        checks.append(_check("shape", False, list(array.shape), "F×H×W×3"))
        return {"ok": False, "problems": [problem], "metrics": metrics, "checks": checks}
    count = int(array.shape[0])
    finite = np.isfinite(array)
    bad = int((~finite.all(axis=(1, 2, 3))).sum())
    metrics["nan_frames"] = bad
    checks.append(_check("finite", not bad, bad, 0))
    if bad:
        problems.append(f"{bad} of {count} frames hold NaN/inf values (a numeric overflow in the model)")
        array = np.where(finite, array, 0.0)
    array = np.clip(array, 0.0, 1.0)
    luma = _luma(array)
    means = luma.mean(axis=(1, 2))
    stds = luma.std(axis=(1, 2))
    black = int(((means < BLACK_MEAN) & (stds < BLACK_STD)).sum())
    metrics["black_frames"] = black
    metrics["mean_luma"] = round(float(means.mean()), 4)
    checks.append(_check("black", black <= count // 2, black, count // 2))
    if black == count:
        problems.append("every frame is black")
    elif black > count // 2:
        problems.append(f"{black} of {count} frames are black")
    if count > 1:
        motion = np.abs(np.diff(luma, axis=0)).mean(axis=(1, 2))
        metrics["motion"] = round(float(motion.mean()), 5)
        frozen = float(motion.max()) < FROZEN_DIFF and black < count
        checks.append(_check("frozen", not frozen, round(float(motion.max()), 5), FROZEN_DIFF))
        if frozen:
            problems.append("the clip is frozen: every frame is the same picture")
        jumps = np.abs(np.diff(means))
        metrics["max_luma_jump"] = round(float(jumps.max()), 4)
        checks.append(_check("flicker", float(jumps.max()) <= FLICKER_JUMP, metrics["max_luma_jump"], FLICKER_JUMP))
        if float(jumps.max()) > FLICKER_JUMP:
            problems.append(f"the brightness flashes between frames (a jump of {jumps.max():.2f} of full scale)")
    for name, image, frame in (("first", first_image, array[0]), ("last", last_image, array[-1])):
        if image is None:
            continue
        score = similarity(frame, as_unit_floats(image))
        metrics[f"{name}_frame_similarity"] = round(score, 3)
        checks.append(_check(f"{name}_frame_similarity", score >= MIN_SIMILARITY, round(score, 3), MIN_SIMILARITY))
        if score < MIN_SIMILARITY:
            problems.append(
                f"the {name} frame does not resemble the {name} image it was conditioned on "
                f"(similarity {score:.2f} < {MIN_SIMILARITY})"
            )
    return {"ok": not problems, "problems": problems, "metrics": metrics, "checks": checks}


def _check(name: str, ok: bool, value: Any, limit: Any) -> dict[str, Any]:
    """One line of the report: which check, whether it passed, the figure and the limit it met."""
    return {"name": name, "ok": bool(ok), "value": value, "limit": limit}


SAMPLES = 12  # frames sampled from a processed clip and its input, evenly over the duration
SAMPLE_SIZE = 96  # sampled frames are compared as SAMPLE_SIZE×SAMPLE_SIZE RGB thumbnails


def sample_frames(path: Path, count: int = SAMPLES) -> np.ndarray:
    """``count`` frames (RGB floats 0..1, SAMPLE_SIZE² each) at evenly spaced times of ``path``'s
    video: a seek and a short decode each, so a long clip is not decoded whole."""
    import av

    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = stream.time_base
        start = float(stream.start_time * base) if stream.start_time is not None and base else 0.0
        if stream.duration and base:
            duration = float(stream.duration * base)
        else:
            duration = (container.duration or 0) / 1_000_000
        for i in range(count):
            target = start + duration * (i + 0.5) / count
            if base:
                container.seek(int(target / base), stream=stream, backward=True, any_frame=False)
            picked = None
            for frame in container.decode(stream):
                picked = frame
                if frame.time is None or frame.time >= target - 1e-6:
                    break
            if picked is not None:
                rgb = picked.reformat(width=SAMPLE_SIZE, height=SAMPLE_SIZE, format="rgb24").to_ndarray()
                frames.append(rgb.astype(np.float32) / 255.0)
    if not frames:
        return np.zeros((0, SAMPLE_SIZE, SAMPLE_SIZE, 3), np.float32)
    return np.stack(frames)


CROPS = (1.0, 0.85, 0.7, 0.5)  # centred crops of the input an output frame may show (stabilize zooms up to 2x)


def _framing_similarity(frame: np.ndarray, source: np.ndarray) -> float:
    """:func:`similarity` of an output frame to its source frame, the best over centred crops of
    the source: stabilization zooms in (up to 100 % more), which is a new framing, not a new picture."""
    h, w = source.shape[:2]
    best = -1.0
    for crop in CROPS:
        ch, cw = max(1, round(h * crop)), max(1, round(w * crop))
        top, left = (h - ch) // 2, (w - cw) // 2
        best = max(best, similarity(frame, source[top : top + ch, left : left + cw]))
    return best


def assess_processed(output: Path, source: Path, *, samples: int = SAMPLES) -> dict[str, Any]:
    """Check a processed clip (stabilized, upscaled) against the clip it was made from.

    The same frames of both (``samples`` evenly spaced times) are compared: the output must not be
    black, frozen or flashing where its input is not, and each output frame must still resemble
    the input frame at its time (thumbnail correlation, as for generated clips). Same report as
    :func:`assess`, with ``checks`` naming each test, its figure and its limit.
    """
    out_frames, in_frames = sample_frames(output, samples), sample_frames(source, samples)
    problems: list[str] = []
    checks: list[dict[str, Any]] = []
    count = min(len(out_frames), len(in_frames))
    metrics: dict[str, Any] = {"sampled_frames": count}
    if count == 0:
        problem = "no picture could be decoded from the output" if len(in_frames) else "the input has no picture"
        checks.append(_check("decodable", False, 0, samples))
        return {"ok": False, "problems": [problem], "metrics": metrics, "checks": checks}
    out_frames, in_frames = out_frames[:count], in_frames[:count]
    out_luma, in_luma = _luma(out_frames), _luma(in_frames)

    def black_count(luma: np.ndarray) -> int:
        return int(((luma.mean(axis=(1, 2)) < BLACK_MEAN) & (luma.std(axis=(1, 2)) < BLACK_STD)).sum())

    out_black, in_black = black_count(out_luma), black_count(in_luma)
    metrics.update(black_frames=out_black, input_black_frames=in_black)
    extra_black = out_black - in_black
    allowed_black = max(1, count // 4)
    checks.append(_check("black", extra_black <= allowed_black, out_black, in_black + allowed_black))
    if extra_black > allowed_black:
        problems.append(f"{out_black} of {count} sampled frames are black (the input has {in_black})")
    if count > 1:
        out_motion = float(np.abs(np.diff(out_luma, axis=0)).mean(axis=(1, 2)).max())
        in_motion = float(np.abs(np.diff(in_luma, axis=0)).mean(axis=(1, 2)).max())
        metrics.update(motion=round(out_motion, 5), input_motion=round(in_motion, 5))
        frozen = out_motion < FROZEN_DIFF <= in_motion and out_black < count
        checks.append(_check("frozen", not frozen, round(out_motion, 5), FROZEN_DIFF))
        if frozen:
            problems.append("the output is frozen (the same picture throughout) while the input moves")
        out_jump = float(np.abs(np.diff(out_luma.mean(axis=(1, 2)))).max())
        in_jump = float(np.abs(np.diff(in_luma.mean(axis=(1, 2)))).max())
        limit = round(max(FLICKER_JUMP, in_jump + 0.1), 4)
        metrics.update(max_luma_jump=round(out_jump, 4), input_max_luma_jump=round(in_jump, 4))
        checks.append(_check("flicker", out_jump <= limit, round(out_jump, 4), limit))
        if out_jump > limit:
            problems.append(
                f"the output's brightness flashes (a jump of {out_jump:.2f}, the input's at most {in_jump:.2f})"
            )
    scores = [_framing_similarity(o, i) for o, i in zip(out_frames, in_frames, strict=True)]
    worst = min(range(count), key=lambda k: scores[k])
    metrics.update(min_similarity=round(scores[worst], 3), mean_similarity=round(float(np.mean(scores)), 3))
    checks.append(_check("similarity", scores[worst] >= MIN_SIMILARITY, round(scores[worst], 3), MIN_SIMILARITY))
    if scores[worst] < MIN_SIMILARITY:
        problems.append(
            f"sampled frame {worst + 1} of {count} does not resemble the input at that time "
            f"(similarity {scores[worst]:.2f} < {MIN_SIMILARITY})"
        )
    return {"ok": not problems, "problems": problems, "metrics": metrics, "checks": checks}
