"""What every planner decides the same way (rate, drop-frame, start) and the planner's clear errors."""

from __future__ import annotations

from fractions import Fraction

import pytest

from analysis.models import AnalysisResult
from planner.brief import Brief
from planner.errors import PlanningError
from planner.heuristic import plan_heuristic
from planner.style import load_style
from planner.timeline_setup import choose_timeline_rate
from tests.planner.synth import make_clip, make_music


def test_timeline_rate_is_most_common() -> None:
    clips = [
        make_clip(0, Fraction(25), [100]),
        make_clip(1, Fraction(24000, 1001), [100]),
        make_clip(2, Fraction(24000, 1001), [100]),
    ]
    assert choose_timeline_rate(clips) == Fraction(24000, 1001)


def test_drop_frame_default_and_start() -> None:
    clips = [make_clip(0, Fraction(30000, 1001), [300, 300]), make_clip(1, Fraction(30000, 1001), [300, 300])]
    analysis = AnalysisResult(clips=clips, music=make_music(120, 30))
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=10), load_style("dynamic"))
    assert plan.drop_frame and plan.start_timecode == "01:00:00;00" and plan.start_frame == 107892


def test_no_music_is_a_clear_error() -> None:
    with pytest.raises(PlanningError, match="--music"):
        plan_heuristic(AnalysisResult(clips=[make_clip(0, Fraction(25), [100])]), Brief(), load_style("dynamic"))


def test_shots_too_short_for_a_beat() -> None:
    analysis = AnalysisResult(clips=[make_clip(0, Fraction(25), [5, 5, 5])], music=make_music(60, 20))
    with pytest.raises(PlanningError, match="long enough"):
        plan_heuristic(analysis, Brief(), load_style("dynamic"))
