"""Property round trips: timeline → xmeml (v4 and v5) → timeline is frame-exact.

xmeml can hold everything the generator makes except marker colours and exact mixed-rate in points
(``in``/``out`` are sequence-rate frames, as Premiere and Resolve read them); an uneven dissolve
comes back re-centred, which shows the same frames: the expectation is re-centred the same way.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import opentimelineio as otio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nle_adapters.loss_report import analyze_losses
from nle_adapters.timeline_facts import frames_at, timeline_rate
from nle_adapters.xmeml import read_xmeml, write_xmeml
from tests.interchange.timelines import Features, assert_same_timeline, timelines

XMEML = Features(mixed_rates=False, marker_colors=False)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _recentre(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """Move each uneven dissolve's cut to the middle, keeping the frames on screen the same."""
    timeline = copy.deepcopy(timeline)
    rate = timeline_rate(timeline)
    for track in timeline.tracks:
        items = list(track)
        for i, item in enumerate(items):
            if not isinstance(item, otio.schema.Transition):
                continue
            a, b = frames_at(item.in_offset, rate), frames_at(item.out_offset, rate)
            if a == 0 or b == 0 or a == b:
                continue
            delta = (a + b) // 2 - a  # new cut minus old cut
            prev, nxt = items[i - 1], items[i + 1]
            prev.source_range = otio.opentime.TimeRange(
                prev.source_range.start_time,
                prev.source_range.duration + otio.opentime.RationalTime(delta, float(rate)),
            )
            start = nxt.source_range.start_time
            nxt.source_range = otio.opentime.TimeRange(
                otio.opentime.RationalTime(start.value + delta, start.rate),
                nxt.source_range.duration - otio.opentime.RationalTime(delta, float(rate)),
            )
            item.in_offset = otio.opentime.RationalTime(a + delta, float(rate))
            item.out_offset = otio.opentime.RationalTime(b - delta, float(rate))
    return timeline


@SETTINGS
@given(timeline=timelines(XMEML), version=st.sampled_from([4, 5]))
def test_xmeml_round_trip_is_frame_exact(timeline: otio.schema.Timeline, version: int) -> None:
    before = timeline.to_json_string()
    text = write_xmeml(timeline, version=version)
    assert timeline.to_json_string() == before  # the writer never touches its input
    assert_same_timeline(_recentre(timeline), read_xmeml(text), XMEML)


@SETTINGS
@given(timeline=timelines(Features(mixed_rates=False, transitions=False)))
def test_xmeml_structure_unique_ids_files_once_format_links(timeline: otio.schema.Timeline) -> None:
    root = ET.fromstring(write_xmeml(timeline, version=4))
    ids = [c.get("id") for c in root.iter("clipitem")]
    assert len(ids) == len(set(ids)) == len(list(timeline.find_clips()))
    full_files = [f.get("id") for f in root.iter("file") if len(f)]
    assert len(full_files) == len(set(full_files))
    for f in root.iter("file"):
        assert f.get("id") in full_files
    assert root.find("project/children/sequence/media/video/format/samplecharacteristics") is not None
    for url in (f.findtext("pathurl") for f in root.iter("file") if len(f)):
        assert url.startswith("file://localhost/")
    for clip in root.iter("clipitem"):
        for link in clip.findall("link"):
            assert link.findtext("linkclipref") in ids


def test_identical_clips_stay_separate_and_link_video_to_audio() -> None:
    """The upstream writer collapses identical clips into empty back-references (OTIO #1796)."""
    rate = 25.0
    ref = otio.schema.ExternalReference(
        target_url="file:///media/shot%201.mov",
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(90000, rate), otio.opentime.RationalTime(500, rate)
        ),
    )
    timeline = otio.schema.Timeline(name="dup")
    timeline.global_start_time = otio.opentime.RationalTime(90000, rate)
    for kind in (otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio):
        track = otio.schema.Track(kind=kind)
        for _ in range(2):
            track.append(
                otio.schema.Clip(
                    name="shot 1",
                    media_reference=copy.deepcopy(ref),
                    source_range=otio.opentime.TimeRange(
                        otio.opentime.RationalTime(90010, rate), otio.opentime.RationalTime(50, rate)
                    ),
                )
            )
        timeline.tracks.append(track)
    root = ET.fromstring(write_xmeml(timeline, version=5))
    clips = list(root.iter("clipitem"))
    assert len(clips) == 4 and all(c.findtext("start") is not None for c in clips)
    assert [c.findtext("start") for c in clips] == ["0", "50", "0", "50"]
    assert len([f for f in root.iter("file") if len(f)]) == 1
    assert root.find("sequence/timecode/string").text == "01:00:00:00"
    assert root.find(".//file/pathurl").text == "file:///media/shot%201.mov"
    assert root.find(".//file/timecode/frame").text == "90000"
    first_video_links = [link.findtext("linkclipref") for link in clips[0].findall("link")]
    assert first_video_links == ["clipitem-1", "clipitem-3"]
    back = read_xmeml(ET.tostring(root))
    assert [frames_at(c.source_range.start_time, 25) for c in back.find_clips()] == [90010] * 4


def test_drop_frame_and_windows_paths_for_premiere() -> None:
    rate = 30000 / 1001
    timeline = otio.schema.Timeline(name="df")
    timeline.global_start_time = otio.opentime.RationalTime(107892, rate)
    timeline.metadata["montage_bridge"] = {"rate": "30000/1001", "drop_frame": True}
    track = otio.schema.Track()
    track.append(
        otio.schema.Clip(
            name="c",
            media_reference=otio.schema.ExternalReference(target_url="file:///D:/media/a%20b.mov"),
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(30, rate)
            ),
        )
    )
    timeline.tracks.append(track)
    root = ET.fromstring(write_xmeml(timeline, version=4))
    assert root.find(".//sequence/timecode/string").text == "01:00:00;00"
    assert root.find(".//sequence/timecode/displayformat").text == "DF"
    assert root.find(".//sequence/rate/ntsc").text == "TRUE"
    assert root.find(".//file/pathurl").text == "file://localhost/D%3a/media/a%20b.mov"
    losses = analyze_losses(timeline, "xml")
    assert losses == []
