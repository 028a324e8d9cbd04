from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio

from analysis.models import AnalysisResult
from kernel.timebase import rate_from_float, rescale_frames
from nle_adapters.plan_to_otio import build_timeline
from planner.brief import Brief
from planner.heuristic import plan_heuristic
from planner.style import load_style
from tests.planner.synth import make_clip, make_music


def test_source_ranges_are_in_media_time_and_record_grid_is_exact() -> None:
    clips = [
        make_clip(0, Fraction(24000, 1001), [200, 200], start_frame=86400),
        make_clip(1, Fraction(25), [200, 200], start_frame=900000),
        make_clip(2, Fraction(30000, 1001), [250, 250], start_frame=1552158),
    ]
    analysis = AnalysisResult(clips=clips, music=make_music(120, 30))
    plan = plan_heuristic(
        analysis, Brief(target_duration_seconds=12, rate=Fraction(24000, 1001)), load_style("dynamic")
    )
    timeline = build_timeline(plan, analysis)
    assert timeline.global_start_time.value == 86400
    assert rate_from_float(timeline.global_start_time.rate) == Fraction(24000, 1001)
    video = timeline.video_tracks()[0]
    by_id = {c.id: c for c in clips}
    for item, cut in zip(video.find_clips(), sorted(plan.cuts, key=lambda c: c.record_in)):
        media = by_id[cut.clip_id].media
        rng = item.source_range
        assert rate_from_float(rng.start_time.rate) == media.rate
        assert rng.start_time.value == media.start_frame + cut.source_in
        avail = item.media_reference.available_range
        assert avail.start_time.value == media.start_frame and avail.duration.value == media.frames
        # record position on the timeline grid, integer frames
        pos = video.range_of_child(item).start_time.rescaled_to(float(plan.rate))
        assert pos.value == cut.record_in
        assert rng.duration.value == cut.record_duration
        assert cut.source_out - cut.source_in == rescale_frames(cut.record_duration, plan.rate, media.rate)
    music = timeline.audio_tracks()[0].find_clips()[0]
    assert len(music.markers) == len(plan.markers)


def test_json_round_trip_keeps_everything() -> None:
    clips = [make_clip(0, Fraction(25), [100, 100]), make_clip(1, Fraction(25), [100, 100])]
    analysis = AnalysisResult(clips=clips, music=make_music(100, 20))
    timeline = build_timeline(
        plan_heuristic(analysis, Brief(target_duration_seconds=8), load_style("dynamic")), analysis
    )
    again = otio.adapters.read_from_string(otio.adapters.write_to_string(timeline, "otio_json"), "otio_json")
    assert otio.adapters.write_to_string(again, "otio_json") == otio.adapters.write_to_string(timeline, "otio_json")
