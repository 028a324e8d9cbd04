"""Shot ranking shared by the heuristic planners: quality, motion and the story arc.

All measures are 0..1. When the analysis has no quality for a shot (the engine did not run, or an
older cache), the shot gets a neutral score from its length so planning still works.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from analysis.models import AnalysisResult, ClipAnalysis, MusicAnalysis, Shot
from analysis.near_duplicates import near_duplicate_groups

ARC_MOTION_SHIFT = {"intro": -0.25, "build": 0.0, "peak": 0.25, "outro": -0.3, "break": -0.2}


def shot_quality(shot: Shot, rate: Fraction) -> float:
    """The analysis' usability score, or a length-based stand-in (longer takes are usually deliberate).

    The score already includes the technical picture quality (analysis.picture_quality scales it by
    0.35 + 0.65 x technical), so compression damage, noise and blur lower a shot's rank in every
    planner; :func:`set_aside_shots` says which shots to leave out altogether."""
    if shot.quality is not None:
        return shot.quality.score
    seconds = shot.length / float(rate)
    return 0.3 + 0.4 * min(1.0, seconds / 6.0)


# A shot is "far below the library" when its technical quality is this far under the library's
# median and under this absolute level (so a library of uniformly soft phone footage keeps it all).
TECHNICAL_GAP = 0.25
TECHNICAL_POOR = 0.6


@dataclass(frozen=True)
class SetAside:
    """A shot the planners should not use while better material exists, and why (for the plan)."""

    clip: str
    shot: int
    reason: str


def set_aside_shots(analysis: AnalysisResult) -> dict[tuple[str, int], SetAside]:
    """Shots to leave out, keyed by ``(clip id, shot index)``: the lesser members of each
    near-duplicate group (the best of the group is kept), and shots whose technical quality is far
    below the library's (blocking, banding, noise, blur). Pure; a shot with no technical measure
    (an older analysis) is never set aside for quality. Planners still fall back on these shots when
    nothing else can fill the time."""
    out: dict[tuple[str, int], SetAside] = {}
    groups = analysis.near_duplicates if analysis.near_duplicates is not None else near_duplicate_groups(analysis)
    for group in groups:
        for ref in group.set_aside:
            out[(ref.clip, ref.shot)] = SetAside(
                ref.clip,
                ref.shot,
                f"near-duplicate of {group.best.clip} shot {group.best.shot + 1}, which has the better picture",
            )
    measured = [
        (clip.id, k, shot.quality.technical)
        for clip in analysis.clips
        for k, shot in enumerate(clip.shots)
        if shot.quality is not None and shot.quality.technical is not None
    ]
    if len(measured) >= 2:
        values = sorted(t for _, _, t in measured)
        median = values[len(values) // 2]
        for clip_id, k, technical in measured:
            if technical < TECHNICAL_POOR and technical <= median - TECHNICAL_GAP and (clip_id, k) not in out:
                out[(clip_id, k)] = SetAside(
                    clip_id,
                    k,
                    f"picture quality {technical:.2f} is far below the library's median {median:.2f} "
                    "(compression blocking, banding, noise or blur)",
                )
    return out


def range_interest(shot: Shot, a: int, b: int) -> float:
    """Mean picture interest (0..1) of clip frames ``[a, b)`` inside ``shot``, from its interest
    curve (``Shot.interest``: equal slices of the shot); without one, a gentle tent that prefers
    the middle of the shot (0.5) over its first and last frames (0.4), where takes usually settle."""
    start, length = shot.start, max(1, shot.length)
    curve = shot.interest
    if not curve:
        mid = (a + b) / 2 - start
        return 0.5 - 0.2 * abs(mid / length - 0.5)
    n = len(curve)
    total = weight = 0.0
    for k, value in enumerate(curve):
        overlap = min(b, start + (k + 1) * length / n) - max(a, start + k * length / n)
        if overlap > 0:
            total += value * overlap
            weight += overlap
    return total / weight if weight else sum(curve) / n


def shot_motion(shot: Shot) -> float:
    """The analysis' motion measure, 0.5 (neutral) when unknown."""
    return shot.quality.motion if shot.quality is not None else 0.5


def section_label(music: MusicAnalysis, seconds: float, total: float, high_energy: float) -> str:
    """The music section at ``seconds``; without analysed sections, a simple arc from the energy:
    the first 15 % is the intro, the last 15 % the outro, loud stretches the peak."""
    for section in music.sections:
        if section.start <= seconds < section.end:
            return section.label
    if total > 0 and seconds < 0.15 * total:
        return "intro"
    if total > 0 and seconds >= 0.85 * total:
        return "outro"
    return "peak" if energy_near(music, seconds) >= high_energy else "build"


def energy_near(music: MusicAnalysis, seconds: float, span: float = 0.0) -> float:
    """Mean energy over ``[seconds, seconds + span]``: the curve when analysed, else the section's
    energy, else 0.5."""
    if music.energy:
        steps = max(1, int(span / music.energy_hop) + 1)
        values = [music.energy_at(seconds + k * music.energy_hop) for k in range(steps)]
        return sum(values) / len(values)
    for section in music.sections:
        if section.start <= seconds < section.end:
            return section.energy
    return 0.5


def target_motion(prefer: float, energy: float, label: str) -> float:
    """How much motion the shot at this point of the music should have (0..1)."""
    value = prefer + ARC_MOTION_SHIFT.get(label, 0.0) + 0.5 * (energy - 0.5)
    return min(1.0, max(0.0, value))


def clip_has_quality(clip: ClipAnalysis) -> bool:
    return any(s.quality is not None for s in clip.shots)
