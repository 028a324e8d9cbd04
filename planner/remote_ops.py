"""Which clips the heuristic planners ask the GPU worker to fix before they are cut in, and how far.

* upscale: the clip, fitted inside the timeline frame (fit, not fill: the whole picture shows,
  letter- or pillar-boxed), would have to be enlarged — :func:`fit_size` is the size it should
  end up at, never above the frame in either dimension;
* stabilize: a shot the edit uses is shaky (the analysis' ``shake`` at or above the style's
  ``stabilize_shake``). The worker stabilizes whole clips, so one shaky used shot is enough.

The worker's upscale op takes an integer scale of 2, 3 or 4 per job (Real-ESRGAN's models).
:func:`upscale_steps` chains the fewest jobs whose product is the smallest that reaches the fit
size; the result is then scaled down to exactly :func:`fit_size` (``montage_bridge.remote_media``).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

from analysis.models import ClipAnalysis
from planner.models import Cut, RemoteOp

# The scales one worker upscale job accepts (gpu_remote/ops/upscale.py UpscaleParams.scale).
WORKER_SCALES = (2, 3, 4)
# More chained jobs than this is not worth it (a 30x enlargement has nothing left to show).
MAX_UPSCALE_JOBS = 4


def fit_scale(width: int, height: int, frame_width: int, frame_height: int) -> Fraction:
    """The scale that fits a ``width`` x ``height`` picture inside the frame, both in pixels (exact)."""
    return min(Fraction(frame_width, width), Fraction(frame_height, height))


def fit_size(width: int, height: int, frame_width: int, frame_height: int) -> tuple[int, int]:
    """The picture's size fitted inside the frame (aspect kept), in even pixels (what 4:2:0 video
    needs), never above the frame: 640x272 in 1280x720 → 1280x544; 176x144 in 1280x720 → 880x720."""
    scale = fit_scale(width, height, frame_width, frame_height)
    fitted_w = max(2, math.floor(width * scale) // 2 * 2)
    fitted_h = max(2, math.floor(height * scale) // 2 * 2)
    return fitted_w, fitted_h


def upscale_steps(width: int, height: int, frame_width: int, frame_height: int) -> tuple[int, ...]:
    """Worker upscale scales, one job each, to chain for this picture in this frame (``()``: none).

    Their product is the smallest integer factor that brings the picture to at least its fit size
    in both dimensions, using the fewest jobs for that product; the last job's output is then
    scaled *down* to the fit size. 640x272 in 1280x720 → (2,) exactly; 176x144 in 1280x720 needs
    5x, which no chain makes, so (2, 3) = 6x and down to 880x720.
    """
    fitted_w, fitted_h = fit_size(width, height, frame_width, frame_height)
    if fitted_w <= width and fitted_h <= height:
        return ()
    needed = max(math.ceil(Fraction(fitted_w, width)), math.ceil(Fraction(fitted_h, height)), 2)
    best: tuple[int, ...] | None = None
    for jobs in range(1, MAX_UPSCALE_JOBS + 1):
        for combo in itertools.combinations_with_replacement(WORKER_SCALES, jobs):
            product = math.prod(combo)
            if product >= needed and (best is None or product < math.prod(best)):
                best = combo
    if best is None:  # beyond what the chain reaches: the largest it can do
        best = (WORKER_SCALES[-1],) * MAX_UPSCALE_JOBS
    return tuple(sorted(best, reverse=True))


def shakiest_used_shot(clip: ClipAnalysis, cuts: list[Cut]) -> float:
    """Highest shake (0..1) among ``clip``'s shots that any of ``cuts`` overlaps (0 when unmeasured)."""
    ranges = [(c.source_in, c.source_out) for c in cuts if c.clip_id == clip.id]
    return max(
        (
            s.quality.shake
            for s in clip.shots
            if s.quality is not None and any(lo < s.end and s.start < hi for lo, hi in ranges)
        ),
        default=0.0,
    )


def remote_ops_for(
    clips: list[ClipAnalysis], cuts: list[Cut], width: int, height: int, stabilize_shake: float | None = 0.5
) -> list[RemoteOp]:
    """Stabilize and upscale requests for the clips ``cuts`` use, in clip order (stabilize first,
    the order the worker chain runs them). ``stabilize_shake`` None turns stabilizing off."""
    used = {c.clip_id for c in cuts}
    ops: list[RemoteOp] = []
    for clip in clips:
        if clip.id not in used:
            continue
        media = clip.media
        shake = shakiest_used_shot(clip, cuts)
        if stabilize_shake is not None and shake >= stabilize_shake:
            ops.append(RemoteOp(clip_id=clip.id, op="stabilize", reason=f"camera shake {shake:.2f} in a used shot"))
        if media.width and media.height:
            src_w, src_h = media.display_size
            steps = upscale_steps(src_w, src_h, width, height)
            if steps:
                fitted_w, fitted_h = fit_size(src_w, src_h, width, height)
                ops.append(
                    RemoteOp(
                        clip_id=clip.id,
                        op="upscale",
                        reason=f"{src_w}x{src_h} → {fitted_w}x{fitted_h} to fit the {width}x{height} timeline",
                    )
                )
    return ops
