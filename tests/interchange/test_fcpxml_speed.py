"""FCPXML speed changes (``timeMap``): read as OTIO LinearTimeWarp with the media in point the map
gives, carried to an EDL as M2, and reported as a loss where a format cannot hold them."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from nle_adapters.convert import ConvertOptions, convert
from nle_adapters.errors import TimelineParseError
from nle_adapters.fcpxml.reader import read_fcpxml_string

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n<fcpxml version="1.10"><resources>'
FMT = '<format id="r1" frameDuration="1/25s" width="1920" height="1080"/>'
ASSET = '<asset id="r2" name="run" start="0s" duration="60s" hasVideo="1" format="r1"><media-rep src="file:///m/run.mov"/></asset>'


def doc(spine: str) -> str:
    return (
        f'{HEAD}{FMT}{ASSET}</resources><library><event name="e"><project name="p">'
        f'<sequence format="r1" duration="10s" tcStart="0s"><spine>{spine}</spine></sequence>'
        "</project></event></library></fcpxml>"
    )


def clip_of(text: str) -> otio.schema.Clip:
    timeline = read_fcpxml_string(text)
    if not isinstance(timeline, otio.schema.Timeline):
        timeline = next(iter(timeline.find_children(descended_from_type=otio.schema.Timeline)))
    return next(iter(timeline.find_clips()))


# 2x: the clip's adjusted time t plays media time 2t; it starts at adjusted 5 s = media 10 s.
DOUBLE = (
    '<asset-clip ref="r2" offset="0s" start="5s" duration="2s" name="fast">'
    '<timeMap><timept time="0s" value="0s" interp="linear"/><timept time="30s" value="60s" interp="linear"/></timeMap>'
    '<marker start="6s" duration="1/25s" value="mid"/></asset-clip>'
)


def test_linear_retime_reads_as_a_time_warp_from_the_right_frame() -> None:
    clip = clip_of(doc(DOUBLE))
    assert [type(e) for e in clip.effects] == [otio.schema.LinearTimeWarp]
    assert clip.effects[0].time_scalar == 2.0
    assert clip.source_range.start_time.to_frames() == 250  # media 10 s at 25 fps
    assert clip.source_range.duration.to_frames() == 50  # 2 s on the timeline
    # A marker 1 s into the clip (timeline time) stays 1 s after the clip's first frame.
    assert clip.markers[0].marked_range.start_time.to_frames() == 275
    assert clip.metadata["fcpxml"]["speed"] == 2.0 and "time_map" not in clip.metadata["fcpxml"]


def test_speed_ramp_keeps_its_points_and_starts_where_the_ramp_says() -> None:
    ramp = (
        '<asset-clip ref="r2" offset="0s" start="2s" duration="6s" name="ramp"><timeMap>'
        '<timept time="0s" value="0s" interp="smooth2"/><timept time="4s" value="4s" interp="smooth2"/>'
        '<timept time="8s" value="16s" interp="smooth2"/></timeMap></asset-clip>'
    )
    clip = clip_of(doc(ramp))
    assert clip.effects[0].time_scalar == 2.0  # 16 s of media over 8 s: the average speed
    assert clip.source_range.start_time.to_frames() == 50  # adjusted 2 s is still in the 1x part
    assert [list(p) for p in clip.metadata["fcpxml"]["time_map"]] == [["0", "0"], ["4", "4"], ["8", "16"]]


def test_freeze_frame_and_a_broken_map() -> None:
    hold = (
        '<asset-clip ref="r2" offset="0s" start="0s" duration="2s" name="hold">'
        '<timeMap><timept time="0s" value="3s"/><timept time="2s" value="3s"/></timeMap></asset-clip>'
    )
    clip = clip_of(doc(hold))
    assert [type(e) for e in clip.effects] == [otio.schema.FreezeFrame]
    assert clip.source_range.start_time.to_frames() == 75
    broken = (
        '<asset-clip ref="r2" offset="0s" duration="2s"><timeMap><timept time="0s" value="3s"/></timeMap></asset-clip>'
    )
    with pytest.raises(TimelineParseError, match=r":\d+: <timeMap> needs two or more"):
        read_fcpxml_string(doc(broken))


def test_retimed_fcpxml_to_edl_keeps_the_speed_and_xmeml_reports_it(tmp_path: Path) -> None:
    source = tmp_path / "fast.fcpxml"
    source.write_text(doc(DOUBLE))
    edl = tmp_path / "fast.edl"
    (report,) = convert(source, edl, ConvertOptions())
    text = edl.read_text()
    assert "M2   " in text and "050.0" in text  # 2x at 25 fps
    back = otio.adapters.read_from_file(str(edl), adapter_name="mb_cmx3600", rate="25")
    clip = next(iter(back.find_clips()))
    assert [round(e.time_scalar, 3) for e in clip.effects] == [2.0]
    assert clip.source_range.start_time.to_frames() == 250

    (xml_report,) = convert(source, tmp_path / "fast.xml", ConvertOptions())
    assert any(item.feature == "speed changes" and item.count == 1 for item in xml_report.losses)


def test_retimed_compound_clip_keeps_its_speed_and_in_point() -> None:
    """timeMap is allowed on ref-clip (and mc-clip) too: the nested sequence starts where the map says."""
    media = (
        '<media id="m1" name="compound"><sequence format="r1" duration="20s" tcStart="0s"><spine>'
        '<asset-clip ref="r2" offset="0s" start="0s" duration="20s"/></spine></sequence></media>'
    )
    text = (
        f'{HEAD}{FMT}{ASSET}{media}</resources><library><event name="e"><project name="p">'
        '<sequence format="r1" duration="2s" tcStart="0s"><spine>'
        '<ref-clip ref="m1" offset="0s" start="3s" duration="2s" name="fast compound">'
        '<timeMap><timept time="0s" value="0s"/><timept time="10s" value="20s"/></timeMap></ref-clip>'
        "</spine></sequence></project></event></library></fcpxml>"
    )
    timeline = read_fcpxml_string(text)
    if not isinstance(timeline, otio.schema.Timeline):
        timeline = next(iter(timeline.find_children(descended_from_type=otio.schema.Timeline)))
    stack = timeline.video_tracks()[0][0]
    assert isinstance(stack, otio.schema.Stack)
    assert [type(e) for e in stack.effects] == [otio.schema.LinearTimeWarp]
    assert stack.effects[0].time_scalar == 2.0
    assert stack.source_range.start_time.to_frames() == 150  # adjusted 3 s = compound time 6 s at 25 fps
