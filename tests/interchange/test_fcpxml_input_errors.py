"""Malformed and hostile FCPXML: one clear TimelineParseError (file, line, what), never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import opentimelineio as otio
import pytest

from nle_adapters.errors import TimelineParseError
from nle_adapters.fcpxml.reader import read_fcpxml_file, read_fcpxml_string
from tests.conftest import TEST_DATA

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n'
RES = '<resources><format id="r1" frameDuration="1001/24000s" width="1920" height="1080"/>'
ASSET = '<asset id="r2" name="a" start="0s" duration="100s" hasVideo="1" format="r1"><media-rep src="file:///a.mov"/></asset>'


def doc(spine: str, resources: str = RES + ASSET + "</resources>", version: str = "1.10") -> str:
    return (
        f'{HEAD}<fcpxml version="{version}">{resources}<library><event name="e"><project name="p">'
        f'<sequence format="r1" duration="10s" tcStart="0s">\n<spine>\n{spine}\n</spine></sequence>'
        "</project></event></library></fcpxml>"
    )


CASES = {
    "entity bomb": (
        '<?xml version="1.0"?><!DOCTYPE fcpxml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<fcpxml version="1.10">&b;</fcpxml>',
        "refused unsafe XML",
    ),
    "external entity": (
        '<?xml version="1.0"?><!DOCTYPE fcpxml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<fcpxml version="1.10">&x;</fcpxml>',
        "refused unsafe XML",
    ),
    "truncated": (doc('<asset-clip ref="r2" offset="0s" duration="1s"/>')[:-40], "malformed XML"),
    "not fcpxml": ('<?xml version="1.0"?><xmeml version="5"><sequence/></xmeml>', "not an FCPXML document"),
    "bad version": (doc("", version="2.0"), "unsupported FCPXML version"),
    "no project": (f'{HEAD}<fcpxml version="1.10">{RES}</resources></fcpxml>', "no project"),
    "bad time": (doc('<asset-clip ref="r2" offset="zero" duration="1s"/>'), "not an FCPXML time value"),
    "zero denominator": (doc('<asset-clip ref="r2" offset="1/0s" duration="1s"/>'), "divides by zero"),
    "huge number": (doc('<asset-clip ref="r2" offset="0s" duration="' + "9" * 400 + 's"/>'), "too many digits"),
    "missing asset": (doc('<asset-clip ref="r9" offset="0s" duration="1s"/>'), "asset 'r9'"),
    "missing duration": (doc('<gap offset="0s"/>'), "no duration"),
    "negative duration": (doc('<gap offset="0s" duration="-1s"/>'), "negative duration"),
    "bad lane": (doc('<gap offset="0s" duration="1s"><title ref="r1" lane="up" duration="1s"/></gap>'), "lane"),
    "missing format": (
        f'{HEAD}<fcpxml version="1.10"><resources/><project name="p"><sequence format="r7"><spine/></sequence>'
        "</project></fcpxml>",
        "format 'r7'",
    ),
    "missing media": (doc('<ref-clip ref="r5" offset="0s" duration="1s"/>'), "media 'r5'"),
    "self-referencing compound": (
        doc(
            '<ref-clip ref="r5" offset="0s" duration="1s"/>',
            RES + '<media id="r5" name="loop"><sequence format="r1"><spine>'
            '<ref-clip ref="r5" offset="0s" duration="1s"/></spine></sequence></media></resources>',
        ),
        "nested too deeply",
    ),
    "empty": ("   ", "empty"),
    "deeply nested storylines": (
        doc(
            '<gap offset="0s" duration="1s">'
            + '<spine lane="1" offset="0s"><gap offset="0s" duration="1s">' * 3000
            + "</gap></spine>" * 3000
            + "</gap>"
        ),
        "nested too deeply",
    ),
    "deeply nested compound clips": (
        doc('<clip offset="0s" duration="1s">' * 3000 + "</clip>" * 3000),
        "nested too deeply",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_clear_error(name: str) -> None:
    text, message = CASES[name]
    with pytest.raises(TimelineParseError, match=message) as info:
        read_fcpxml_string(text, source="cut.fcpxml")
    assert str(info.value).startswith("cut.fcpxml")


def test_error_names_the_line() -> None:
    text = doc('<gap offset="0s" duration="1s"/>\n<asset-clip ref="r2" offset="1s" duration="one second"/>')
    with pytest.raises(TimelineParseError) as info:
        read_fcpxml_string(text, source="cut.fcpxml")
    assert info.value.line == text.splitlines().index(next(ln for ln in text.splitlines() if "one second" in ln)) + 1
    assert "cut.fcpxml:" in str(info.value) and "duration" in str(info.value)


def test_missing_file_and_bundle_without_info(tmp_path: Path) -> None:
    with pytest.raises(TimelineParseError, match="cannot read file"):
        read_fcpxml_file(tmp_path / "nope.fcpxml")
    (tmp_path / "Cut.fcpxmld").mkdir()
    with pytest.raises(TimelineParseError, match="Info.fcpxml"):
        read_fcpxml_file(tmp_path / "Cut.fcpxmld")


def test_fcpxmld_bundle_reads_through_otio(tmp_path: Path) -> None:
    bundle = tmp_path / "Cut.fcpxmld"
    bundle.mkdir()
    shutil.copy(TEST_DATA / "fcpxml" / "DAWFileKit__24With25Media.fcpxml", bundle / "Info.fcpxml")
    timeline = otio.adapters.read_from_file(str(bundle))
    assert timeline.name == "24With25Media"
    assert len(list(timeline.find_clips())) == 2


def test_relative_media_urls_resolve_against_the_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "Cut.fcpxmld"
    bundle.mkdir()
    text = doc('<asset-clip ref="r2" offset="0s" duration="1s"/>').replace("file:///a.mov", "Media/a%20b.mov")
    (bundle / "Info.fcpxml").write_text(text)
    clip = next(iter(otio.adapters.read_from_file(str(bundle)).find_clips()))
    assert clip.media_reference.target_url == (bundle / "Media" / "a b.mov").resolve().as_uri()


def test_several_projects_give_a_collection() -> None:
    result = otio.adapters.read_from_file(str(TEST_DATA / "fcpxml" / "otio-fcpx-xml-adapter__fcpx_example.fcpxml"))
    assert isinstance(result, otio.schema.SerializableCollection) and len(result) == 2


def test_standalone_clip_export() -> None:
    text = f'{HEAD}<fcpxml version="1.10">{RES}{ASSET}</resources><event name="e">'
    text += '<asset-clip ref="r2" name="solo" start="10s" duration="2s"><marker start="11s" value="m"/></asset-clip>'
    text += "</event></fcpxml>"
    timeline = read_fcpxml_string(text)
    (clip,) = list(timeline.find_clips())
    assert clip.name == "solo" and clip.source_range.duration.value == 48
    assert clip.markers[0].marked_range.start_time.value == 264  # 11 s at 24000/1001, nearest frame


def test_otioconvert_uses_our_adapter(tmp_path: Path) -> None:
    """Any OTIO user gets the adapter through the plugin manifest (no adapter name needed)."""
    import subprocess
    import sys

    out = tmp_path / "out.fcpxml"
    src = TEST_DATA / "fcpxml" / "DAWFileKit__29.97d.fcpxml"
    subprocess.run(
        [str(Path(sys.executable).parent / "otioconvert"), "-i", str(src), "-o", str(out)], check=True, timeout=120
    )
    assert 'frameDuration="1001/30000s"' in out.read_text() and 'tcFormat="DF"' in out.read_text()


def test_unknown_encoding_declaration() -> None:
    text = doc('<gap offset="0s" duration="1s"/>').replace('encoding="UTF-8"', 'encoding="NaN"')
    # Bytes are decoded by what the declaration says, so an unknown codec is an error...
    with pytest.raises(TimelineParseError, match="unknown text encoding"):
        read_fcpxml_string(text.encode("utf-8"), source="cut.fcpxml")
    # ...while already-decoded text no longer depends on it (UTF-16 files arrive this way).
    read_fcpxml_string(text, source="cut.fcpxml")
