"""What the plan asks for reaches the timeline; only what a timeline file cannot hold is reported."""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio

from analysis.models import AnalysisResult
from montage_bridge.pipeline import _not_in_timeline
from nle_adapters.plan_to_otio import build_timeline
from planner.brief import Brief
from planner.make_plan import make_plan
from planner.models import PlanMarker
from tests.planner.synth import INTERVIEW_WORDS, make_clip, make_music, speech


def test_dissolves_and_jl_cuts_are_built_and_not_reported() -> None:
    clips = [make_clip(i, Fraction(24), [400] * 4, [(0.7, 0.3)]) for i in range(4)]
    analysis = AnalysisResult(clips=clips, music=make_music(100, 40, energy=[0.1] * 80))
    plan = make_plan(analysis, Brief(target_duration_seconds=30), "wedding")
    dissolves = sum(1 for c in plan.cuts if c.transition_in is not None)
    timeline = build_timeline(plan, analysis)
    video = timeline.video_tracks()[0]
    assert dissolves and len(list(video.find_children(descended_from_type=otio.schema.Transition))) == dissolves
    # ... and the music's own fade-out closes the music track.
    assert isinstance(timeline.audio_tracks()[0][-1], otio.schema.Transition)
    assert _not_in_timeline(plan, timeline) == []

    talk = AnalysisResult(clips=[make_clip(0, Fraction(25), [350], transcript=speech(INTERVIEW_WORDS))])
    plan = make_plan(talk, Brief(mode="talking_head", jl_cut_frames=3))
    audio = sum(1 for c in plan.cuts if c.kind == "audio")
    timeline = build_timeline(plan, talk)
    assert audio and len(list(timeline.audio_tracks()[0].find_clips())) == audio
    assert _not_in_timeline(plan, timeline) == []


def test_a_marker_with_no_clip_under_it_is_reported() -> None:
    talk = AnalysisResult(clips=[make_clip(0, Fraction(25), [350], transcript=speech(INTERVIEW_WORDS))])
    plan = make_plan(talk, Brief(mode="talking_head"))
    end = plan.duration_frames
    plan = plan.model_copy(update={"markers": [*plan.markers, PlanMarker(frame=end + 10, name="late", kind="note")]})
    notes = _not_in_timeline(plan, build_timeline(plan, talk))
    assert len(notes) == 1 and f"1 of {len(plan.markers)} marker(s) have no clip under them" in notes[0]
