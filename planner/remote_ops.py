"""Which clips the heuristic planners ask the GPU worker to fix before they are cut in.

* upscale: the clip's short side is smaller than the timeline's;
* stabilize: a shot the edit uses is shaky (the analysis' ``shake`` at or above the style's
  ``stabilize_shake``). The worker stabilizes whole clips, so one shaky used shot is enough.
"""

from __future__ import annotations

from analysis.models import ClipAnalysis
from planner.models import Cut, RemoteOp


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
    short = min(width, height)
    used = {c.clip_id for c in cuts}
    ops: list[RemoteOp] = []
    for clip in clips:
        if clip.id not in used:
            continue
        media = clip.media
        shake = shakiest_used_shot(clip, cuts)
        if stabilize_shake is not None and shake >= stabilize_shake:
            ops.append(RemoteOp(clip_id=clip.id, op="stabilize", reason=f"camera shake {shake:.2f} in a used shot"))
        if media.width and media.height and min(media.width, media.height) < short:
            ops.append(
                RemoteOp(
                    clip_id=clip.id,
                    op="upscale",
                    reason=f"{media.width}x{media.height} is smaller than the {width}x{height} timeline",
                )
            )
    return ops
