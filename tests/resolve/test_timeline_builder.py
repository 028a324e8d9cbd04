"""Building an OTIO timeline in (fake) Resolve: frame-exact placement, markers, verification."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from kernel.timebase import rescale_frames
from nle_adapters.plan_to_otio import build_timeline
from resolve_bridge.apply import timeline_names
from resolve_bridge.errors import ResolveBuildError, ResolveRateLockedError
from resolve_bridge.fake import FakeResolve, FakeSwitches
from resolve_bridge.spec import source_length_for
from resolve_bridge.timeline_builder import build_in_resolve, spec_from_otio
from tests.resolve.helpers import seeded_fake, three_track_plan


def _items(timeline, kind: str, index: int):
    return timeline.GetItemListInTrack(kind, index)


def test_three_track_mixed_rate_plan_lands_frame_for_frame(tmp_path: Path) -> None:
    plan, analysis = three_track_plan(tmp_path)
    fake = seeded_fake(tmp_path)
    result = build_in_resolve(fake, build_timeline(plan, analysis), method="append")
    assert result.ok, result.lines()
    assert result.placed == result.expected == len(plan.cuts) + 1  # + the music bed
    appends = [n for call, n in fake.calls if call == "AppendToTimeline"]
    assert appends == [1, 2, 3, 2]  # one batched call per track (A1, V1, V2, V3)
    timeline = fake.project.GetCurrentTimeline()
    assert timeline.GetName() == "Three tracks"
    assert timeline.GetSetting("timelineFrameRate") == "23.976"
    assert timeline.GetStartFrame() == plan.start_frame == 86400
    assert timeline.GetTrackCount("video") == 3 and timeline.GetTrackCount("audio") == 1
    for track in (1, 2, 3):
        cuts = sorted((c for c in plan.cuts if c.track == track), key=lambda c: c.record_in)
        items = _items(timeline, "video", track)
        assert len(items) == len(cuts)
        for cut, item in zip(cuts, items):
            media = analysis.clip(cut.clip_id).media
            assert item.GetStart() == plan.start_frame + cut.record_in
            assert item.GetDuration() == cut.record_duration
            assert item.GetLeftOffset() == cut.source_in
            assert item.GetMediaPoolItem().GetClipProperty("File Path") == str(media.path)
            # source in, in media time, includes the embedded start TC exactly once
            assert item.GetSourceStartTime() == pytest.approx(float((media.start_frame + cut.source_in) / media.rate))
            assert item.GetTrackTypeAndIndex() == ["video", track]
    (music,) = _items(timeline, "audio", 1)
    assert (music.GetStart(), music.GetDuration()) == (86400, 201)


def test_markers_land_on_the_right_frames(tmp_path: Path) -> None:
    plan, analysis = three_track_plan(tmp_path)
    fake = seeded_fake(tmp_path)
    result = build_in_resolve(fake, build_timeline(plan, analysis))
    assert result.markers_added == result.markers_expected == 3
    markers = fake.project.GetCurrentTimeline().GetMarkers()
    assert sorted(markers) == [0.0, 24.0, 96.0]  # relative to the timeline start, not absolute
    assert markers[0.0]["color"] == "Red" and markers[24.0]["color"] == "Blue"
    assert markers[96.0] == {
        "color": "Purple",
        "duration": 48.0,
        "note": "section",
        "name": "peak",
        "customData": "montage-bridge:section",
    }


def test_dropped_and_moved_clips_are_detected_and_reported(tmp_path: Path) -> None:
    plan, analysis = three_track_plan(tmp_path)
    fake = seeded_fake(tmp_path, switches=FakeSwitches(drop_clip_names={"b_25.mov"}, nudge_clip_names={"c_2997.mov"}))
    result = build_in_resolve(fake, build_timeline(plan, analysis))
    assert not result.ok
    assert len(result.dropped) == 3 + 2  # b_25's three cuts vanish; c_2997's two are not where they belong
    assert any(d.startswith("b_25.mov on V2 at 01:00:00:12") for d in result.dropped)
    assert any("unexpected item c_2997.mov on V3 at 01:00:01:07" in m for m in result.mismatched)
    assert "dropped: b_25.mov on V2 at 01:00:00:12" in result.lines()


def test_existing_timeline_is_never_overwritten(tmp_path: Path) -> None:
    plan, analysis = three_track_plan(tmp_path)
    fake = seeded_fake(tmp_path)
    timeline = build_timeline(plan, analysis)
    build_in_resolve(fake, timeline)
    second = build_in_resolve(fake, timeline)
    assert second.timeline_name == "Three tracks 2" and second.ok
    assert timeline_names(fake.project) == ["Three tracks", "Three tracks 2"]
    assert "built 'Three tracks 2' beside it" in " ".join(second.warnings)


def test_locked_project_rate_is_reported_clearly(tmp_path: Path) -> None:
    plan, analysis = three_track_plan(tmp_path)
    fake = seeded_fake(tmp_path)
    fake.project.SetSetting("timelineFrameRate", "25")
    fake.media_pool.CreateEmptyTimeline("Existing")
    # The per-timeline custom rate works: the build goes ahead at 23.976 in a 25 fps project.
    result = build_in_resolve(fake, build_timeline(plan, analysis))
    assert result.ok
    assert fake.project.GetCurrentTimeline().GetSetting("timelineFrameRate") == "23.976"
    # When custom timeline settings are refused too, the error says what and what to do.
    fake2 = seeded_fake(tmp_path)
    fake2.project.SetSetting("timelineFrameRate", "25")
    fake2.media_pool.CreateEmptyTimeline("Existing")
    original = type(fake2.project.GetCurrentTimeline()).SetSetting
    try:
        type(fake2.project.GetCurrentTimeline()).SetSetting = lambda self, k, v: False
        with pytest.raises(ResolveRateLockedError, match=r"locked at 25 fps .* plan is 23\.976 fps .*New Project"):
            build_in_resolve(fake2, build_timeline(plan, analysis))
    finally:
        type(fake2.project.GetCurrentTimeline()).SetSetting = original
    assert timeline_names(fake2.project) == ["Existing"]  # the half-made timeline was removed


def test_slower_source_on_faster_timeline_warns_when_resolve_cannot_be_exact(tmp_path: Path) -> None:
    # 23.976 on 29.97: every source frame is 1.25 timeline frames; 4 timeline frames cannot be made.
    assert source_length_for(4, Fraction(30000, 1001), Fraction(24000, 1001)) == (3, 3)
    assert source_length_for(5, Fraction(30000, 1001), Fraction(24000, 1001)) == (4, 5)
    for duration in range(1, 400):  # faster sources always fit exactly, with the fewest source frames
        n, made = source_length_for(duration, Fraction(24000, 1001), Fraction(25))
        assert made == duration and n >= rescale_frames(duration, Fraction(24000, 1001), Fraction(25)) - 1
    plan, analysis = three_track_plan(tmp_path, Fraction(30000, 1001))
    spec = spec_from_otio(build_timeline(plan, analysis))
    fake = seeded_fake(tmp_path)
    result = build_in_resolve(fake, build_timeline(plan, analysis))
    short = [w for w in spec.warnings if "rounds a 24000/1001 fps clip down" in w]
    assert short and result.ok  # what Resolve makes is what the spec predicted, and the user was told
    assert all(w in result.warnings for w in short)


def test_import_path_otio_verifies_the_same_way(sample_media: Path, facts: dict, tmp_path: Path) -> None:
    from analysis.models import AnalysisResult, ClipAnalysis, Shot
    from kernel.probe import probe_media
    from planner.models import Cut, EditPlan, PlanMarker

    clips = []
    for path in sorted((sample_media / "footage").iterdir()):
        item = probe_media(path)
        clips.append(ClipAnalysis(id=path.stem, media=item, shots=[Shot(start=0, end=item.frames)]))
    rate = Fraction(25)
    cuts = []
    for track, clip in enumerate(clips, 1):
        length = rescale_frames(50, rate, clip.media.rate)
        cuts.append(
            Cut(
                clip_id=clip.id,
                track=track,
                source_in=20,
                source_out=20 + length,
                record_in=10 * track,
                record_out=10 * track + 50,
            )
        )
    plan = EditPlan(
        name="Imported", rate=rate, cuts=cuts, markers=[PlanMarker(frame=5, name="n", kind="note")], planner="t"
    )
    timeline = build_timeline(plan, AnalysisResult(clips=clips))
    fake = FakeResolve("21")
    result = build_in_resolve(fake, timeline, method="import", work_dir=tmp_path)
    assert result.method == "import" and result.ok, result.lines()
    assert (tmp_path / "Imported.otio").is_file()
    built = next(t for t in fake.project._timelines if t.GetName() == "Imported")
    for cut in cuts:
        (item,) = built.GetItemListInTrack("video", cut.track)
        assert item.GetStart() == 90000 + cut.record_in and item.GetDuration() == 50 and item.GetLeftOffset() == 20
    assert [n for n, _ in fake.calls] == ["ImportTimelineFromFile"]  # no AppendToTimeline on this path
    # The note marker lies in V1's leading gap (V1 starts at frame 10): with no clip under it,
    # plan_to_otio keeps it as a timeline marker, and Resolve gets it at its own frame.
    assert result.markers_expected == 1 and result.markers_added == 1
    assert [(int(f), m["name"]) for f, m in built.GetMarkers().items()] == [(5, "n")]
    # the imported file is "Resolve-shaped": bare paths, absolute source ranges with start TC
    text = (tmp_path / "Imported.otio").read_text()
    assert '"target_url": "/' in text and "file://" not in text


def test_pre_18_5_builds_through_a_file_and_says_why(tmp_path: Path, sample_media: Path) -> None:
    from analysis.models import AnalysisResult, ClipAnalysis, Shot
    from kernel.probe import probe_media
    from planner.models import Cut, EditPlan

    item = probe_media(sample_media / "footage" / "city_25.mov")
    clip = ClipAnalysis(id="city", media=item, shots=[Shot(start=0, end=item.frames)])
    plan = EditPlan(
        name="Old",
        rate=Fraction(25),
        cuts=[Cut(clip_id="city", source_in=10, source_out=60, record_in=0, record_out=50)],
        planner="t",
    )
    fake = FakeResolve("18.0")
    result = build_in_resolve(fake, build_timeline(plan, AnalysisResult(clips=[clip])), work_dir=tmp_path)
    assert result.method == "import"
    assert "cannot place clips on a chosen track and frame" in result.warnings[0]
    assert "18.5" in result.warnings[0]
    assert result.ok, result.lines()
    with pytest.raises(ResolveBuildError, match="does not import OTIO"):
        build_in_resolve(
            fake, build_timeline(plan, AnalysisResult(clips=[clip])), method="import", import_format="otio"
        )
    with pytest.raises(ResolveBuildError, match="18.5"):
        build_in_resolve(fake, build_timeline(plan, AnalysisResult(clips=[clip])), method="append")


def test_flagged_clips_are_colour_coded(tmp_path: Path) -> None:
    plan, analysis = three_track_plan(tmp_path)
    timeline = build_timeline(plan, analysis)
    first = timeline.video_tracks()[0].find_clips()[0]
    meta = dict(first.metadata["montage_bridge"])
    meta["flags"] = ["shaky"]
    first.metadata["montage_bridge"] = meta
    fake = seeded_fake(tmp_path)
    assert build_in_resolve(fake, timeline).ok
    items = fake.project.GetCurrentTimeline().GetItemListInTrack("video", 1)
    assert [i.GetClipColor() for i in items] == ["Orange", ""]


def test_a_timeline_that_cannot_be_set_up_is_removed(tmp_path: Path) -> None:
    plan, analysis = three_track_plan(tmp_path)
    fake = seeded_fake(tmp_path, profile="21")
    timeline_type = type(fake.media_pool.CreateEmptyTimeline("probe"))
    fake.media_pool.DeleteTimelines([fake.project.GetTimelineByIndex(1)])
    original = timeline_type.AddTrack
    try:
        timeline_type.AddTrack = lambda self, kind, sub=None: False  # e.g. a locked project
        with pytest.raises(ResolveBuildError, match="would not add video track 2"):
            build_in_resolve(fake, build_timeline(plan, analysis))
    finally:
        timeline_type.AddTrack = original
    assert timeline_names(fake.project) == []


def test_drop_frame_timeline_starts_at_107892(tmp_path: Path) -> None:
    plan, analysis = three_track_plan(tmp_path, Fraction(30000, 1001))
    plan.drop_frame, plan.start_timecode = True, "01:00:00;00"
    fake = seeded_fake(tmp_path)
    result = build_in_resolve(fake, build_timeline(plan, analysis))
    timeline = fake.project.GetCurrentTimeline()
    assert timeline.GetSetting("timelineFrameRate") == "29.97 DF" and timeline.GetStartFrame() == 107892
    first = timeline.GetItemListInTrack("video", 3)[0]
    assert first.GetStart() == 107892 + 30 and result.placed == result.expected


def test_dissolves_are_named_and_dialogue_lands_on_a2(tmp_path: Path) -> None:
    from planner.models import Transition

    plan, analysis = three_track_plan(tmp_path)
    cuts = list(plan.cuts)
    first, second = cuts[0], cuts[1]  # a_2398 on V1, back to back at frame 48
    cuts[1] = second.model_copy(update={"transition_in": Transition(kind="dissolve", frames=8)})
    cuts.append(first.model_copy(update={"kind": "audio", "track": 1}))
    plan = plan.model_copy(update={"cuts": cuts})
    fake = seeded_fake(tmp_path)
    result = build_in_resolve(fake, build_timeline(plan, analysis), method="append")
    assert result.ok, result.lines()
    assert any("1 dissolve(s) are hard cuts in Resolve" in w for w in result.warnings)
    timeline = fake.project.GetCurrentTimeline()
    assert timeline.GetTrackCount("audio") == 2
    (speech,) = _items(timeline, "audio", 2)
    assert (speech.GetStart(), speech.GetDuration(), speech.GetLeftOffset()) == (
        plan.start_frame + first.record_in,
        first.record_duration,
        first.source_in,
    )
