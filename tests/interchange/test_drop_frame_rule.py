"""One drop-frame rule for every writer (DESIGN.md Time rule 3; issue #11, item 3).

The source's choice when it states one, DF at 29.97/59.94 when it says nothing, NDF at every other
rate; the same in all four formats: FCPXML ``tcFormat``, xmeml ``displayformat``, the EDL ``FCM``
line and its separators, OTIO metadata. Each output is parsed with lxml or pycmx (or plain JSON),
never with our own readers.
"""

from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pycmx
import pytest
from lxml import etree
from pycmx.statements import StmtFCM

from analysis.models import AnalysisResult
from kernel.timebase import format_rate
from nle_adapters.convert import ConvertOptions, convert
from nle_adapters.plan_to_otio import build_timeline
from nle_adapters.timeline_facts import META, drop_frame_rule
from nle_adapters.write_files import render_timeline
from planner.models import EditPlan
from tests.conftest import TEST_DATA
from tests.planner.synth import make_clip

FORMATS = ("fcpxml", "xml", "edl", "otio")
DF_AAF = TEST_DATA / "aaf" / "otio-aaf-adapter__2997fps-DFTC.aaf"


def _rate(rate: Fraction) -> float:
    return float(rate)


def _timeline(rate: Fraction, says: bool | None) -> otio.schema.Timeline:
    """A one-clip timeline at ``rate`` whose metadata says DF (True), NDF (False) or nothing (None).
    Saying nothing means no ``montage_bridge`` metadata at all: the rate comes from the start time."""
    timeline = otio.schema.Timeline(name="df rule")
    timeline.global_start_time = otio.opentime.RationalTime(3600 * 30 * 2, _rate(rate))  # past 00:01:00
    if says is not None:
        timeline.metadata[META] = {"rate": format_rate(rate), "drop_frame": says}
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Clip(
            name="shot",
            media_reference=otio.schema.ExternalReference(
                target_url="file:///media/shot.mov",
                available_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, _rate(rate)), otio.opentime.RationalTime(5000, _rate(rate))
                ),
            ),
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(2000, _rate(rate)), otio.opentime.RationalTime(48, _rate(rate))
            ),
        )
    )
    timeline.tracks.append(track)
    return timeline


def written_drop_frame(path: Path, fmt: str, media: bool = True) -> set[bool]:
    """Every DF/NDF choice the file at ``path`` states, parsed without our readers: the timeline's, and
    with ``media`` also its media's (FCPXML asset-clip, xmeml file, EDL source TCs)."""
    if fmt == "fcpxml":
        root = etree.parse(str(path)).getroot()
        tags = ("sequence", "asset-clip") if media else ("sequence",)
        return {el.get("tcFormat") == "DF" for el in root.iter(*tags)}
    if fmt == "xml":
        root = etree.parse(str(path)).getroot()
        places = root.iter("displayformat") if media else root.iterfind(".//sequence/timecode/displayformat")
        return {el.text == "DF" for el in places}
    if fmt == "edl":
        edl = pycmx.parse_cmx3600(io.StringIO(path.read_text()))
        choices = {s.drop for s in edl.event_statements if isinstance(s, StmtFCM)}
        for event in edl.events:
            for edit in event.edits:
                tcs = (edit.source_in, edit.record_in, edit.record_out) if media else (edit.record_in, edit.record_out)
                choices |= {";" in tc for tc in tcs}
        return choices
    return {json.loads(path.read_text())["metadata"][META]["drop_frame"]}


CASES = [
    (Fraction(30000, 1001), True, True),
    (Fraction(30000, 1001), False, False),
    (Fraction(30000, 1001), None, True),
    (Fraction(60000, 1001), None, True),
    (Fraction(60000, 1001), False, False),
    (Fraction(25), True, False),  # 25 fps has no drop-frame counting, whatever the source claims
    (Fraction(24000, 1001), None, False),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("rate", "says", "want"), CASES, ids=[f"{float(r):.2f}-{s}" for r, s, _ in CASES])
def test_every_format_writes_the_same_choice(
    fmt: str, rate: Fraction, says: bool | None, want: bool, tmp_path: Path
) -> None:
    src = tmp_path / "in.otio"
    otio.adapters.write_to_file(_timeline(rate, says), str(src), adapter_name="otio_json")
    out = tmp_path / f"out.{fmt}"
    convert(src, out, ConvertOptions(to=fmt))
    assert written_drop_frame(out, fmt) == {want}


@pytest.mark.parametrize("fmt", FORMATS)
def test_media_counting_follows_the_rule_too(fmt: str, tmp_path: Path) -> None:
    """29.97 media in a 23.976 timeline: media that say DF or NDF keep it; media that say nothing are DF.
    (FCPXML asset-clip tcFormat, xmeml file displayformat, EDL source-TC separators.)"""
    timeline = otio.schema.Timeline(name="media df")
    timeline.global_start_time = otio.opentime.RationalTime(86400, 24000 / 1001)
    timeline.metadata[META] = {"rate": "24000/1001", "drop_frame": False}
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    ntsc = 30000 / 1001
    for name, says in (("df", True), ("ndf", False), ("silent", None)):
        meta = {"rate": "30000/1001"} | ({} if says is None else {"drop_frame": says})
        track.append(
            otio.schema.Clip(
                name=name,
                media_reference=otio.schema.ExternalReference(
                    target_url=f"file:///media/{name}.mov",
                    available_range=otio.opentime.TimeRange(
                        otio.opentime.RationalTime(107892, ntsc), otio.opentime.RationalTime(9000, ntsc)
                    ),
                    metadata={META: meta},
                ),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(107892 + 4000, ntsc), otio.opentime.RationalTime(24, 24000 / 1001)
                ),
            )
        )
    timeline.tracks.append(track)
    src = tmp_path / "in.otio"
    otio.adapters.write_to_file(timeline, str(src), adapter_name="otio_json")
    out = tmp_path / f"out.{fmt}"
    convert(src, out, ConvertOptions(to=fmt))
    if fmt == "fcpxml":
        root = etree.parse(str(out)).getroot()
        got = [el.get("tcFormat") == "DF" for el in root.iter("asset-clip")]
    elif fmt == "xml":
        root = etree.parse(str(out)).getroot()
        got = [
            f.findtext("timecode/displayformat") == "DF" for f in root.iter("file") if f.find("timecode") is not None
        ]
    elif fmt == "edl":
        edl = pycmx.parse_cmx3600(io.StringIO(out.read_text()))
        got = [";" in edit.source_in for event in edl.events for edit in event.edits]
    else:
        doc = json.loads(out.read_text())
        assert doc["metadata"][META]["drop_frame"] is False  # the 23.976 timeline: NDF
        return
    assert got == [True, False, True]


@pytest.mark.parametrize("fmt", FORMATS)
def test_df_aaf_is_df_in_every_format(fmt: str, tmp_path: Path) -> None:
    """The 29.97 DF Avid AAF starting 05:00:00;00: OTIO's AAF reader keeps no DF flag, so the source
    says nothing and every format writes the timeline DF. FCPXML shows
    it at 05:00:00;00 in FCP (it showed 04:59:42:00 before: the same frame, counted NDF)."""
    out = tmp_path / f"cut.{fmt}"
    convert(DF_AAF, out, ConvertOptions(to=fmt))
    assert written_drop_frame(out, fmt, media=False) == {True}
    if fmt == "fcpxml":
        sequence = etree.parse(str(out)).getroot().find(".//sequence")
        start = Fraction(sequence.get("tcStart").removesuffix("s"))
        frames = start * Fraction(30000, 1001)
        assert frames.denominator == 1
        label = otio.opentime.to_timecode(
            otio.opentime.RationalTime(int(frames), 30000 / 1001), 30000 / 1001, sequence.get("tcFormat") == "DF"
        )
        assert label == "05:00:00;00"


def _plan_json(rate: Fraction, says: bool | None) -> dict:
    """A one-cut plan as JSON (what ``--save-plan`` writes and an LLM or a user may hand-edit)."""
    plan = {
        "rate": format_rate(rate),
        "start_timecode": "01:00:00:00",
        "cuts": [{"clip_id": "clip0", "source_in": 0, "source_out": 48, "record_in": 0, "record_out": 48}],
        "planner": "hand",
    }
    if says is not None:
        plan["drop_frame"] = says
    return plan


PLAN_CASES = [
    (Fraction(30000, 1001), None, True),  # says nothing: the rule's DF (it was NDF: the old default False)
    (Fraction(60000, 1001), None, True),
    (Fraction(30000, 1001), False, False),  # a plan that states NDF keeps it (old plan JSON reads the same)
    (Fraction(30000, 1001), True, True),
    (Fraction(25), None, False),
    (Fraction(24000, 1001), None, False),
]


@pytest.mark.parametrize(("rate", "says", "want"), PLAN_CASES, ids=[f"{float(r):.2f}-{s}" for r, s, _ in PLAN_CASES])
def test_a_plan_that_states_no_df_choice_follows_the_one_rule(
    rate: Fraction, says: bool | None, want: bool, tmp_path: Path
) -> None:
    """#11: ``EditPlan.drop_frame`` defaulted to False, so a 29.97 plan that did not set it wrote NDF
    everywhere. Absent (or null) now means "not stated": the rule decides; a stated value is kept."""
    plan = EditPlan.model_validate_json(json.dumps(_plan_json(rate, says)))
    assert plan.drop_frame is want is drop_frame_rule(rate, says)
    assert EditPlan.model_validate_json(plan.model_dump_json()).drop_frame is want  # saved and read again
    assert plan.timecode(0) == ("01:00:00;00" if want else "01:00:00:00")
    analysis = AnalysisResult(clips=[make_clip(0, rate, [200])])
    timeline = build_timeline(plan, analysis)
    for fmt in FORMATS:
        out = tmp_path / f"plan.{fmt}"
        out.write_text(render_timeline(timeline, fmt)[0][1])
        assert written_drop_frame(out, fmt) == {want}, fmt
