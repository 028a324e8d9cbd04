"""A compact, JSON-ready summary of the analysis for the LLM, kept inside a token budget.

Tokens are estimated as characters / 4 (the usual rule of thumb for English and JSON with
OpenAI-style tokenizers); the budget is a soft ceiling, not an exact count. Shrinking goes in
steps, each one only when still over budget: shorter transcript excerpts → fewer shots per clip
(the best-scored ones, kept in time order) → fewer clips (lowest best-shot score first; clips
the brief must include are never dropped). What was left out is stated in the summary.
"""

from __future__ import annotations

import json

from analysis.models import AnalysisResult, ClipAnalysis
from planner.brief import Brief
from planner.scoring import shot_motion, shot_quality

SPEECH_STEPS = (600, 200, 0)
SHOT_STEPS = (1000, 12, 6, 3, 1)


def estimate_tokens(obj: object) -> int:
    return len(json.dumps(obj, separators=(",", ":"))) // 4 + 1


def _clip_entry(clip: ClipAnalysis, speech_chars: int, max_shots: int) -> dict:
    rate = clip.media.rate
    fps = float(rate)
    shots = list(enumerate(clip.shots))
    if len(shots) > max_shots:
        best = sorted(shots, key=lambda p: (-shot_quality(p[1], rate), p[0]))[:max_shots]
        shots = sorted(best)
    entry: dict = {
        "id": clip.id,
        "file": clip.media.name,
        "seconds": round(clip.media.frames / fps, 2),
        "shots": [
            [
                round(s.start / fps, 2),
                round(s.end / fps, 2),
                round(shot_quality(s, rate), 2),
                round(shot_motion(s), 2),
                round(s.quality.shake if s.quality is not None else 0.0, 2),
                s.quality.faces if s.quality is not None else 0,
            ]
            for _, s in shots
        ],
    }
    if len(clip.shots) > len(shots):
        entry["shots_omitted"] = len(clip.shots) - len(shots)
    if speech_chars and clip.transcript and clip.transcript.segments:
        parts, used = [], 0
        for seg in clip.transcript.segments:
            if used >= speech_chars:
                break
            text = seg.text.strip()[: speech_chars - used]
            parts.append([round(seg.start, 2), round(seg.end, 2), text])
            used += len(text)
        entry["speech"] = parts
    return entry


def summarize(analysis: AnalysisResult, brief: Brief, budget_tokens: int) -> dict:
    """The analysis as the LLM sees it; shots are ``[start_s, end_s, score, motion, shake, faces]``."""
    music = analysis.music
    music_entry = None
    if music is not None:
        music_entry = {
            "file": music.name,
            "seconds": round(music.duration_seconds, 2),
            "bpm": round(music.beat_grid.tempo_bpm, 1),
            "beats_per_bar": music.beat_grid.beats_per_bar,
            "sections": [[round(s.start, 2), round(s.end, 2), s.label, round(s.energy, 2)] for s in music.sections],
            "first_beat": round(music.beat_grid.beats[0], 3) if music.beat_grid.beats else None,
            # Bar starts: where a cut feels strongest. Capped so a long track cannot eat the budget.
            "downbeats": [round(b, 2) for b in (music.beat_grid.downbeats or [])[:400]],
        }
    clips = [c for c in analysis.clips if c.shots]
    must = set(brief.must_include)
    ranked = sorted(clips, key=lambda c: -max(shot_quality(s, c.media.rate) for s in c.shots))
    summary: dict = {}
    for speech in SPEECH_STEPS:
        for max_shots in SHOT_STEPS:
            entries = [_clip_entry(c, speech, max_shots) for c in clips]
            summary = {"clips": entries, "music": music_entry}
            if estimate_tokens(summary) <= budget_tokens:
                return summary
    # Still too big: drop the weakest clips (never must-include ones) until it fits. Entry sizes
    # add up (plus a comma each), so measure each once instead of re-serialising the whole summary.
    smallest = {c.id: _clip_entry(c, 0, SHOT_STEPS[-1]) for c in clips}
    size = {cid: len(json.dumps(e, separators=(",", ":"))) + 1 for cid, e in smallest.items()}
    base = len(json.dumps({"clips": [], "music": music_entry, "clips_omitted": len(clips)}, separators=(",", ":")))
    total = base + sum(size.values())
    kept = {c.id for c in clips}
    for victim in reversed(ranked):
        if total // 4 + 1 <= budget_tokens or len(kept) <= 1:
            break
        if victim.id in must:
            continue
        kept.discard(victim.id)
        total -= size[victim.id]
    return {
        "clips": [smallest[c.id] for c in clips if c.id in kept],
        "music": music_entry,
        "clips_omitted": len(clips) - len(kept),
    }
