"""Folder conversions keep every output: inputs sharing a name get distinct outputs, and outputs that
would still collide (or replace an input) are refused before anything is written (issue #11 item 6).

Before: ``convert FOLDER OUT --to fcpxml`` with cut.xml, cut.edl, cut.fcpxml and cut.otio wrote all
four onto ``OUT/cut.fcpxml``, exit 0: the last one won, silently.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import opentimelineio as otio
import pytest

from nle_adapters.convert import ConvertError, ConvertOptions, convert, read_timelines
from tests.conftest import TEST_DATA, run_cli

INPUTS = {
    "cut.xml": TEST_DATA / "fcp7xml" / "otio-fcp-adapter__premiere_example.xml",
    "cut.edl": TEST_DATA / "edl" / "otio-cmx3600-adapter__avid_example.edl",
    "cut.fcpxml": TEST_DATA / "fcpxml" / "DAWFileKit__25i.fcpxml",
    "Cut.otio": TEST_DATA / "otio" / "OpenTimelineIO__transition.otio",  # same name but for case
    "other.edl": TEST_DATA / "edl" / "otio-cmx3600-adapter__transition_duration.edl",
}


def _folder(root: Path, names: dict[str, Path]) -> Path:
    folder = root / "in"
    folder.mkdir()
    for name, source in names.items():
        shutil.copy(source, folder / name)
    return folder


def _timeline_names(path: Path) -> list[str]:
    _, timelines = read_timelines(path)
    return [t.name for t in timelines]


def test_inputs_sharing_a_name_keep_their_suffix_and_every_output_survives(tmp_path: Path) -> None:
    src = _folder(tmp_path, INPUTS)
    out = tmp_path / "out"
    result = run_cli("convert", str(src), str(out), "--to", "fcpxml", "--json")
    assert result.returncode == 0, result.stderr
    reports = json.loads(result.stdout)["result"]["conversions"]
    assert sorted(p.name for p in out.iterdir()) == [
        "Cut.otio.fcpxml",
        "cut.edl.fcpxml",
        "cut.fcpxml.fcpxml",
        "cut.xml.fcpxml",
        "other.fcpxml",  # no clash: the plain name
    ]
    # Each output holds its own input's timeline (the five names differ), and the report says which.
    assert len(reports) == 5
    for report in reports:
        (output,) = report["outputs"]
        assert Path(output).parent == out
        assert _timeline_names(Path(output)) == _timeline_names(Path(report["source"])), report["source"]


def test_outputs_that_would_still_collide_are_refused_before_writing(tmp_path: Path) -> None:
    """``x.otio`` with two timelines writes x_1 and x_2; ``x_1.otio`` would also write x_1: refused,
    naming both inputs, and nothing is written (not even the outputs that did not clash)."""
    src = tmp_path / "in"
    src.mkdir()
    one = otio.adapters.read_from_file(str(INPUTS["Cut.otio"]), adapter_name="otio_json")
    two = one.deepcopy()
    two.name = "second"
    otio.adapters.write_to_file(
        otio.schema.SerializableCollection(name="x", children=[one, two]), str(src / "x.otio"), adapter_name="otio_json"
    )
    shutil.copy(INPUTS["Cut.otio"], src / "x_1.otio")
    shutil.copy(INPUTS["other.edl"], src / "a.edl")
    out = tmp_path / "out"
    with pytest.raises(ConvertError, match=r"x_1\.xml: .*x\.otio.*x_1\.otio|x_1\.xml: .*x_1\.otio.*x\.otio"):
        convert(src, out, ConvertOptions(to="xml"))
    assert not out.exists() or list(out.iterdir()) == []


def test_converting_a_folder_into_itself_never_replaces_an_input(tmp_path: Path) -> None:
    src = _folder(tmp_path, {"cut.xml": INPUTS["cut.xml"]})
    before = (src / "cut.xml").read_bytes()
    result = run_cli("convert", str(src), str(src), "--to", "xml")
    assert result.returncode == 2
    assert "would overwrite the input" in result.stderr and "Traceback" not in result.stderr
    assert (src / "cut.xml").read_bytes() == before
    assert sorted(p.name for p in src.iterdir()) == ["cut.xml"]


def test_a_single_file_onto_itself_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    shutil.copy(INPUTS["cut.xml"], path)
    with pytest.raises(ConvertError, match="would overwrite the input"):
        convert(path, path, ConvertOptions())
