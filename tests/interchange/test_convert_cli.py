"""`montage-bridge convert` as a user runs it: single files, folders, --json loss reports, bad input."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from nle_adapters.edl import read_edl
from nle_adapters.resolve_otio import read_resolve_otio, to_resolve_shape
from nle_adapters.timeline_facts import frames_at
from nle_adapters.xmeml import read_xmeml
from tests.conftest import TEST_DATA, run_cli

PREMIERE = TEST_DATA / "fcp7xml" / "otio-fcp-adapter__premiere_example.xml"


def test_xmeml_to_edl_writes_one_edl_per_video_track_and_reports(tmp_path: Path) -> None:
    result = run_cli("convert", str(PREMIERE), str(tmp_path / "cut.edl"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["result"]["conversions"]
    assert len(report) == 1 and report[0]["format"] == "xml" and report[0]["target"] == "edl"
    features = {item["feature"]: item for item in report[0]["losses"]}
    assert features["video tracks"]["count"] == 3
    assert "nested sequences" in features
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["cut.edl", "cut_V2.edl", "cut_V3.edl", "cut_V4.edl"]
    edl = read_edl((tmp_path / "cut.edl").read_text(), rate="30")
    assert frames_at(edl.global_start_time, Fraction(30)) >= 0
    assert (tmp_path / "cut.edl").read_text().splitlines()[1] == "FCM: NON-DROP FRAME"


def test_edl_track_option_writes_a_single_file(tmp_path: Path) -> None:
    result = run_cli("convert", str(PREMIERE), str(tmp_path / "v2.edl"), "--edl-track", "2")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["v2.edl"]
    assert "only V2 is written" in result.stdout.replace("\n", " ") or "V2" in result.stdout


def test_folder_to_folder_with_json(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("otio-cmx3600-adapter__transition_duration.edl", "otio-cmx3600-adapter__avid_example.edl"):
        shutil.copy(TEST_DATA / "edl" / name, src / name)
    shutil.copy(TEST_DATA / "fcp7xml" / "otio-fcp-adapter__hiero_xml_export.xml", src / "hiero.xml")
    result = run_cli("convert", str(src), str(tmp_path / "out"), "--to", "xml", "--xmeml-version", "5", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["result"]["conversions"]
    assert {Path(r["outputs"][0]).name for r in report} == {
        "otio-cmx3600-adapter__transition_duration.xml",
        "otio-cmx3600-adapter__avid_example.xml",
        "hiero.xml",
    }
    for r in report:
        text = Path(r["outputs"][0]).read_text()
        assert '<xmeml version="5">' in text
        read_xmeml(text)
    inferred = next(r for r in report if "transition_duration" in r["source"])
    assert any(item["feature"] == "rate" for item in inferred["losses"])  # the EDL stated no rate


def test_to_otio_and_resolve_otio(tmp_path: Path) -> None:
    src = TEST_DATA / "fcp7xml" / "otio-fcp-adapter__hiero_xml_export.xml"
    assert run_cli("convert", str(src), str(tmp_path / "plain.otio")).returncode == 0
    plain = otio.adapters.read_from_file(str(tmp_path / "plain.otio"))
    assert len(list(plain.find_clips())) == 2
    result = run_cli("convert", str(src), str(tmp_path / "resolve.otio"), "--to", "resolve-otio")
    assert result.returncode == 0, result.stderr
    raw = json.loads((tmp_path / "resolve.otio").read_text())
    assert raw["metadata"]["Resolve_OTIO"] == {"Resolve OTIO Meta Version": "1.0"}
    clip = next(c for c in raw["tracks"]["children"][0]["children"] if c["OTIO_SCHEMA"].startswith("Clip"))
    assert clip["OTIO_SCHEMA"] == "Clip.2" and clip["active_media_reference_key"] == "DEFAULT_MEDIA"
    back = read_resolve_otio((tmp_path / "resolve.otio").read_text())
    assert [c.name for c in back.find_clips()] == [c.name for c in plain.find_clips()]


def test_resolve_shape_bare_paths_and_timecode_absolute_ranges() -> None:
    rate = 24.0
    timeline = otio.schema.Timeline(name="r")
    track = otio.schema.Track()
    track.append(
        otio.schema.Clip(
            name="a",
            media_reference=otio.schema.ExternalReference(
                target_url="file:///media/a%20b.mov",
                available_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(86400, rate), otio.opentime.RationalTime(240, rate)
                ),
            ),
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(86410, rate), otio.opentime.RationalTime(48, rate)
            ),
        )
    )
    timeline.tracks.append(track)
    before = timeline.to_json_string()
    shaped = to_resolve_shape(timeline)
    assert timeline.to_json_string() == before
    clip = next(iter(shaped.find_clips()))
    assert clip.media_reference.target_url == "/media/a b.mov"
    assert clip.source_range.start_time.value == 86410
    assert shaped.global_start_time.value == 86400  # 01:00:00:00 when the timeline had none
    assert shaped.tracks[0].name == "Video 1"


def test_malformed_input_is_one_error_line_and_no_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text('<?xml version="1.0"?>\n<xmeml version="4">\n<sequence><name>x</sequence>\n')
    out = tmp_path / "out.edl"
    result = run_cli("convert", str(bad), str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.xml:3" in lines[0] and "malformed XML" in lines[0]
    assert list(tmp_path.iterdir()) == [bad]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nothing-here.edl", "x.xml"], "no such file"),
        ([str(PREMIERE), "x.unknown"], "pass --to"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("convert", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not any(p.suffix in (".xml", ".edl") for p in tmp_path.iterdir())


def test_every_local_otio_fixture_reads_and_converts(tmp_path: Path) -> None:
    # The image-sequence fixture's clip lies outside its images: refused (test_image_sequences.py).
    for path in sorted(p for p in (TEST_DATA / "otio").glob("*.otio") if "img_seq" not in p.name):
        result = run_cli("convert", str(path), str(tmp_path / (path.stem + ".xml")), "--json")
        assert result.returncode == 0, result.stderr
        assert (tmp_path / (path.stem + ".xml")).exists()


@pytest.mark.corpus
def test_every_shared_corpus_timeline_converts_to_each_of_our_formats(shared_corpus: Path, tmp_path: Path) -> None:
    """In-process (no subprocess per file): every xmeml, EDL and OTIO file → xml, edl, resolve-otio."""
    from nle_adapters.convert import ConvertOptions, convert

    files = [p for kind in ("fcp7xml", "edl", "otio") for p in sorted((shared_corpus / kind).iterdir())]
    assert len(files) == 24
    for target in ("xml", "edl", "resolve-otio"):
        out = tmp_path / target
        out.mkdir()
        for path in files:
            if target == "xml" and "img_seq" in path.name:
                continue  # its clip lies outside its image sequence: refused (test_image_sequences.py)
            reports = convert(path, out, ConvertOptions(to=target))
            for report in reports:
                assert all(Path(o).stat().st_size > 0 for o in report.outputs)


def test_xmeml_to_fcpxml_version_and_back(tmp_path: Path) -> None:
    src = TEST_DATA / "fcp7xml" / "otio-fcp-adapter__premiere_enable_property.xml"
    result = run_cli("convert", str(src), str(tmp_path / "cut.fcpxml"), "--fcpxml-version", "1.11", "--json")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "cut.fcpxml").read_text()
    assert '<fcpxml version="1.11">' in text
    back = run_cli("convert", str(tmp_path / "cut.fcpxml"), str(tmp_path / "again.xml"), "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["result"]["conversions"][0]["format"] == "fcpxml"
    original = read_xmeml(src.read_bytes())
    again = read_xmeml((tmp_path / "again.xml").read_bytes())
    assert len(list(again.find_clips())) == len(list(original.find_clips()))


def test_an_audio_sample_rate_given_as_the_edl_rate_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    edl = TEST_DATA / "edl" / "otio-cmx3600-adapter__avid_example.edl"
    proc = run_cli("convert", str(edl), str(tmp_path / "out.otio"), "--rate", "48000")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "audio sample rate" in proc.stderr and edl.name in proc.stderr
    assert list(tmp_path.iterdir()) == []
