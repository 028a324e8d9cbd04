"""The music-montage planner on generated analyses: every promise of planner/music_montage.py."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from analysis.models import AnalysisResult, MusicSection
from kernel.timebase import seconds_to_frames
from planner.brief import Brief
from planner.errors import PlanningError
from planner.heuristic import plan_heuristic
from planner.models import EditPlan
from planner.music_montage import HALF_BEAT_MIN_SECONDS, MAX_REUSE
from planner.style import available_styles, load_style
from planner.timeline_setup import beat_frames, cut_points
from planner.validate import plan_problems
from tests.planner.synth import RATES, clip_specs, make_clip, make_music

STYLES = sorted(available_styles())
energies = st.one_of(st.none(), st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=200))


def check_montage(plan: EditPlan, analysis: AnalysisResult, brief: Brief, style_name: str) -> None:
    style = load_style(style_name)
    assert plan_problems(plan, analysis, style=style, brief=brief) == []
    music = analysis.music
    assert music is not None
    assert plan.music is not None and plan.music.record_out == plan.duration_frames
    # Cut points: beats, or half beats where no shot was long enough for a beat (said in the plan).
    source_in = plan.music.source_in_seconds
    beats = beat_frames(music, plan.rate, source_in)
    halves = any("cut in half" in w for w in plan.warnings)
    points = sorted(cut_points(music, plan.rate, source_in)) if halves else beats
    cuts = sorted(plan.cuts, key=lambda c: c.record_in)
    assert cuts[0].record_in == 0
    clips = {c.id: c for c in analysis.clips}
    for a, b in zip(cuts, cuts[1:]):
        assert a.record_out == b.record_in  # no gaps, no overlaps on V1
        assert min(abs(b.record_in - f) for f in points) <= 1  # on the beat ±1 frame
        shot_a = [s for s in clips[a.clip_id].shots if s.start <= a.source_in and a.source_out <= s.end]
        shot_b = [s for s in clips[b.clip_id].shots if s.start <= b.source_in and b.source_out <= s.end]
        assert shot_a and shot_b  # no range across a hard cut
        assert (a.clip_id, shot_a[0].start) != (b.clip_id, shot_b[0].start)  # no back-to-back repeat
    assert min(abs(cuts[-1].record_out - f) for f in beats) <= 1
    # No flash frames: a cut lasts the style's shortest shot, or a beat when footage forced a split.
    shortest = min(
        seconds_to_frames(style.pacing.min_shot_seconds, plan.rate), min(b - a for a, b in zip(beats, beats[1:]))
    )
    if halves:
        shortest = min(shortest, seconds_to_frames(HALF_BEAT_MIN_SECONDS, plan.rate))
    if plan.duration_frames >= shortest:
        assert all(c.record_duration >= shortest for c in cuts), [c.record_duration for c in cuts]
    # Reuse limit: no source frame is on screen more often than the style allows.
    coverage: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for c in cuts:
        for f in range(c.source_in, c.source_out):
            coverage[c.clip_id][f] += 1
    relaxed = any("footage reused up to" in w for w in plan.warnings)
    assert max(max(v.values()) for v in coverage.values()) <= max(style.rules.reuse_limit, MAX_REUSE if relaxed else 0)
    # Duration within one beat of the target (capped at the music's length).
    target = min(brief.target_duration_seconds or 60.0, music.duration_seconds)
    period = float(plan.rate) * 60 / music.beat_grid.tempo_bpm
    assert abs(plan.duration_frames - seconds_to_frames(target, plan.rate)) <= period + 1


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    clip_specs,
    st.floats(min_value=70, max_value=180),
    st.floats(min_value=4, max_value=40),
    st.sampled_from(STYLES),
    st.sampled_from([0.5, 1.0, 1.5, 2.0]),
    energies,
    st.floats(min_value=0, max_value=0.4),
)
def test_any_footage_plans_soundly_or_says_why(specs, bpm, target, style, pace, energy, phase) -> None:
    clips = [make_clip(i, rate, lengths, q) for i, (rate, lengths, q) in enumerate(specs)]
    analysis = AnalysisResult(clips=clips, music=make_music(bpm, 45.0, phase=phase, energy=energy))
    brief = Brief(target_duration_seconds=target, style=style, pace=pace)
    try:
        plan = plan_heuristic(analysis, brief, load_style(style))
    except PlanningError as exc:
        event("not enough footage")
        message = str(exc)
        assert "runs out" in message or "long enough" in message
        assert "\n" not in message
        return
    event("planned")
    check_montage(plan, analysis, brief, style)


plentiful = st.lists(
    st.tuples(
        st.sampled_from(RATES),
        st.lists(st.integers(min_value=150, max_value=500), min_size=4, max_size=6),
        st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=3),
    ),
    min_size=3,
    max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plentiful, st.floats(min_value=80, max_value=160), st.floats(min_value=5, max_value=25), st.sampled_from(STYLES))
def test_plentiful_footage_always_plans(specs, bpm, target, style) -> None:
    clips = [make_clip(i, rate, lengths, q) for i, (rate, lengths, q) in enumerate(specs)]
    energy = [0.5 + 0.5 * ((k // 16) % 2) - 0.4 * ((k // 40) % 2) for k in range(80)]
    analysis = AnalysisResult(clips=clips, music=make_music(bpm, 40.0, energy=energy))
    brief = Brief(target_duration_seconds=target, style=style)
    plan = plan_heuristic(analysis, brief, load_style(style))
    check_montage(plan, analysis, brief, style)
    assert len(plan.cuts) == 1 or len({c.clip_id for c in plan.cuts}) > 1


blocks = st.lists(st.tuples(st.booleans(), st.integers(min_value=8, max_value=16)), min_size=2, max_size=5)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks, st.floats(min_value=90, max_value=150), st.sampled_from(["dynamic", "social_vertical", "cinematic"]))
def test_faster_cutting_when_the_music_is_louder(layout, bpm, style_name) -> None:
    assume(any(loud for loud, _ in layout) and not all(loud for loud, _ in layout))
    energy: list[float] = []
    for loud, half_seconds in layout:
        energy += [0.95 if loud else 0.05] * half_seconds  # hop 0.5 s
    seconds = len(energy) * 0.5
    clips = [make_clip(i, Fraction(25), [400] * 6, [(0.8, 0.5)]) for i in range(6)]
    music = make_music(bpm, seconds, energy=energy)
    analysis = AnalysisResult(clips=clips, music=music)
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=seconds), load_style(style_name))
    loud, quiet = [], []
    for cut in plan.cuts:
        # What plays under a shot is the music at its middle: a long calm-paced cut may start on
        # the last beat of a loud block (the planner sizes a piece by the energy of the bar ahead).
        t = (cut.record_in + cut.record_out) / 2 / float(plan.rate)
        (loud if music.energy_at(t) > 0.5 else quiet).append(cut.record_duration)
    if loud and quiet:
        assert sum(loud) / len(loud) < sum(quiet) / len(quiet)


def test_sections_get_cuts_markers_and_an_arc() -> None:
    clips = [
        make_clip(0, Fraction(25), [300] * 4, [(0.9, 0.1)]),  # calm
        make_clip(1, Fraction(25), [300] * 4, [(0.9, 0.95)]),  # action
        make_clip(2, Fraction(25), [300] * 4, [(0.6, 0.5)]),
    ]
    sections = [
        MusicSection(start=0, end=8, label="intro", energy=0.2),
        MusicSection(start=8, end=20, label="peak", energy=0.9),
        MusicSection(start=20, end=30, label="outro", energy=0.2),
    ]
    analysis = AnalysisResult(clips=clips, music=make_music(120, 30, sections=sections))
    brief = Brief(target_duration_seconds=30)
    plan = plan_heuristic(analysis, brief, load_style("dynamic"))
    assert {m.kind for m in plan.markers} >= {"beat", "downbeat", "section"}
    assert {seconds_to_frames(8, plan.rate), seconds_to_frames(20, plan.rate)} <= {c.record_in for c in plan.cuts}
    peak = [c for c in plan.cuts if 200 <= c.record_in < 500]
    calm = [c for c in plan.cuts if c.record_in < 200 or c.record_in >= 500]
    # Action in the peak, calm shots at the ends: the story arc follows the music.
    assert sum(c.clip_id == "clip1" for c in peak) > sum(c.clip_id == "clip0" for c in peak)
    assert sum(c.clip_id == "clip0" for c in calm) > sum(c.clip_id == "clip1" for c in calm)
    assert all(c.reason for c in plan.cuts)


def test_must_include_and_best_shots_first() -> None:
    clips = [make_clip(i, Fraction(25), [300] * 3, [(0.9 if i < 3 else 0.1, 0.5)]) for i in range(6)]
    analysis = AnalysisResult(clips=clips, music=make_music(120, 30))
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=6, must_include=["clip5"]), load_style("dynamic"))
    used = [c.clip_id for c in plan.cuts]
    assert "clip5" in used
    assert sum(u in ("clip0", "clip1", "clip2") for u in used) >= len(used) - 1


def test_dissolves_have_handles_and_are_checked() -> None:
    clips = [make_clip(i, Fraction(24), [400] * 4, [(0.7, 0.3)]) for i in range(4)]
    analysis = AnalysisResult(clips=clips, music=make_music(100, 40, energy=[0.1] * 80))
    style = load_style("wedding")
    brief = Brief(target_duration_seconds=30)
    plan = plan_heuristic(analysis, brief, style)
    dissolves = [c for c in plan.cuts if c.transition_in is not None]
    assert dissolves and all(c.transition_in.frames == style.transitions.dissolve_frames for c in dissolves)
    # Take a handle away: the validator must notice.
    broken = plan.model_copy(deep=True)
    victim = next(c for c in broken.cuts if c.transition_in is not None)
    shot_start = max(s.start for s in analysis.clip(victim.clip_id).shots if s.start <= victim.source_in)
    length = victim.source_out - victim.source_in
    victim.source_in, victim.source_out = shot_start, shot_start + length
    assert any("handle" in p for p in plan_problems(broken, analysis, style=style, brief=brief))


def test_reuse_limit_exhausted_is_a_clear_error() -> None:
    analysis = AnalysisResult(clips=[make_clip(0, Fraction(25), [60, 60])], music=make_music(120, 60))
    with pytest.raises(PlanningError, match="reuse limit 1"):
        plan_heuristic(analysis, Brief(target_duration_seconds=40), load_style("cinematic"))


def test_vertical_aspect_and_upscale_requests() -> None:
    # Fit, not fill: a 16:9 clip in the 1080x1920 frame shows 1080 wide, so 1280x720 needs no
    # upscale (its short side is no reason) and 640x360 does.
    clips = [
        make_clip(0, Fraction(25), [300] * 4, height=360),
        make_clip(1, Fraction(25), [300] * 4, height=720),
        make_clip(2, Fraction(25), [300] * 4, height=1080),
    ]
    analysis = AnalysisResult(clips=clips, music=make_music(120, 30))
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=10), load_style("social_vertical"))
    assert plan.aspect == "9:16" and (plan.width, plan.height) == (1080, 1920)
    assert [(op.clip_id, op.op) for op in plan.remote_ops] == [("clip0", "upscale")]
    assert "640x360 → 1080x606" in plan.remote_ops[0].reason


def test_shaky_used_shots_get_stabilized() -> None:
    """Only clips the edit uses, and only when a used shot is shaky; the style can turn it off."""
    clips = [make_clip(i, Fraction(25), [300] * 2, [(0.8, 0.4)]) for i in range(3)]
    for shot in clips[0].shots:
        shot.quality.shake = 0.9  # handheld
    clips[1].shots[0].quality.shake = 0.2  # a steady pan
    clips[2].shots[1].quality.shake = 0.7
    analysis = AnalysisResult(clips=clips, music=make_music(120, 30))
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=12), load_style("documentary"))
    used = {c.clip_id for c in plan.cuts}
    stabilized = sorted(op.clip_id for op in plan.remote_ops if op.op == "stabilize")
    expected = sorted(
        clip.id
        for clip in clips
        if any(
            s.quality.shake >= 0.5
            and any(c.source_in < s.end and s.start < c.source_out for c in plan.cuts if c.clip_id == clip.id)
            for s in clip.shots
        )
    )
    assert "clip0" in used and "clip0" in stabilized
    assert "clip1" not in stabilized
    assert stabilized == expected
    steady = load_style("documentary").model_copy(deep=True)
    steady.rules.stabilize_shake = None
    assert not [op for op in plan_heuristic(analysis, Brief(target_duration_seconds=12), steady).remote_ops]


def test_empty_quality_and_energy_still_plan_with_warnings() -> None:
    clips = [make_clip(i, RATES[0], [200] * 3) for i in range(3)]
    analysis = AnalysisResult(clips=clips, music=make_music(128, 30))
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=12), load_style("dynamic"))
    assert any("quality" in w for w in plan.warnings) and any("energy" in w for w in plan.warnings)


def test_back_to_back_repeats_are_reported() -> None:
    clips = [make_clip(0, Fraction(25), [400] * 4, [(0.8, 0.5)]), make_clip(1, Fraction(25), [10] * 3, [(0.9, 0.5)])]
    analysis = AnalysisResult(clips=clips, music=make_music(120, 30))
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=8), load_style("dynamic"))
    assert {c.clip_id for c in plan.cuts} == {"clip0"}
    assert any("repeats back to back" in w for w in plan.warnings)
