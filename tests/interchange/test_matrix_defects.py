"""The interchange defects the A → B → A matrix found (issue #11), each pinned on its own.

The matrix (test_format_matrix.py) shows each of these as "frame-exact or named by the loss report";
the tests here check the exact fact behind each fix against something we did not write: the corpus
file's own numbers, pycmx, or the shape a Premiere/FCP export has.
"""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio
from lxml import etree

from nle_adapters.convert import read_timelines
from nle_adapters.loss_report import analyze_losses
from nle_adapters.timeline_facts import clip_time, frames_at
from tests.conftest import TEST_DATA

# --------------------------------------------------------------------------------------------
# xmeml: a marker on a clip of another rate


def test_xmeml_marker_on_a_clip_of_another_rate_lies_in_its_media_time() -> None:
    """empty_name_tags.xml: clipitem-502 (23.976 sequence) plays mymovie.mov, a 24 fps file whose
    timecode starts 00:00:41:00 (frame 984), from ``in`` 52; its unnamed marker is at ``in`` 52 too,
    so it marks the clip's first frame: media frame 984 + 52 at 24 fps. It was read at frame 52 of
    the clipitem's rate, before the media's start, and the xmeml writer then dropped it."""
    _, (timeline,) = read_timelines(TEST_DATA / "fcp7xml" / "otio-fcp-adapter__empty_name_tags.xml")
    rate = Fraction(24000, 1001)
    clip = next(
        c
        for c in timeline.find_clips()
        if c.markers and c.name == "mymovie.mov" and frames_at(c.range_in_parent().start_time, rate) == 1229
    )
    ct = clip_time(clip, rate)
    assert (ct.rate, ct.media_start, ct.source_in) == (Fraction(24), 984, 984 + 52)
    (marker,) = clip.markers
    assert frames_at(marker.marked_range.start_time, Fraction(24)) == ct.source_in
    assert marker.marked_range.duration.value == 0
    # Written as xmeml and read again, it is still there, at the same media frame.
    back = otio.adapters.read_from_string(
        otio.adapters.write_to_string(timeline, "mb_xmeml", version=4), adapter_name="mb_xmeml"
    )
    again = next(
        c
        for c in back.find_clips()
        if c.markers and c.name == "mymovie.mov" and frames_at(c.range_in_parent().start_time, rate) == 1229
    )
    assert frames_at(again.markers[0].marked_range.start_time, Fraction(24)) == 984 + 52


# --------------------------------------------------------------------------------------------
# xmeml: a Track nested directly in a track


def _nested_track_timeline() -> otio.schema.Timeline:
    """OTIO's nested_example shape, small: a clip, then a Track (not a Stack) inside V1, then a clip."""
    rate = 24.0
    timeline = otio.schema.Timeline(name="nested track")
    timeline.global_start_time = otio.opentime.RationalTime(86400, rate)
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)

    def clip(name: str, start: int, length: int) -> otio.schema.Clip:
        return otio.schema.Clip(
            name=name,
            media_reference=otio.schema.ExternalReference(target_url=f"file:///media/{name}.mov"),
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(length, rate)
            ),
        )

    inner = otio.schema.Track(
        name="Inner",
        kind=otio.schema.TrackKind.Video,
        source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(10, rate)),
    )
    inner.append(clip("inside", 471, 10))
    v1.extend([clip("before", 100, 24), inner, clip("after", 200, 24)])
    timeline.tracks.append(v1)
    return timeline


def test_xmeml_writes_a_nested_track_as_a_nested_sequence() -> None:
    """It was dropped (a gap in its place) with no loss line. Premiere's nest is a clipitem holding a
    ``<sequence>``: checked with lxml; the upstream fcp_xml adapter places the nest (it reads nested
    sequences' contents as empty: it looks for tracks under ``<sequence>``, not ``<sequence><media>``)."""
    timeline = _nested_track_timeline()
    text = otio.adapters.write_to_string(timeline, "mb_xmeml", version=4)
    root = etree.fromstring(text.encode())
    (nest,) = root.findall("project/children/sequence/media/video/track/clipitem[sequence]")
    assert (nest.findtext("name"), nest.findtext("start"), nest.findtext("end")) == ("Inner", "24", "34")
    inner = nest.findall("sequence/media/video/track/clipitem")
    assert [(c.findtext("name"), c.findtext("in"), c.findtext("out")) for c in inner] == [("inside", "471", "481")]
    upstream = otio.adapters.read_from_string(text, adapter_name="fcp_xml")
    items = list(upstream.video_tracks()[0])
    assert [type(i).__name__ for i in items] == ["Clip", "Stack", "Clip"]
    assert items[1].range_in_parent().start_time.value == 24
    assert items[1].range_in_parent().duration.value == 10
    ours = otio.adapters.read_from_string(text, adapter_name="mb_xmeml")
    nest_back = list(ours.video_tracks()[0])[1]
    assert [(c.name, c.source_range.start_time.value) for c in nest_back.find_clips()] == [("inside", 471)]


def test_edl_loss_report_names_a_nested_track() -> None:
    """An EDL cannot nest: a Track nested in a track is left out, and the loss report says so."""
    losses = {item.feature: item.count for item in analyze_losses(_nested_track_timeline(), "edl")}
    assert losses.get("nested sequences") == 1
