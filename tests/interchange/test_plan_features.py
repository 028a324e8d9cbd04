"""A plan's dissolves, J/L audio cuts and markers survive build_timeline and every format we write.

One hand-made plan (so every expected frame is known): four picture cuts with two dissolves (one
odd-length, so uneven offsets), two dialogue cuts offset from the picture (an L cut), and markers of
every kind, with and without a music bed. Each format is written and read back; what a format
cannot hold must be named by the loss report.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from analysis.models import AnalysisResult, ClipAnalysis, MusicAnalysis, Shot
from kernel.media import MediaItem
from kernel.timebase import rescale_frames
from montage_bridge.pipeline import _not_in_timeline
from nle_adapters.formats import get_format
from nle_adapters.loss_report import analyze_losses
from nle_adapters.plan_to_otio import MUSIC_MARKER_KINDS, TimelineBuildError, build_timeline
from nle_adapters.write_files import serialize_timeline
from planner.models import Cut, EditPlan, MusicBed, PlanMarker, Transition
from tests.interchange.test_edl_roundtrip import _as_edl_holds_it
from tests.interchange.timelines import Features, assert_same_timeline, frames_at, timeline_rate
from tests.planner.synth import make_music

RATE = Fraction(25)
FORMATS = ("otio", "fcpxml", "xml", "edl")
# What each format must bring back frame for frame (the switched-off parts are in the loss report).
KEEPS = {
    "otio": Features(),
    "fcpxml": Features(marker_colors=False),
    "xml": Features(marker_colors=False),
    "edl": Features(mixed_rates=False, disabled_clips=False),
}


def _clip(i: int, start_frame: int, rate: Fraction = RATE) -> ClipAnalysis:
    media = MediaItem(
        path=Path(f"/media/card/clip{i}.mov"),
        name=f"clip{i}.mov",
        rate=rate,
        frames=500,
        start_frame=start_frame,
        width=1920,
        height=1080,
        audio_channels=2,
        audio_sample_rate=48000,
    )
    return ClipAnalysis(id=f"clip{i}", media=media, shots=[Shot(start=0, end=500)])


CLIPS = [_clip(0, 90000), _clip(1, 0), _clip(2, 360000)]  # start TCs 01:00:00:00, 00:00:00:00, 04:00:00:00


def _dissolve(frames: int) -> Transition:
    return Transition(kind="dissolve", frames=frames)


PICTURE = [
    Cut(clip_id="clip0", source_in=100, source_out=200, record_in=0, record_out=100),
    Cut(clip_id="clip1", source_in=50, source_out=150, record_in=100, record_out=200, transition_in=_dissolve(10)),
    Cut(clip_id="clip2", source_in=200, source_out=260, record_in=200, record_out=260),
    Cut(clip_id="clip0", source_in=300, source_out=340, record_in=260, record_out=300, transition_in=_dissolve(11)),
]
# L cut: clip0's sound runs 6 frames under clip1's picture.
DIALOGUE = [
    Cut(clip_id="clip0", kind="audio", source_in=100, source_out=206, record_in=0, record_out=106),
    Cut(clip_id="clip1", kind="audio", source_in=56, source_out=150, record_in=106, record_out=200),
]
MARKERS = [
    *(PlanMarker(frame=f, name=f"beat {f}") for f in range(0, 300, 50)),
    PlanMarker(frame=100, name="bar 3", kind="downbeat", color="RED"),
    PlanMarker(frame=200, name="chorus", kind="section", color="PURPLE"),
    PlanMarker(frame=150, name="Interview", kind="chapter", color="GREEN"),
    PlanMarker(frame=270, name="check focus", kind="note", color="YELLOW", duration=5),
]


def _plan(music: MusicAnalysis | None) -> tuple[EditPlan, AnalysisResult]:
    plan = EditPlan(
        name="Features",
        rate=RATE,
        cuts=PICTURE + DIALOGUE,
        markers=MARKERS,
        planner="test",
        music=MusicBed(path=str(music.path), record_out=300) if music else None,
    )
    return plan, AnalysisResult(clips=CLIPS, music=music)


def _read_back(timeline: otio.schema.Timeline, fmt: str) -> otio.schema.Timeline:
    kwargs = {"rate": "25"} if fmt == "edl" else {}
    return otio.adapters.read_from_string(serialize_timeline(timeline, fmt), get_format(fmt).adapter, **kwargs)


def _marker_frames(timeline: otio.schema.Timeline) -> list[tuple[int, str, int]]:
    """Every clip and timeline marker as (timeline frame, name, length in timeline frames)."""
    rate = timeline_rate(timeline)
    found = [(frames_at(m.marked_range.start_time, rate, "marker"), m.name, 0) for m in timeline.tracks.markers]
    for track in timeline.tracks:
        # Gaps too: FCPXML keeps a timeline marker on the primary gap under it.
        for item in track.find_children(descended_from_type=otio.core.Item, shallow_search=True):
            record_in = frames_at(track.range_of_child(item).start_time, rate, "record in")
            media_rate = Fraction(item.source_range.start_time.rate).limit_denominator(1001)
            for m in item.markers:
                offset = frames_at(m.marked_range.start_time - item.source_range.start_time, media_rate, "offset")
                length = frames_at(m.marked_range.duration, media_rate, "marker length")
                found.append((record_in + rescale_frames(offset, media_rate, rate), m.name, length))
    return sorted(found)


def _dissolve_spans(timeline: otio.schema.Timeline) -> list[tuple[str, int, int]]:
    """Every transition as (track name, first frame, end frame) on the timeline: format-independent
    (an EDL moves the cut to the dissolve's start but shows the same frames)."""
    rate = timeline_rate(timeline)
    spans = []
    for track in timeline.tracks:
        position = 0  # the cut point: transitions take no time on an OTIO track
        for item in track:
            if isinstance(item, otio.schema.Transition):
                first = position - frames_at(item.in_offset, rate, "in offset")
                spans.append((track.name, first, position + frames_at(item.out_offset, rate, "out offset")))
            else:
                position += frames_at(item.source_range.duration, rate, "duration")
    return spans


def _cuts_on(track: otio.schema.Track, rate: Fraction) -> list[tuple[str, int, int, int]]:
    """(clip file name, record in, record out, source in in media time) for each clip."""
    out = []
    for clip in track.find_clips():
        rng = track.range_of_child(clip)
        start = frames_at(rng.start_time, rate, "record in")
        media_rate = Fraction(clip.source_range.start_time.rate).limit_denominator(1001)
        source_in = frames_at(clip.source_range.start_time, media_rate, "source in")
        out.append((clip.name, start, start + frames_at(rng.duration, rate, "duration"), source_in))
    return out


SPEECH = [("clip0.mov", 0, 106, 90100), ("clip1.mov", 106, 200, 56)]  # media time: start TC included
EXPECTED_DISSOLVES = [("V1", 95, 105), ("V1", 255, 266)]  # centred: frames // 2 before the cut


@pytest.mark.parametrize("with_music", [True, False], ids=["music", "no-music"])
def test_build_timeline_places_dissolves_dialogue_and_markers(with_music: bool) -> None:
    plan, analysis = _plan(make_music(120, 20) if with_music else None)
    timeline = build_timeline(plan, analysis)
    names = [(t.name, t.kind) for t in timeline.tracks]
    dialogue = "A2" if with_music else "A1"
    assert names == [("V1", "Video")] + ([("A1", "Audio")] if with_music else []) + [(dialogue, "Audio")]
    video = timeline.video_tracks()[0]
    assert _cuts_on(video, RATE) == [
        ("clip0.mov", 0, 100, 90100),
        ("clip1.mov", 100, 200, 50),
        ("clip2.mov", 200, 260, 360200),
        ("clip0.mov", 260, 300, 90300),
    ]
    assert _dissolve_spans(timeline) == EXPECTED_DISSOLVES
    # The handles each dissolve plays lie inside the media.
    items = list(video)
    for i, item in enumerate(items):
        if isinstance(item, otio.schema.Transition):
            before, after = items[i - 1], items[i + 1]
            assert after.source_range.start_time - item.in_offset >= after.media_reference.available_range.start_time
            assert (
                before.source_range.end_time_exclusive() + item.out_offset
                <= before.media_reference.available_range.end_time_exclusive()
            )
    speech = next(t for t in timeline.tracks if t.name == dialogue)
    assert _cuts_on(speech, RATE) == SPEECH
    # Every plan marker on a clip, at its own frame; music markers on the bed when there is one.
    assert _marker_frames(timeline) == sorted((m.frame, m.name, m.duration) for m in MARKERS)
    assert not timeline.tracks.markers
    if with_music:
        bed = timeline.audio_tracks()[0].find_clips()[0]
        assert sorted(m.name for m in bed.markers) == sorted(m.name for m in MARKERS if m.kind in MUSIC_MARKER_KINDS)
        on_picture = {m.name for c in video.find_clips() for m in c.markers}
        assert on_picture == {"Interview", "check focus"}
    assert _not_in_timeline(plan, timeline) == []


def test_reference_metadata_records_what_the_media_holds() -> None:
    plan, analysis = _plan(make_music(120, 20))
    timeline = build_timeline(plan, analysis)
    picture = timeline.video_tracks()[0].find_clips()[0].media_reference.metadata["montage_bridge"]
    assert picture == {
        "rate": "25",
        "has_video": True,
        "has_audio": True,
        "width": 1920,
        "height": 1080,
        "audio_channels": 2,
        "audio_sample_rate": 48000,
        "drop_frame": False,  # the camera's timecode counting (it has a start TC): NDF
    }
    music = timeline.audio_tracks()[0].find_clips()[0].media_reference.metadata["montage_bridge"]
    assert music == {
        "rate": "25",
        "has_video": False,
        "has_audio": True,
        "audio_channels": 2,
        "audio_sample_rate": 22050,
    }
    text = serialize_timeline(timeline, "fcpxml")
    assert 'name="clip0" start="3600s" duration="20s" hasVideo="1"' in text
    assert 'audioChannels="2" audioRate="48000"' in text
    assert 'name="song"' in text and 'name="song" start="0s" duration="20s" format=' in text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("with_music", [True, False], ids=["music", "no-music"])
def test_every_format_reads_back_the_plan_features(fmt: str, with_music: bool) -> None:
    plan, analysis = _plan(make_music(120, 20) if with_music else None)
    timeline = build_timeline(plan, analysis)
    back = _read_back(timeline, fmt)
    keeps = KEEPS[fmt]
    assert_same_timeline(_as_edl_holds_it(timeline) if fmt == "edl" else timeline, back, keeps)
    # Format-independent: the same frames dissolve, every marker sits at its plan frame.
    assert _dissolve_spans(back) == EXPECTED_DISSOLVES
    lengths = fmt != "edl"  # LOC markers have no duration
    assert _marker_frames(back) == sorted((m.frame, m.name, m.duration if lengths else 0) for m in MARKERS)
    dialogue = back.audio_tracks()[-1]
    assert _cuts_on(dialogue, RATE) == SPEECH
    # What came back changed is named by the loss report.
    losses = {item.feature for item in analyze_losses(timeline, fmt)}
    if not keeps.marker_colors:
        # FCPXML's own account names each colour ("purple marker colour"); xmeml's says "marker colours".
        assert any("marker colour" in feature for feature in losses), losses
    if fmt == "edl":
        assert {"transition alignment", "marker durations"} <= losses


def test_a_marker_with_no_clip_under_it_becomes_a_timeline_marker() -> None:
    in_gap = PlanMarker(frame=150, name="gap note", kind="note")
    late = PlanMarker(frame=320, name="end card", kind="chapter")
    picture = [PICTURE[0], PICTURE[2].model_copy(update={"record_in": 160, "record_out": 220})]
    plan = EditPlan(name="Gap", rate=RATE, cuts=picture, markers=[in_gap, late], planner="test")
    timeline = build_timeline(plan, AnalysisResult(clips=CLIPS))
    assert [(m.name, m.marked_range.start_time.value) for m in timeline.tracks.markers] == [
        ("gap note", 150),
        ("end card", 320),
    ]
    assert "2 of 2 marker(s) have no clip under them" in _not_in_timeline(plan, timeline)[0]
    assert "timeline markers" in {item.feature for item in analyze_losses(timeline, "edl")}
    for fmt in ("otio", "fcpxml", "xml"):
        assert _marker_frames(_read_back(timeline, fmt)) == [(150, "gap note", 0), (320, "end card", 0)], fmt


def test_a_mixed_rate_marker_lands_on_the_nearest_media_frame() -> None:
    ntsc = _clip(3, 0, Fraction(30000, 1001))
    cut = Cut(
        clip_id="clip3",
        source_in=10,
        source_out=10 + rescale_frames(50, RATE, ntsc.media.rate),
        record_in=0,
        record_out=50,
    )
    plan = EditPlan(name="Mixed", rate=RATE, cuts=[cut], markers=[PlanMarker(frame=49, name="last")], planner="test")
    (clip,) = build_timeline(plan, AnalysisResult(clips=[ntsc])).video_tracks()[0].find_clips()
    (marker,) = clip.markers
    assert marker.marked_range.start_time.value == 10 + rescale_frames(49, RATE, ntsc.media.rate)
    assert marker.marked_range.start_time.value < 10 + rescale_frames(50, RATE, ntsc.media.rate)


@pytest.mark.parametrize(
    ("cuts", "message"),
    [
        (
            [PICTURE[0], PICTURE[1].model_copy(update={"source_in": 3, "source_out": 103})],
            "clip1 has no 5-frame handle before its in point",
        ),
        (
            [
                PICTURE[0].model_copy(update={"source_in": 396, "source_out": 496}),
                PICTURE[1],
            ],
            "clip0 has no 5-frame handle after its out point",
        ),
        (
            [PICTURE[0].model_copy(update={"record_out": 90, "source_out": 190}), PICTURE[1]],
            "no cut ends there to dissolve from",
        ),
        ([PICTURE[0].model_copy(update={"clip_id": "nope"})], "clip 'nope', which is not in the analysis"),
        (
            [PICTURE[0], PICTURE[2].model_copy(update={"record_in": 50, "record_out": 110})],
            "overlaps the cut before it",
        ),
    ],
    ids=["no-head-handle", "no-tail-handle", "gap-before-dissolve", "unknown-clip", "overlap"],
)
def test_plans_the_timeline_cannot_hold_fail_with_one_clear_line(cuts: list[Cut], message: str) -> None:
    plan = EditPlan(name="Bad", rate=RATE, cuts=cuts, planner="test")
    with pytest.raises(TimelineBuildError, match=message):
        build_timeline(plan, AnalysisResult(clips=CLIPS))
