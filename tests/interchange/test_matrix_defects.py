"""The interchange defects the A → B → A matrix found (issue #11), each pinned on its own.

The matrix (test_format_matrix.py) shows each of these as "frame-exact or named by the loss report";
the tests here check the exact fact behind each fix against something we did not write: the corpus
file's own numbers, pycmx, or the shape a Premiere/FCP export has.
"""

from __future__ import annotations

import io
import re
from fractions import Fraction

import opentimelineio as otio
import pycmx
import pytest
from lxml import etree

from nle_adapters.convert import read_timelines
from nle_adapters.edl.common import BLACK_REELS, ReelNames
from nle_adapters.loss_report import analyze_losses
from nle_adapters.timeline_facts import clip_time, frames_at
from tests.conftest import TEST_DATA
from tests.interchange.corpus_files import CORPUS
from tests.interchange.matrix_support import (
    DissolveRow,
    differences,
    loss_features,
    read,
    summarize,
    through,
    unexplained,
    write,
)

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


# --------------------------------------------------------------------------------------------
# xmeml: fades from and to black


def _clip(name: str, start: int, length: int, rate: float = 24.0) -> otio.schema.Clip:
    return otio.schema.Clip(
        name=name,
        media_reference=otio.schema.ExternalReference(
            target_url=f"file:///media/{name}.mov",
            available_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(1000, rate)
            ),
        ),
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(length, rate)
        ),
    )


def _dissolve(before: int, after: int, rate: float = 24.0) -> otio.schema.Transition:
    return otio.schema.Transition(
        name="Cross Dissolve",
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=otio.opentime.RationalTime(before, rate),
        out_offset=otio.opentime.RationalTime(after, rate),
    )


def _one_track(*items: otio.core.Composable) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="fades")
    timeline.global_start_time = otio.opentime.RationalTime(86400, 24.0)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for item in items:
        track.append(item)
    timeline.tracks.append(track)
    return timeline


def test_xmeml_fade_in_after_a_gap_stays_after_the_gap() -> None:
    """fcpx_example V2: clip, gap, fade-in (start-black), clip. The reader put the fade right after the
    first clip and the gap after the fade, so the fade played 24 frames early, on the wrong edit."""
    timeline = _one_track(_clip("a", 100, 48), otio.schema.Gap(duration=otio.opentime.RationalTime(24, 24.0)))
    timeline.tracks[0].extend([_dissolve(0, 12), _clip("b", 200, 48)])
    text = otio.adapters.write_to_string(timeline, "mb_xmeml", version=4)
    back = otio.adapters.read_from_string(text, adapter_name="mb_xmeml")
    items = list(back.tracks[0])
    assert [type(i).__name__ for i in items] == ["Clip", "Gap", "Transition", "Clip"]
    assert items[1].duration().value == 24
    assert (items[2].in_offset.value, items[2].out_offset.value) == (0, 12)
    assert back.tracks[0].range_of_child(items[3]).start_time.value == 72
    assert analyze_losses(timeline, "xml") == []  # nothing moves: the fade starts at the clip's edge
    # The upstream fcp_xml adapter places clip b (and so the fade's cut) at the same frame.
    upstream = otio.adapters.read_from_string(text, adapter_name="fcp_xml")
    b = [c for c in upstream.tracks[0].find_clips() if c.name == "b"][0]
    assert b.range_in_parent().start_time.value == 72


def _dissolve_rows(timeline: otio.schema.Timeline) -> list[tuple[str, DissolveRow]]:
    return [
        (label, row)
        for label, rows in summarize(timeline).tracks.items()
        for row in rows
        if isinstance(row, DissolveRow)
    ]


@pytest.mark.parametrize(
    ("name", "kind", "moved"),
    [
        ("otio-fcpx-xml-adapter__fcpx_example.fcpxml", "fcpxml", 1),  # V1: a centred fade to the gap
        ("otio-fcpx-xml-adapter__fcpx_project.fcpxml", "fcpxml", 1),
        ("otio-aaf-adapter__transitions.aaf", "otio", 6),  # a fade out and a fade in on each of 3 tracks
    ],
)
def test_xmeml_fades_that_move_are_exactly_the_ones_the_loss_report_counts(name: str, kind: str, moved: int) -> None:
    """A fade from (to) black with frames on the gap's side cannot keep its cut in FCP7 XML (start-black
    / end-black begin or end at the clip's edge): each one that moves is counted, and nothing else moves."""
    path = next(p for n, _, p in CORPUS if n == name)
    source = read_timelines(path)[1][0]
    timeline = through(source, kind)
    back = through(timeline, "xmeml")
    changed = [a for a, b in zip(_dissolve_rows(timeline), _dissolve_rows(back)) if a != b]
    assert len(_dissolve_rows(back)) == len(_dissolve_rows(timeline))
    losses = {item.feature: item.count for item in analyze_losses(timeline, "xml")}
    assert len(changed) == losses.get("fades", 0) == moved
    assert "transition alignment" not in losses
    # Besides the fades and the clips beside them, only what the report names differs (marker colours).
    diffs = differences(summarize(timeline), summarize(back))
    assert {d.kind for d in diffs} <= {"dissolve", "marker colour"}
    assert not unexplained(summarize(timeline), summarize(back), set(losses))


# --------------------------------------------------------------------------------------------
# EDL: a leading gap, unique reels, both names of a dissolve


def _edl_timeline(lead: int) -> otio.schema.Timeline:
    """V1 and A1 at 24 fps from 01:00:00:00, each starting ``lead`` (V1) / ``lead + 12`` (A1) frames in."""
    timeline = _one_track(otio.schema.Gap(duration=otio.opentime.RationalTime(lead, 24.0)), _clip("A001_C001", 0, 48))
    timeline.tracks[0].append(_clip("A001_C002", 0, 48))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.extend([otio.schema.Gap(duration=otio.opentime.RationalTime(lead + 12, 24.0)), _clip("A001_C001", 5, 24)])
    timeline.tracks.append(audio)
    return timeline


def test_edl_keeps_a_leading_gap_with_black_from_the_timeline_start() -> None:
    """A leading gap on every track became a later start TC (the first record TC): the EDL now opens
    with a ``BL`` event from the timeline's start, so every reader finds the start and the gap."""
    timeline = _edl_timeline(240)
    (text,) = write(timeline, "edl")
    events = list(pycmx.parse_cmx3600(io.StringIO(text)).events)
    first = events[0].edits[0]
    assert (first.black, first.record_in, first.record_out) == (True, "01:00:00:00", "01:00:10:00")
    assert [e.edits[0].record_in for e in events[1:]] == ["01:00:10:00", "01:00:12:00", "01:00:10:12"]
    back = read(text, "edl", Fraction(24))
    assert frames_at(back.global_start_time, Fraction(24)) == 86400
    diffs = differences(summarize(timeline), summarize(back))
    assert {d.kind for d in diffs} <= {"media range"}  # an EDL does not store media ranges (reported)
    assert not unexplained(summarize(timeline), summarize(back), loss_features(timeline, "edl"))
    # Without a leading gap nothing is added.
    (plain,) = write(_edl_timeline(0), "edl")
    assert not next(pycmx.parse_cmx3600(io.StringIO(plain)).events).edits[0].black


def test_edl_reels_are_unique_per_media_and_keep_stated_reels() -> None:
    """8-character reels cut A001_C001.mov and A001_C002.mov to the same A001_C00: a conform by reel
    was ambiguous. Camera-card names keep their clip (A001C001); other names alike in their first 8
    characters get a short hash; a reel the timeline states (read from an EDL) is kept as is."""
    reels = ReelNames()
    paths = [
        "/card A/A001_C001_0101AB.mov",
        "/card A/A001_C002_0101AB.mov",
        "/day2/Day2_B012_C004.mov",
        "/day2/Day2_B012_C005.mov",
        "/talk/Interview take 1.mov",
        "/talk/Interview take 2.mov",
        "/x/bl.mov",
        "/x/music.wav",
    ]
    for path in paths:
        reels.add(path, path)
    reels.add("clip:tape", "tape clip", stated="TAPE_004")
    got = {path: reels.reel(path) for path in paths}
    assert got["/card A/A001_C001_0101AB.mov"] == "A001C001"
    assert got["/card A/A001_C002_0101AB.mov"] == "A001C002"
    assert (got["/day2/Day2_B012_C004.mov"], got["/day2/Day2_B012_C005.mov"]) == ("B012C004", "B012C005")
    assert got["/x/music.wav"] == "MUSIC"  # unique already: unchanged
    assert reels.reel("clip:tape") == "TAPE_004"
    assert len(set(got.values()) | {"TAPE_004"}) == len(paths) + 1
    assert all(len(r) <= 8 and re.fullmatch(r"[A-Z0-9_]+", r) and r not in BLACK_REELS for r in got.values())


def test_edl_dissolve_names_the_outgoing_and_incoming_clips() -> None:
    """After a dissolve the writer wrote only ``* FROM CLIP NAME`` (the incoming clip), which pycmx
    (like Avid and Resolve) gives to the outgoing half. Now FROM is the outgoing clip and TO the
    incoming one, and our reader names each clip right (and still reads lists with FROM alone)."""
    timeline = _one_track(_clip("outgoing", 100, 48), _dissolve(6, 6), _clip("incoming", 200, 48))
    (text,) = write(timeline, "edl")
    event = list(pycmx.parse_cmx3600(io.StringIO(text)).events)[1]
    assert [(e.clip_name, e.source) for e in event.edits] == [("outgoing", "OUTGOING"), ("incoming", "INCOMING")]
    back = read(text, "edl", Fraction(24))
    assert [c.name for c in back.find_clips()] == ["outgoing", "incoming"]
    legacy = "\n".join(line for line in text.splitlines() if not line.startswith("* TO CLIP NAME"))
    # A list that writes only FROM after a dissolve (this project's, before): FROM names the incoming clip.
    legacy = legacy.replace(
        "FROM CLIP NAME:  outgoing\n* FROM FILE: /media/incoming",
        "FROM CLIP NAME:  incoming\n* FROM FILE: /media/incoming",
    )
    assert [c.name for c in read(legacy, "edl", Fraction(24)).find_clips()] == ["outgoing", "incoming"]
