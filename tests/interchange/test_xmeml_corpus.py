"""Every FCP7 XML file in the corpus reads, and what we read matches what the XML says.

The expectations are counted straight from the XML with ElementTree paths here, not by the reader.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from nle_adapters.errors import TimelineParseError
from nle_adapters.timeline_facts import frames_at, timeline_rate
from nle_adapters.xmeml import read_xmeml
from tests.conftest import TEST_DATA

LOCAL = sorted((TEST_DATA / "fcp7xml").glob("*.xml"))
GPL_ONLY = [
    "lossless-cut__Final_Cut_Pro_XMEML.xml",
    "lossless-cut__Final_Cut_Pro_XMEML_2.xml",
    "lossless-cut__Final_Cut_Pro_XMEML_3.xml",
]
ITEMS = ("clipitem", "generatoritem")


def _top_sequences(el: ET.Element) -> list[ET.Element]:
    found = []
    for child in el:
        if child.tag == "sequence":
            found.append(child)
        elif child.tag in ("project", "children", "bin"):
            found += _top_sequences(child)
    return found


def _rate(el: ET.Element) -> Fraction:
    base = int(el.findtext("rate/timebase"))
    return Fraction(base * 1000, 1001) if (el.findtext("rate/ntsc") or "").upper() == "TRUE" else Fraction(base)


def _expected(path: Path) -> list[dict]:
    """Per sequence: rate, start frame, and per track the items with their start/end and linked media."""
    root = ET.parse(path).getroot()
    files = {}
    for f in root.iter("file"):
        if f.get("id") and len(f) and f.get("id") not in files:
            files[f.get("id")] = f
    out = []
    for seq in _top_sequences(root):
        tracks = []
        for track in seq.findall("media/video/track") + seq.findall("media/audio/track"):
            items = []
            for item in track:
                if item.tag not in ITEMS:
                    continue
                file_el = item.find("file")
                if file_el is not None and not len(file_el):
                    file_el = files.get(file_el.get("id"))
                linked = file_el is not None and bool((file_el.findtext("pathurl") or "").strip())
                items.append((int(item.findtext("start")), int(item.findtext("end")), linked))
            tracks.append(items)
        frame = seq.findtext("timecode/frame")
        out.append(
            {"rate": _rate(seq), "start": int(frame) if frame else 0, "tracks": tracks, "name": seq.findtext("name")}
        )
    return out


def _check(path: Path) -> None:
    result = read_xmeml(path.read_bytes(), source=str(path))
    timelines = [result] if isinstance(result, otio.schema.Timeline) else list(result)
    expected = _expected(path)
    assert len(timelines) == len(expected)
    for timeline, want in zip(timelines, expected):
        rate = timeline_rate(timeline)
        assert rate == want["rate"]
        assert frames_at(timeline.global_start_time, rate) == want["start"]
        assert len(timeline.tracks) == len(want["tracks"])
        for track, items in zip(timeline.tracks, want["tracks"]):
            got = []
            position = 0
            for item in track:
                if isinstance(item, otio.schema.Transition):
                    continue
                duration = frames_at(item.source_range.duration, rate)
                if isinstance(item, (otio.schema.Clip, otio.schema.Stack)):
                    linked = isinstance(getattr(item, "media_reference", None), otio.schema.ExternalReference)
                    got.append((position, position + duration, linked))
                position += duration
            assert len(got) == len(items), f"{track.name}: {len(got)} items read, {len(items)} in the XML"
            prev_end = 0
            for (g_start, g_end, g_linked), (w_start, w_end, w_linked) in zip(got, items):
                if w_start != -1:
                    # Premiere writes the odd overlapping audio clip; the reader starts it where the last one ends.
                    assert g_start == max(w_start, prev_end)
                if w_end != -1:
                    assert g_end == w_end
                assert g_linked == w_linked
                prev_end = g_end


@pytest.mark.parametrize("path", LOCAL, ids=[p.name for p in LOCAL])
def test_local_corpus_file_matches_the_xml(path: Path) -> None:
    _check(path)


@pytest.mark.corpus
@pytest.mark.parametrize("name", GPL_ONLY)
def test_shared_corpus_file_matches_the_xml(shared_corpus: Path, name: str) -> None:
    _check(shared_corpus / "fcp7xml" / name)


def test_ntsc_rate_df_start_and_media_tc_are_exact() -> None:
    timeline = read_xmeml((TEST_DATA / "fcp7xml" / "otio-fcp-adapter__premiere_generators.xml").read_bytes())
    assert timeline_rate(timeline) == Fraction(24000, 1001)
    hiero = read_xmeml((TEST_DATA / "fcp7xml" / "otio-fcp-adapter__hiero_xml_export.xml").read_bytes())
    assert frames_at(hiero.global_start_time, Fraction(24)) == 86400  # 01:00:00:00


def test_auto_editor_empty_duration_reads_with_links() -> None:
    timeline = read_xmeml((TEST_DATA / "fcp7xml" / "auto-editor__out.xml").read_bytes())
    clips = list(timeline.find_clips())
    assert len(clips) == 405
    urls = {c.media_reference.target_url for c in clips}
    assert urls == {"/Users/wyattblue/out.mp4", "/Users/wyattblue/out_tracks/1.wav"}
    assert all(c.media_reference.available_range is None for c in clips)  # <duration/> is empty
    assert all(c.metadata["montage_bridge"]["links"] for c in timeline.tracks[0].find_clips())  # V1 → its audio


def test_not_xmeml_and_malformed_give_one_line_errors() -> None:
    with pytest.raises(TimelineParseError, match="not <xmeml>"):
        read_xmeml(b"<fcpxml version='1.10'/>", source="x.xml")
    with pytest.raises(TimelineParseError, match=r"x\.xml:3: malformed XML"):
        read_xmeml(b"<xmeml>\n<sequence>\n<name></sequence>", source="x.xml")
    with pytest.raises(TimelineParseError, match="refused unsafe XML"):
        read_xmeml(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xmeml>&a;</xmeml>', source="x.xml")
