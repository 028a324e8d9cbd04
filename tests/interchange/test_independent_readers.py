"""Every file we write, read by a reader we did not write (issue #11 "Done when").

- FCPXML 1.8–1.11: lxml validation against Apple's DTD of the version written (tests/data/fcpxml/dtd);
- EDL: ``pycmx`` parses every EDL; its record TCs are the timeline's, and every source TC lies in
  its media's own timecode range (the labels Resolve/Premiere/Avid conform on);
- FCP7 XML: the upstream ``fcp_xml`` adapter (right on rates, start TC, markers, tracks per
  research/interchange.md §1b) reads the same clips, record positions and source ins;
- EDL: the upstream ``cmx_3600`` adapter (right on source TCs and durations, not on the start:
  research §1c) reads the same V1 source ins and durations;
- one drop-frame rule: a 29.97/59.94 timeline that states no DF choice is DF in all three formats.

OTIO JSON is written by OpenTimelineIO core itself, so it has no second reader to check against.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import opentimelineio as otio
import pycmx
import pytest
from lxml import etree

from kernel.timebase import format_rate, frames_to_timecode, rate_from_float
from nle_adapters.convert import read_timelines
from nle_adapters.fcpxml.dtd import validate
from nle_adapters.timeline_facts import clip_time, media_url, timeline_time, url_to_path
from nle_adapters.write_files import WriteError
from tests.conftest import TEST_DATA
from tests.interchange import edge_timelines as edge
from tests.interchange.corpus_files import CORPUS, edl_rate
from tests.interchange.matrix_support import ClipRow, summarize, write

DTD_DIR = TEST_DATA / "fcpxml" / "dtd"
CASES = edge.grid_cases() + edge.feature_cases()
REPRESENTATIVE = edge.representative_cases()
VERSIONS = ("1.8", "1.9", "1.10", "1.11")


def _ids(cases: list[edge.EdgeCase]) -> list[str]:
    return [c.id for c in cases]


# --------------------------------------------------------------------------------------------
# FCPXML: Apple's DTDs


def _fcpxml(timeline: otio.schema.Timeline, version: str) -> str:
    return otio.adapters.write_to_string(timeline, "mb_fcpxml", version=version)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_fcpxml_1_10_of_every_edge_case_is_valid_against_apples_dtd(case: edge.EdgeCase) -> None:
    assert validate(_fcpxml(edge.build(case), "1.10"), dtd_dir=DTD_DIR) == []


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", REPRESENTATIVE, ids=_ids(REPRESENTATIVE))
def test_fcpxml_every_version_we_write_is_valid(case: edge.EdgeCase, version: str) -> None:
    text = _fcpxml(edge.build(case), version)
    root = etree.fromstring(text.encode())
    assert root.get("version") == version
    assert validate(text, dtd_dir=DTD_DIR) == []


# --------------------------------------------------------------------------------------------
# EDL: pycmx


def _label(tc: str) -> tuple[int, int, int, int]:
    """A timecode label as (h, m, s, f), whatever its separators: labels compare as labels."""
    digits = tc.replace(";", ":").replace(".", ":").split(":")
    return tuple(int(d) for d in digits)  # type: ignore[return-value]


def _media_label_range(media: edge.Media, drop: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The first and last timecode labels the media has (its own rate and counting)."""
    first = frames_to_timecode(media.start_frame, media.rate, drop)
    last = frames_to_timecode(media.start_frame + media.frames - 1, media.rate, drop)
    return _label(first), _label(last)


def _pool(case: edge.EdgeCase) -> dict[str, tuple[edge.Media, bool]]:
    """Media file name (the EDL's ``* FROM CLIP NAME:`` / ``* TO CLIP NAME:``) → (media, counts DF):
    media at the timeline rate count like the timeline; the 29.97 interview is DF; everything else NDF."""
    pool = {m.name: (m, case.rate.drop_frame and m.rate == case.rate.rate) for m in edge.media_pool(case)}
    music = edge._music(case)
    pool[music.name] = (music, case.rate.drop_frame)
    for m in edge.media_pool(case):
        if "2997DF" in m.path:
            pool[m.name] = (m, True)
    return pool


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_every_edl_parses_with_pycmx_record_tcs_match_and_source_tcs_lie_in_their_media(
    case: edge.EdgeCase, record_property
) -> None:
    timeline = edge.build(case)
    time = timeline_time(timeline)
    texts = write(timeline, "edl")
    assert len(texts) == max(1, len(timeline.video_tracks()))
    pool = _pool(case)
    want = summarize(timeline)
    reels: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for n, text in enumerate(texts, start=1):
        edl = pycmx.parse_cmx3600(io.StringIO(text))
        edits = [e for event in edl.events for e in event.edits]
        assert edits, f"EDL {n} has no events"
        # Expected record TCs: V{n} clips, plus every audio clip in the first EDL.
        expected = [r for r in want.tracks.get(f"V{n}", []) if isinstance(r, ClipRow)]
        if n == 1:
            expected += [
                r for k, rows in want.tracks.items() if k.startswith("A") for r in rows if isinstance(r, ClipRow)
            ]
        cuts = [e for e in edits if e.record_in != e.record_out and not e.black]
        got = sorted((e.record_in, e.clip_name or "") for e in cuts)
        drop = time.drop_frame
        # A dissolve moves the outgoing clip's end and the incoming clip's start (CMX D at the cut);
        # positions are checked exactly on cases without dissolves.
        if not case.dissolves:
            wanted = sorted(
                (frames_to_timecode(time.start_frame + r.record_in, time.rate, drop), Path(r.path or "").name)
                for r in expected
            )
            assert got == wanted
        # Every edit names its own clip, the halves of a dissolve included (FROM the outgoing, TO the
        # incoming clip): its source TCs lie in that clip's media's own timecode range. A
        # zero-length "from" half repeats the outgoing clip's exclusive source out.
        for event in edl.events:
            for edit in event.edits:  # pycmx builds these afresh on each access
                if edit.black:
                    continue
                sep = ";" if drop else ":"
                assert sep in edit.record_in, f"record TC {edit.record_in} does not say {'DF' if drop else 'NDF'}"
                assert edit.clip_name in pool, f"event {event.number}: clip name {edit.clip_name!r} is no media"
                media, media_drop = pool[edit.clip_name]
                first, last = _media_label_range(media, media_drop)
                end = _label(frames_to_timecode(media.start_frame + media.frames, media.rate, media_drop))
                top = end if edit.record_in == edit.record_out else last
                assert first <= _label(edit.source_in) <= top, (
                    f"{edit.clip_name}: source in {edit.source_in} is outside its media's timecode {first}–{last}"
                )
                reels.setdefault(edit.source, set()).add(edit.clip_name)
                names.setdefault(edit.clip_name, set()).add(edit.source)
    # One reel per media and one media per reel, across all the case's EDLs: a conform by reel is exact
    # (A001_C001.mov and A001_C002 & take 2.mov were both cut to A001_C00).
    assert len(reels) >= 2 and all(len(media) == 1 for media in reels.values()), reels
    assert all(len(r) == 1 for r in names.values()), names
    record_property("interchange", json.dumps({"format": "edl", "properties": ["source TC labels"], "result": "exact"}))


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_upstream_cmx_3600_reads_our_edl_sources_and_durations(case: edge.EdgeCase) -> None:
    """Upstream is right on source TCs and durations (not on the start: it ignores it)."""
    timeline = edge.build(case)
    rate = timeline_time(timeline).rate
    if case.audio_only or case.mixed_rates or case.dissolves or case.speed:
        pytest.skip("upstream cmx_3600 is right only on plain cuts at the record rate (research §1c)")
    text = write(timeline, "edl")[0]
    upstream = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=float(rate))
    ours = [r for r in summarize(timeline).tracks["V1"] if isinstance(r, ClipRow)]
    theirs = [c for c in upstream.video_tracks()[0] if isinstance(c, otio.schema.Clip)]
    assert [(round(c.source_range.start_time.value), round(c.source_range.duration.value)) for c in theirs] == [
        (r.source_in, r.duration) for r in ours
    ]


# --------------------------------------------------------------------------------------------
# FCP7 XML: the upstream fcp_xml adapter


@pytest.mark.parametrize("version", (4, 5))
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_upstream_fcp_xml_reads_our_xmeml_frame_for_frame(case: edge.EdgeCase, version: int) -> None:
    timeline = edge.build(case)
    text = otio.adapters.write_to_string(timeline, "mb_xmeml", version=version)
    upstream = otio.adapters.read_from_string(text, adapter_name="fcp_xml")
    time = timeline_time(timeline)
    assert rate_from_float(upstream.global_start_time.rate) == time.rate
    assert round(upstream.global_start_time.value) == time.start_frame
    want = summarize(timeline)
    ours_tracks = [t for t in timeline.tracks if len(t)]
    theirs_tracks = [t for t in upstream.tracks if len(t)]
    assert [t.kind for t in theirs_tracks] == [t.kind for t in ours_tracks]
    for label, track in zip(want.tracks, theirs_tracks):
        rows = [r for r in want.tracks[label] if isinstance(r, ClipRow)]
        clips = list(track.find_clips())
        assert len(clips) == len(rows), label
        for row, clip in zip(rows, clips):
            ct = clip_time(clip, time.rate)
            assert url_to_path(media_url(clip) or "") == row.path
            assert clip.range_in_parent().start_time.value == pytest.approx(row.record_in), label
            assert ct.duration == row.duration
            if row.media_rate == format_rate(time.rate):  # xmeml in/out are sequence-rate frames
                assert ct.source_in == row.source_in
                # fcp_xml puts markers relative to the media start; ours are in media time.
                assert sorted(round(m.marked_range.start_time.value) + row.media_start for m in clip.markers) == [
                    m[0] for m in row.markers
                ]


# --------------------------------------------------------------------------------------------
# One drop-frame rule


def _df_in_every_format(timeline: otio.schema.Timeline) -> dict[str, bool]:
    fcpxml = etree.fromstring(_fcpxml(timeline, "1.10").encode())
    xmeml = etree.fromstring(otio.adapters.write_to_string(timeline, "mb_xmeml", version=4).encode())
    edl = write(timeline, "edl")[0]
    record_tc = next(e.record_in for ev in pycmx.parse_cmx3600(io.StringIO(edl)).events for e in ev.edits)
    return {
        "fcpxml": fcpxml.find(".//sequence").get("tcFormat") == "DF",
        "xmeml": xmeml.findtext(".//sequence/timecode/displayformat") == "DF",
        "edl": "FCM: DROP FRAME" in edl and ";" in record_tc,
    }


@pytest.mark.parametrize("label", ["29.97DF", "59.94DF"])
def test_a_timeline_that_states_no_df_choice_is_df_in_every_format(label: str) -> None:
    case = next(c for c in edge.grid_cases() if c.id == f"{label}@01000000")
    timeline = edge.build(case)
    del timeline.metadata["montage_bridge"]["drop_frame"]
    assert _df_in_every_format(timeline) == {"fcpxml": True, "xmeml": True, "edl": True}


def test_the_29_97_df_aaf_stays_df_in_every_format() -> None:
    """#11 item 3's repro: FCPXML wrote this 05:00:00;00 DF timeline NDF (opened at 04:59:42:00)."""
    _, timelines = read_timelines(TEST_DATA / "aaf" / "otio-aaf-adapter__2997fps-DFTC.aaf")
    assert _df_in_every_format(timelines[0]) == {"fcpxml": True, "xmeml": True, "edl": True}


# --------------------------------------------------------------------------------------------
# Corpus: every file, through every writer, read by the independent readers


def _upstream_read(kind: str, path: Path) -> dict[str, object]:
    adapter = {"fcpxml": "fcpx_xml", "fcp7xml": "fcp_xml", "edl": "cmx_3600", "otio": "otio_json"}.get(kind)
    if adapter is None:
        return {"read": None}
    kwargs = {"rate": float(edl_rate(path))} if kind == "edl" else {}
    try:
        result = otio.adapters.read_from_file(str(path), adapter_name=adapter, **kwargs)
    except Exception as exc:  # the point is to record where the upstream adapter fails
        return {"read": False, "error": exc.__class__.__name__}
    if not isinstance(result, otio.schema.Timeline):
        found = list(result.find_children(descended_from_type=otio.schema.Timeline))
        if not found:
            return {"read": False, "error": "no timeline"}
        result = found[0]
    clips = list(result.find_clips())
    linked = sum(isinstance(c.media_reference, otio.schema.ExternalReference) for c in clips)
    return {"read": True, "clips": len(clips), "linked": linked}


@pytest.mark.parametrize(("path", "kind"), [pytest.param(p, k, id=n) for n, k, p in CORPUS])
def test_corpus_file_written_by_us_reads_with_independent_readers(path: Path, kind: str, record_property) -> None:
    fmt, timelines = read_timelines(path, format_rate(edl_rate(path)) if kind == "edl" else None)
    timeline = timelines[0]
    clips = list(timeline.find_clips())
    linked = sum(isinstance(c.media_reference, otio.schema.ExternalReference) for c in clips)
    record_property(
        "corpus",
        json.dumps(
            {
                "file": path.name,
                "kind": kind,
                "ours": {"read": True, "clips": len(clips), "linked": linked},
                "upstream": _upstream_read(kind, path),
            }
        ),
    )
    media = [
        c for c in clips if isinstance(c.media_reference, (otio.schema.ExternalReference, otio.schema.MissingReference))
    ]
    image_sequence = any(isinstance(c.media_reference, otio.schema.ImageSequenceReference) for c in clips)
    if not image_sequence:
        assert validate(_fcpxml(timeline, "1.10"), dtd_dir=DTD_DIR) == []
        xml = otio.adapters.write_to_string(timeline, "mb_xmeml", version=4)
        upstream = otio.adapters.read_from_string(xml, adapter_name="fcp_xml")
        assert len(list(upstream.find_clips())) >= len(
            [c for c in media if c.parent() is not None and c.parent().parent() is timeline.tracks]
        )
    try:
        texts = write(timeline, "edl")
    except WriteError as exc:  # nothing an EDL can hold: a clear refusal (#11 item 5), never an empty EDL
        assert "no EDL written" in str(exc)
        texts = []
    if texts:
        for text in texts:
            edl = pycmx.parse_cmx3600(io.StringIO(text))
            assert [e for ev in edl.events for e in ev.edits], "an EDL with no events was written"


def test_the_corpus_is_here() -> None:
    """The checks above run on the repository's copies at least (tests/data, see SOURCES.md)."""
    kinds = {k for _, k, _ in CORPUS}
    assert {"fcpxml", "fcp7xml", "edl", "otio", "aaf"} <= kinds
    assert len(CORPUS) >= 30 or not (Path(__file__).resolve().parents[3] / "shared" / "corpus").is_dir()
