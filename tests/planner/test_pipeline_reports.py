"""What the plan asks for but the timeline builder cannot write yet is reported, not dropped silently."""

from __future__ import annotations

from fractions import Fraction

from analysis.models import AnalysisResult
from montage_bridge.pipeline import _not_in_timeline
from nle_adapters.plan_to_otio import build_timeline
from planner.brief import Brief
from planner.make_plan import make_plan
from tests.planner.synth import INTERVIEW_WORDS, make_clip, make_music, speech


def test_dissolves_and_jl_cuts_the_builder_lacks_are_reported() -> None:
    clips = [make_clip(i, Fraction(24), [400] * 4, [(0.7, 0.3)]) for i in range(4)]
    analysis = AnalysisResult(clips=clips, music=make_music(100, 40, energy=[0.1] * 80))
    plan = make_plan(analysis, Brief(target_duration_seconds=30), "wedding")
    dissolves = sum(1 for c in plan.cuts if c.transition_in is not None)
    notes = _not_in_timeline(plan, build_timeline(plan, analysis))
    assert dissolves and any(f"{dissolves} planned dissolve" in n for n in notes)

    talk = AnalysisResult(clips=[make_clip(0, Fraction(25), [350], transcript=speech(INTERVIEW_WORDS))])
    plan = make_plan(talk, Brief(mode="talking_head", jl_cut_frames=3))
    audio = sum(1 for c in plan.cuts if c.kind == "audio")
    notes = _not_in_timeline(plan, build_timeline(plan, talk))
    assert audio and any("J/L audio cut" in n for n in notes)
