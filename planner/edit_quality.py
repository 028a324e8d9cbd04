"""Edit-quality metrics: how an editor would judge a plan's choices, measured.

Reported with every plan (``EditPlan.edit_quality``) and tracked in ``bench/bench_edit_quality.py``:

- mean quality of the used shots (weighted by screen time) against every shot available;
- the share of the duration on set-aside shots (weaker near-duplicates, damaged pictures): target 0;
- the distribution of cut lengths in seconds against the style's ``[min, max]_shot_seconds``;
- sequence entropy: the entropy of the next clip given the current one, in bits (0 for a fixed
  rotation, where each clip is always followed by the same one), and periodicity: the largest
  share of cuts whose clip equals the clip ``p`` cuts earlier, over ``p = 2..16`` that fit twice (1 for a rotation);
- in-point interest: the mean picture interest (``Shot.interest``) of the used ranges, beside the
  interest of the naive in-points: the same lengths played front to back from each shot's first
  frame (rewinding when a shot runs out).
"""

from __future__ import annotations

import math
from collections import Counter

from analysis.models import AnalysisResult, ClipAnalysis, Shot
from planner.models import Cut, EditPlan, EditQuality, ShotLengths
from planner.scoring import range_interest, set_aside_shots, shot_quality
from planner.style import Style

LONGEST_PERIOD = 16  # longest clip pattern that counts as a rotation


def _shot_of(clip: ClipAnalysis, cut: Cut) -> tuple[int, Shot] | None:
    """The shot holding most of the cut's source range."""
    best: tuple[int, int, Shot] | None = None
    for k, shot in enumerate(clip.shots):
        overlap = min(shot.end, cut.source_out) - max(shot.start, cut.source_in)
        if overlap > 0 and (best is None or overlap > best[0]):
            best = (overlap, k, shot)
    return None if best is None else (best[1], best[2])


def _percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` (0..1) of sorted ``values``."""
    if not values:
        return 0.0
    pos = q * (len(values) - 1)
    lo = math.floor(pos)
    hi = min(len(values) - 1, lo + 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def conditional_entropy(sequence: list[str]) -> float:
    """Entropy in bits of the next item given the current one, estimated from the bigrams."""
    pairs = Counter(zip(sequence, sequence[1:]))
    firsts = Counter(a for a, _ in pairs.elements())
    total = sum(pairs.values())
    if not total:
        return 0.0
    return max(0.0, -sum(n / total * math.log2(n / firsts[a]) for (a, _), n in pairs.items()))


def periodicity(sequence: list[str], longest: int = LONGEST_PERIOD) -> float:
    """The largest share of positions ``i >= p`` with ``sequence[i] == sequence[i - p]``, over
    periods ``p`` in 2..``longest`` that fit at least twice; 1.0 means the order is a rotation."""
    best = 0.0
    for p in range(2, longest + 1):
        if len(sequence) < 2 * p + 1:
            break
        same = sum(1 for i in range(p, len(sequence)) if sequence[i] == sequence[i - p])
        best = max(best, same / (len(sequence) - p))
    return best


def used_shots(plan: EditPlan, analysis: AnalysisResult) -> set[tuple[str, int]]:
    """``(clip id, shot index)`` of every shot a video cut of ``plan`` uses."""
    clips = {c.id: c for c in analysis.clips}
    out: set[tuple[str, int]] = set()
    for cut in plan.cuts:
        clip = clips.get(cut.clip_id)
        found = _shot_of(clip, cut) if clip is not None and cut.kind == "video" else None
        if found is not None:
            out.add((cut.clip_id, found[0]))
    return out


def edit_quality(plan: EditPlan, analysis: AnalysisResult, style: Style | None = None) -> EditQuality:
    """Measure ``plan`` (made from ``analysis`` in ``style``); see the module doc."""
    clips = {c.id: c for c in analysis.clips}
    video = sorted((c for c in plan.cuts if c.kind == "video" and c.clip_id in clips), key=lambda c: c.record_in)
    rate = plan.rate
    aside = set_aside_shots(analysis)
    available = [shot_quality(s, c.media.rate) for c in analysis.clips if c.media.has_video for s in c.shots]
    weighted = total = on_aside = 0.0
    interest = naive = 0.0
    measured = any(s.interest for c in analysis.clips for s in c.shots)
    cursors: dict[tuple[str, int], int] = {}
    for cut in video:
        clip = clips[cut.clip_id]
        found = _shot_of(clip, cut)
        if found is None:
            continue
        index, shot = found
        weight = float(cut.record_duration)
        total += weight
        weighted += weight * shot_quality(shot, clip.media.rate)
        if (clip.id, index) in aside:
            on_aside += weight
        interest += weight * range_interest(shot, cut.source_in, cut.source_out)
        # The naive in-points: each shot played front to back from its first frame, rewinding
        # when it runs out (what a planner without an interest curve does).
        length = cut.source_out - cut.source_in
        at = cursors.get((clip.id, index), shot.start)
        if at + length > shot.end:
            at = shot.start
        naive += weight * range_interest(shot, at, min(shot.end, at + length))
        cursors[(clip.id, index)] = at + length
    seconds = sorted(float(c.record_duration / rate) for c in video)
    bounds = (style.pacing.min_shot_seconds, style.pacing.max_shot_seconds) if style is not None else None
    inside = (
        sum(1 for s in seconds if bounds[0] - 0.5 / float(rate) <= s <= bounds[1] + 0.5 / float(rate)) / len(seconds)
        if bounds is not None and seconds
        else 0.0
    )
    order = [c.clip_id for c in video]
    return EditQuality(
        used_quality=round(weighted / total, 4) if total else None,
        available_quality=round(sum(available) / len(available), 4) if available else None,
        set_aside_share=round(on_aside / total, 4) if total else 0.0,
        shot_seconds=ShotLengths(
            count=len(seconds),
            minimum=round(seconds[0], 4) if seconds else 0.0,
            p10=round(_percentile(seconds, 0.1), 4),
            median=round(_percentile(seconds, 0.5), 4),
            p90=round(_percentile(seconds, 0.9), 4),
            maximum=round(seconds[-1], 4) if seconds else 0.0,
            style_bounds=bounds,
            inside_bounds=round(inside, 4),
        ),
        sequence_entropy_bits=round(conditional_entropy(order), 4),
        periodicity=round(periodicity(order), 4),
        in_point_interest=round(interest / total, 4) if total and measured else None,
        first_frames_interest=round(naive / total, 4) if total and measured else None,
    )
