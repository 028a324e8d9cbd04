"""Every EDL in the corpus reads; clip counts, start TC, rate, DF and media links match the text.

Expectations are computed here by splitting the event lines ourselves, not by the reader.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from kernel.timebase import timecode_to_frames
from nle_adapters.edl import read_edl, write_edl
from nle_adapters.errors import TimelineParseError
from nle_adapters.timeline_facts import frames_at, timeline_rate
from tests.conftest import TEST_DATA

NTSC30, NTSC60 = Fraction(30000, 1001), Fraction(60000, 1001)
# file → (rate the EDL was cut at, drop frame) — from the corpus SOURCES.md and the FCM lines.
FACTS: dict[str, tuple[Fraction, bool]] = {
    "otio-cmx3600-adapter__avid_example.edl": (Fraction(24), False),
    "otio-cmx3600-adapter__premiere_example.edl": (Fraction(24), False),
    "otio-cmx3600-adapter__screening_example.edl": (Fraction(24), False),
    "otio-cmx3600-adapter__speed_effects_small.edl": (Fraction(24), False),
    "otio-cmx3600-adapter__transition_duration.edl": (Fraction(24), False),
    "otio-cmx3600-adapter__multi_audio.edl": (Fraction(24), False),
    "lossless-cut__edl-genius_cmx3600.edl": (NTSC30, True),
    "lossless-cut__edl-genius_cmx3600_5994.edl": (NTSC60, True),
    "lossless-cut__edl-genius_12_16_TL01_MUSIC.edl": (NTSC30, True),
    "lossless-cut__edl-genius_pull001_201109_exr.edl": (Fraction(24), False),
    "lossless-cut__cmx3600_edlx_5994.edl": (NTSC60, True),
}
LOCAL = sorted((TEST_DATA / "edl").glob("*.edl"))
GPL_ONLY = sorted(name for name in FACTS if name.startswith("lossless-cut__"))
TC = r"\d\d[:;]\d\d[:;]\d\d[:;]\d\d"
EVENT = re.compile(rf"^(\d+)\s+(\S+)\s+(\S+)\s+(C|D)\s+(?:\d+\s+)?({TC})\s+({TC})\s+({TC})\s+({TC})")


def _tracks_for(channel: str, aud_extra: int) -> int:
    """How many tracks an event's channel code puts a clip on (V, A, A2, AA, B, AA/V…)."""
    n = 0
    for part in channel.split("/"):
        n += {"V": 1, "A": 1, "AA": 2, "B": 2}.get(part, 1 if re.fullmatch(r"A\d+", part) else 0)
    return n + aud_extra


def _expected(path: Path, rate: Fraction, drop: bool) -> dict:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    clips, first_record, linked = 0, None, 0
    for i, line in enumerate(lines):
        m = EVENT.match(line.strip())
        if not m:
            continue
        rec_in = timecode_to_frames(m[7], rate, drop_frame=drop)
        rec_out = timecode_to_frames(m[8], rate, drop_frame=drop)
        first_record = rec_in if first_record is None else min(first_record, rec_in)
        if rec_out == rec_in or m[2] in ("BL", "BLK"):
            continue
        following = lines[i + 1 : i + 6]
        aud = next((len(x.split()) - 1 for x in following if x.strip().startswith("AUD")), 0)
        count = _tracks_for(m[3], aud)
        clips += count
        block = []
        for x in following:
            if EVENT.match(x.strip()):
                break
            block.append(x)
        if any(re.match(r"\*\s*FROM (CLIP|FILE):", x.strip()) for x in block):
            linked += count
    return {"clips": clips, "start": first_record, "linked": linked}


def _check(path: Path) -> None:
    rate, drop = FACTS[path.name]
    timeline = read_edl(path.read_text(encoding="utf-8", errors="replace"), source=str(path))
    assert timeline_rate(timeline) == rate  # inferred from FCM and the frame fields
    assert timeline.metadata["montage_bridge"]["drop_frame"] is drop
    want = _expected(path, rate, drop)
    clips = list(timeline.find_clips())
    assert len(clips) == want["clips"]
    assert frames_at(timeline.global_start_time, rate) == want["start"]
    assert sum(isinstance(c.media_reference, otio.schema.ExternalReference) for c in clips) == want["linked"]
    # Each track's items sit at their record TC: the last clip ends where the latest event ends.
    for clip in clips:
        assert frames_at(clip.source_range.duration, rate) > 0


@pytest.mark.parametrize("path", LOCAL, ids=[p.name for p in LOCAL])
def test_local_edl_matches_its_events(path: Path) -> None:
    _check(path)


@pytest.mark.corpus
@pytest.mark.parametrize("name", GPL_ONLY)
def test_shared_corpus_edl_matches_its_events(shared_corpus: Path, name: str) -> None:
    _check(shared_corpus / "edl" / name)


@pytest.mark.corpus
def test_fcm_drop_frame_with_colons_counts_df(shared_corpus: Path) -> None:
    text = (shared_corpus / "edl" / "lossless-cut__edl-genius_12_16_TL01_MUSIC.edl").read_text()
    timeline = read_edl(text)
    assert timeline.metadata["montage_bridge"]["drop_frame"] is True
    # 01:00:11:04 counted drop-frame, not 01:00:11:04 NDF (108 frames apart)
    assert frames_at(timeline.global_start_time, NTSC30) == timecode_to_frames("01:00:11;04", NTSC30)


@pytest.mark.corpus
def test_edlx_header_is_skipped_with_warnings(shared_corpus: Path) -> None:
    timeline = read_edl((shared_corpus / "edl" / "lossless-cut__cmx3600_edlx_5994.edl").read_text())
    warnings = timeline.metadata["montage_bridge"]["warnings"]
    assert any("TRACKS: VIDEO" in w for w in warnings)


def test_dissolve_speed_markers_and_audio_channels() -> None:
    edl = read_edl((TEST_DATA / "edl" / "otio-cmx3600-adapter__transition_duration.edl").read_text(), rate="24")
    transitions = list(edl.find_children(descended_from_type=otio.schema.Transition))
    assert [frames_at(t.out_offset, Fraction(24)) for t in transitions] == [26]
    speed = read_edl((TEST_DATA / "edl" / "otio-cmx3600-adapter__speed_effects_small.edl").read_text(), rate="24")
    effects = [type(e).__name__ for c in speed.find_clips() for e in c.effects]
    assert effects.count("FreezeFrame") == 2 and effects.count("LinearTimeWarp") == 1
    screening = read_edl((TEST_DATA / "edl" / "otio-cmx3600-adapter__screening_example.edl").read_text(), rate="24")
    markers = [m for c in screening.find_clips() for m in c.markers]
    assert [m.color for m in markers] == ["RED", "PINK", "GREEN"]
    multi = read_edl((TEST_DATA / "edl" / "otio-cmx3600-adapter__multi_audio.edl").read_text(), rate="24")
    assert [t.name for t in multi.tracks] == ["A1", "A2", "A3"]


def test_df_locators_and_resolve_marker_events() -> None:
    text = "\n".join(
        [
            "TITLE: Markers",
            "FCM: DROP FRAME",
            "001  A001C003 V     C        01:00:00;00 01:00:10;00 01:00:00;00 01:00:10;00",
            "* FROM CLIP NAME:  A001C003.mov",
            "* LOC: 01:00:06;00 BLUE    check focus",
            "002  001      V     C        01:00:02;00 01:00:02;01 01:00:02;00 01:00:02;01",
            " |C:ResolveColorGreen |M:beat 1 |D:1",
        ]
    )
    timeline = read_edl(text, rate="30000/1001")
    clip = next(iter(timeline.find_clips()))
    assert [(m.name, m.color) for m in clip.markers] == [("check focus", "BLUE")]
    start = timecode_to_frames("01:00:00;00", NTSC30)
    assert frames_at(clip.markers[0].marked_range.start_time, NTSC30) == timecode_to_frames("01:00:06;00", NTSC30)
    assert [(m.name, m.color) for m in timeline.tracks.markers] == [("beat 1", "GREEN")]
    at = frames_at(timeline.tracks.markers[0].marked_range.start_time, NTSC30)
    assert at == timecode_to_frames("01:00:02;00", NTSC30) - start


def test_garbage_and_malformed_events_are_one_line_errors() -> None:
    with pytest.raises(TimelineParseError, match="no CMX 3600 events"):
        read_edl("hello\nworld\n", source="x.edl")
    with pytest.raises(TimelineParseError, match=r"x\.edl:2: event line is malformed"):
        read_edl("TITLE: x\n001  AX V C 01:00:00:00 01:00:01:00\n", source="x.edl")


def test_writer_never_mutates_and_is_repeatable() -> None:
    timeline = read_edl((TEST_DATA / "edl" / "otio-cmx3600-adapter__transition_duration.edl").read_text(), rate="24")
    before = timeline.to_json_string()
    first = write_edl(timeline)
    assert timeline.to_json_string() == before
    assert write_edl(timeline) == first
    assert "FCM: NON-DROP FRAME" in first


def test_black_events_become_gaps_and_fades_are_kept() -> None:
    text = "\n".join(
        [
            "TITLE: fade",
            "FCM: NON-DROP FRAME",
            "001  BL       V     C        00:00:00:00 00:00:00:00 01:00:00:00 01:00:00:00",
            "001  A001C003 V     D    012 01:00:10:00 01:00:12:00 01:00:00:00 01:00:02:00",
            "* FROM CLIP NAME:  A001C003.mov",
        ]
    )
    timeline = read_edl(text, rate="25")
    assert frames_at(timeline.global_start_time, Fraction(25)) == 90000
    clips = list(timeline.find_clips())
    assert len(clips) == 1 and frames_at(clips[0].source_range.duration, Fraction(25)) == 50
    from nle_adapters.loss_report import analyze_losses

    gap = otio.schema.Gap(
        source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 25), otio.opentime.RationalTime(10, 25))
    )
    track = timeline.tracks[0]
    track.insert(0, gap)
    track.insert(
        1,
        otio.schema.Transition(
            in_offset=otio.opentime.RationalTime(0, 25), out_offset=otio.opentime.RationalTime(12, 25)
        ),
    )
    # A fade from black is a dissolve from the BL reel (the writer's, since the music fades): it comes
    # back as written, and the loss report does not claim a loss.
    assert "fades" not in {item.feature for item in analyze_losses(timeline, "edl")}
    back = read_edl(write_edl(timeline), rate="25")
    kinds = [type(i).__name__ for i in back.tracks[0]]
    assert kinds == ["Gap", "Transition", "Clip"]
    assert [frames_at(t, Fraction(25)) for t in (back.tracks[0][1].in_offset, back.tracks[0][1].out_offset)] == [0, 12]
    # A dissolve with no clip on either side has nothing to dissolve: left out, and reported.
    track.insert(0, gap.clone())
    track.insert(1, otio.schema.Transition(out_offset=otio.opentime.RationalTime(6, 25)))
    assert "fades" in {item.feature for item in analyze_losses(timeline, "edl")}
