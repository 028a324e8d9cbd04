"""Edit quality on synthetic analyses: the best take, pace from tempo and style, variety, in-points,
and the metrics that measure them (planner.edit_quality)."""

from __future__ import annotations

import statistics
from fractions import Fraction

import pytest

from analysis.models import AnalysisResult, ClipAnalysis, Shot, ShotQuality
from planner.brief import Brief
from planner.edit_quality import conditional_entropy, periodicity
from planner.heuristic import plan_heuristic
from planner.models import EditPlan
from planner.style import Pacing, StyleError, load_style
from tests.planner.synth import make_clip, make_music

RATE = Fraction(25)
HASH = ["0f0f33cc55aa1234", "f0f0cc33aa554321", "123456789abcdef0", "fedcba9876543210"]


def _twins(*, short: bool = False) -> AnalysisResult:
    """Three clips plus a damaged twin of clip0 (same hashes, low technical quality)."""
    length = 60 if short else 400
    clips = [make_clip(i, RATE, [length], [(0.8, 0.5)]) for i in range(3)]
    good = clips[0].shots[0]
    good.phash = HASH
    good.quality = ShotQuality(score=0.8, motion=0.5, sharpness=0.8, technical=0.95)
    twin = make_clip(3, RATE, [length])
    twin.shots[0] = Shot(
        start=0, end=length, phash=HASH, quality=ShotQuality(score=0.78, motion=0.5, sharpness=0.8, technical=0.5)
    )
    return AnalysisResult(clips=[*clips, twin], music=make_music(120, 90.0))


def test_the_weaker_twin_is_set_aside_with_its_reason() -> None:
    analysis = _twins()
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=30), load_style("dynamic"))
    assert "clip3" not in {c.clip_id for c in plan.cuts}
    assert "clip0" in {c.clip_id for c in plan.cuts}
    (aside,) = plan.set_aside
    assert (aside.clip_id, aside.shot, aside.used) == ("clip3", 0, False)
    assert "near-duplicate of clip0" in aside.reason
    assert plan.edit_quality is not None and plan.edit_quality.set_aside_share == 0.0


def test_set_aside_shots_fill_in_only_when_nothing_else_can() -> None:
    """One good 2.4 s shot and its damaged twin for a 10 s edit: the good shot cannot follow
    itself, so the twin fills between its uses; the plan says so and measures it."""
    analysis = _twins(short=True)
    analysis.clips = [analysis.clips[0], analysis.clips[3]]
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=10), load_style("dynamic"))
    assert {c.clip_id for c in plan.cuts} == {"clip0", "clip3"}
    assert any("set-aside shots" in w for w in plan.warnings)
    assert plan.set_aside[0].used
    assert plan.edit_quality is not None and 0 < plan.edit_quality.set_aside_share <= 0.5
    assert all("set-aside shot used" in c.reason for c in plan.cuts if c.clip_id == "clip3")


def test_highlights_leave_the_twin_out_too() -> None:
    analysis = _twins()
    plan = plan_heuristic(analysis, Brief(mode="highlights", target_duration_seconds=8), load_style("dynamic"))
    assert "clip3" not in {c.clip_id for c in plan.cuts}
    assert [s.clip_id for s in plan.set_aside] == ["clip3"]


def _plentiful(bpm: float, energy: float, seconds: float = 40.0) -> AnalysisResult:
    clips = [make_clip(i, RATE, [500, 450, 520], [(0.6 + 0.05 * i, 0.5)]) for i in range(5)]
    return AnalysisResult(clips=clips, music=make_music(bpm, seconds, energy=[energy] * int(seconds * 2)))


def _median_seconds(plan: EditPlan) -> float:
    return statistics.median(c.record_duration / float(plan.rate) for c in plan.cuts)


@pytest.mark.parametrize("style_name", ["dynamic", "social_vertical", "cinematic", "wedding"])
@pytest.mark.parametrize("bpm", [72, 90, 128, 160, 180])
def test_the_median_shot_is_inside_the_style_band_at_any_tempo(style_name: str, bpm: int) -> None:
    style = load_style(style_name)
    for energy in (0.1, 0.5, 0.95):
        plan = plan_heuristic(_plentiful(bpm, energy), Brief(target_duration_seconds=30), style)
        low, high = style.pacing.shot_bounds(energy)
        beat = 60.0 / bpm
        # A band narrower than the gap between two beat counts cannot always be hit: then within
        # one beat count of it.
        slack = beat if high / low < 2.0 else 0.0
        median = _median_seconds(plan)
        assert low - slack - 0.05 <= median <= high + slack + 0.05, (energy, median, (low, high))
        assert style.pacing.min_shot_seconds - 0.05 <= median <= style.pacing.max_shot_seconds + 0.05


def test_no_strobe_at_160_bpm_and_faster_when_loud() -> None:
    """The issue's case: at 160 BPM the dynamic style cut every beat (0.375 s). Now no cut is a
    single beat when the footage allows more, and loud music still cuts faster than quiet."""
    style = load_style("dynamic")
    loud = plan_heuristic(_plentiful(160, 0.95), Brief(target_duration_seconds=30), style)
    quiet = plan_heuristic(_plentiful(160, 0.1), Brief(target_duration_seconds=30), style)
    beat = 0.375
    assert min(c.record_duration / 25 for c in loud.cuts[:-1]) > 1.5 * beat
    assert _median_seconds(loud) < _median_seconds(quiet)


def test_equal_clips_are_not_cut_in_a_rotation() -> None:
    """Four clips of equal quality: the old ranking cycled 0,1,2,3,0,1,2,3 (periodicity 1, 0 bits)."""
    clips = [make_clip(i, RATE, [300] * 6, [(0.7, 0.5)]) for i in range(4)]
    analysis = AnalysisResult(clips=clips, music=make_music(128, 70.0))
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=60), load_style("dynamic"))
    quality = plan.edit_quality
    assert quality is not None
    assert quality.periodicity < 0.75, [c.clip_id for c in plan.cuts]
    assert quality.sequence_entropy_bits > 0.8
    assert len({c.clip_id for c in plan.cuts}) == 4


def test_metric_oracles_for_rotations() -> None:
    rotation = list("ABCD" * 8)
    assert periodicity(rotation) == 1.0
    assert conditional_entropy(rotation) == 0.0
    assert periodicity(list("ABAC" * 6)) == 1.0  # a period of 4, not 2
    irregular = list("ABCADBCABDACBDCADBACDBAC")
    assert periodicity(irregular) < 0.6
    assert conditional_entropy(irregular) > 1.0


def _interest_clip(i: int, peak_slice: int) -> ClipAnalysis:
    clip = make_clip(i, RATE, [400], [(0.7, 0.5)])
    curve = [0.1] * 16
    curve[peak_slice] = curve[peak_slice + 1] = 0.9
    clip.shots[0].interest = curve
    return clip


def test_a_cut_goes_in_at_the_most_interesting_moment() -> None:
    """Each shot's interest peaks in slices 10-11 of 16 (frames 250-300 of 400); a 6 s edit uses
    each shot once, in at the peak, not at its first frames."""
    clips = [_interest_clip(i, 10) for i in range(3)]
    analysis = AnalysisResult(clips=clips, music=make_music(120, 30.0))
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=6), load_style("dynamic"))
    for cut in plan.cuts:
        assert cut.source_in < 300 and cut.source_out > 250, cut
        assert cut.source_in > 100
    quality = plan.edit_quality
    assert quality is not None and quality.in_point_interest is not None and quality.first_frames_interest is not None
    assert quality.in_point_interest > quality.first_frames_interest + 0.3
    assert all("interest 0." in c.reason and "beats" in c.reason for c in plan.cuts)


def test_without_an_interest_curve_cuts_avoid_the_first_frames() -> None:
    clips = [make_clip(i, RATE, [400], [(0.7, 0.5)]) for i in range(3)]
    analysis = AnalysisResult(clips=clips, music=make_music(120, 30.0))
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=4), load_style("dynamic"))
    assert all(c.source_in > 50 for c in plan.cuts)
    assert plan.edit_quality is not None and plan.edit_quality.in_point_interest is None


def test_style_bands_are_checked_and_derived_when_absent() -> None:
    with pytest.raises(ValueError, match="lengthen as energy rises"):
        Pacing(shot_seconds_low=(0.5, 1.0), shot_seconds_high=(1.0, 2.0))
    with pytest.raises(ValueError, match="outside min/max_shot_seconds"):
        Pacing(min_shot_seconds=1.0, max_shot_seconds=4.0, shot_seconds_mid=(5.0, 6.0))
    old = Pacing(cuts_per_bar_low=1.0, cuts_per_bar_mid=2.0, cuts_per_bar_high=4.0, max_shot_seconds=4.0)
    low, high = old.shot_bounds(0.9)  # 4 cuts a bar at 120 BPM: half a second a shot
    assert low < 0.5 < high
    assert old.shot_bounds(0.1)[0] > old.shot_bounds(0.9)[0]


def test_a_style_file_with_bad_bands_names_the_field(tmp_path) -> None:
    path = tmp_path / "odd.toml"
    path.write_text('name = "odd"\n[pacing]\nshot_seconds_mid = [2.0, 1.0]\n')
    with pytest.raises(StyleError, match="odd.toml: pacing: .*shot_seconds_mid"):
        load_style(path)


def test_plans_and_analyses_from_before_still_load() -> None:
    analysis = AnalysisResult(clips=[make_clip(0, RATE, [100])])
    old_plan = {
        "rate": "25",
        "planner": "x",
        "cuts": [{"clip_id": "clip0", "source_in": 0, "source_out": 10, "record_in": 0, "record_out": 10}],
    }
    plan = EditPlan.model_validate(old_plan)
    assert plan.set_aside == [] and plan.edit_quality is None
    assert Shot.model_validate({"start": 0, "end": 10}).interest == []
    assert analysis.clips[0].shots[0].interest == []


def test_the_validator_refuses_a_set_aside_shot_that_does_not_exist() -> None:
    from planner.models import SetAsideShot
    from planner.validate import plan_problems

    analysis = _twins()
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=10), load_style("dynamic"))
    assert plan_problems(plan, analysis) == []
    plan.set_aside.append(SetAsideShot(clip_id="clip9", shot=0, reason="x"))
    assert plan_problems(plan, analysis) == ["set-aside shot 1 of 'clip9' is not in the analysis"]
