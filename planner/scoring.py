"""Shot ranking shared by the heuristic planners: quality, motion and the story arc.

All measures are 0..1. When the analysis has no quality for a shot (the engine did not run, or an
older cache), the shot gets a neutral score from its length so planning still works.
"""

from __future__ import annotations

from fractions import Fraction

from analysis.models import ClipAnalysis, MusicAnalysis, Shot

ARC_MOTION_SHIFT = {"intro": -0.25, "build": 0.0, "peak": 0.25, "outro": -0.3, "break": -0.2}


def shot_quality(shot: Shot, rate: Fraction) -> float:
    """The analysis' usability score, or a length-based stand-in (longer takes are usually deliberate)."""
    if shot.quality is not None:
        return shot.quality.score
    seconds = shot.length / float(rate)
    return 0.3 + 0.4 * min(1.0, seconds / 6.0)


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
