"""The interchange defects the A → B → A matrix found (issue #11), each pinned on its own.

The matrix (test_format_matrix.py) shows each of these as "frame-exact or named by the loss report";
the tests here check the exact fact behind each fix against something we did not write: the corpus
file's own numbers, pycmx, or the shape a Premiere/FCP export has.
"""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio

from nle_adapters.convert import read_timelines
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
