"""Image sequences into FCP7 XML and FCPXML: linked by their first image, or refused clearly; never offline.

Before: xmeml wrote an image-sequence clip with no ``<pathurl>`` (offline in every NLE, exit 0), while
FCPXML refused it (issue #11 item 4). The XML is checked with lxml, not with our reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio
import pytest
from lxml import etree

from nle_adapters.errors import UnsupportedFeature
from nle_adapters.xmeml import read_xmeml, write_xmeml
from tests.conftest import TEST_DATA, run_cli

UPSTREAM_FIXTURE = TEST_DATA / "otio" / "otio-fcp-adapter__img_seq_media_reference.otio"


def _rt(frames: int) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, 24)


def _timeline(frame_step: int = 1, source_start: int = 1011) -> otio.schema.Timeline:
    """One 24 fps EXR sequence sh010_comp.1001–1100.exr (its TC is the frame number) cut at 1011–1060."""
    ref = otio.schema.ImageSequenceReference(
        target_url_base="file:///mnt/shots/sh 010/",
        name_prefix="sh010_comp.",
        name_suffix=".exr",
        start_frame=1001,
        frame_step=frame_step,
        rate=24,
        frame_zero_padding=4,
        available_range=otio.opentime.TimeRange(_rt(1001), _rt(100)),
    )
    clip = otio.schema.Clip(
        name="sh010", media_reference=ref, source_range=otio.opentime.TimeRange(_rt(source_start), _rt(50))
    )
    timeline = otio.schema.Timeline(name="vfx", global_start_time=_rt(86400))
    timeline.tracks.append(otio.schema.Track(kind=otio.schema.TrackKind.Video, children=[clip]))
    return timeline


@pytest.mark.parametrize(
    ("version", "url"),
    [
        (4, "file://localhost/mnt/shots/sh%20010/sh010_comp.1001.exr"),
        (5, "file:///mnt/shots/sh%20010/sh010_comp.1001.exr"),
    ],
)
def test_xmeml_links_an_image_sequence_by_its_first_image(version: int, url: str) -> None:
    root = etree.fromstring(write_xmeml(_timeline(), version=version).encode("utf-8"))
    (item,) = root.iter("clipitem")
    assert item.findtext("file/pathurl") == url
    assert int(item.findtext("file/duration")) == 100  # the whole sequence, in images
    assert item.findtext("file/timecode/string") == "00:00:41:17"  # image 1001 at 24 fps
    # in/out count images from the first one: 1011 → 10, 1011 + 50 → 60.
    assert (int(item.findtext("in")), int(item.findtext("out"))) == (10, 60)


def test_written_sequence_reads_back_linked_with_the_same_frames() -> None:
    back = read_xmeml(write_xmeml(_timeline(), version=4))
    (clip,) = back.find_clips()
    assert clip.media_reference.target_url == "file://localhost/mnt/shots/sh%20010/sh010_comp.1001.exr"
    assert clip.source_range.start_time.to_frames() == 1011
    assert clip.source_range.duration.to_frames() == 50


def test_xmeml_refuses_a_sequence_that_skips_frames() -> None:
    with pytest.raises(UnsupportedFeature, match=r"'sh010'.*every 2th frame"):
        write_xmeml(_timeline(frame_step=2))


def test_xmeml_refuses_a_clip_outside_its_sequence() -> None:
    with pytest.raises(UnsupportedFeature, match=r"'sh010'.*outside its image sequence"):
        write_xmeml(_timeline(source_start=1080))  # 1080 + 50 runs past image 1100


@pytest.mark.parametrize("suffix", [".xml", ".fcpxml"])
def test_upstream_fixture_is_refused_by_name_with_no_output(tmp_path: Path, suffix: str) -> None:
    """The otio-fcp-adapter fixture's clip starts at 10:25:00:00 in a sequence of images 125–283:
    OTIO itself cannot map it to files, so both writers refuse it, naming the clip, exit 2, no file."""
    out = tmp_path / ("cut" + suffix)
    result = run_cli("convert", str(UPSTREAM_FIXTURE), str(out))
    assert result.returncode == 2
    assert "PREGRADE MIXDOWN" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_convert_reports_first_image_links_and_fcpxml_refuses(tmp_path: Path) -> None:
    src = tmp_path / "vfx.otio"
    otio.adapters.write_to_file(_timeline(), str(src), adapter_name="otio_json")
    result = run_cli("convert", str(src), str(tmp_path / "vfx.xml"), "--json")
    assert result.returncode == 0, result.stderr
    (report,) = json.loads(result.stdout)["result"]["conversions"]
    assert {item["feature"] for item in report["losses"]} >= {"image sequences"}
    assert b"sh010_comp.1001.exr</pathurl>" in (tmp_path / "vfx.xml").read_bytes()
    refused = run_cli("convert", str(src), str(tmp_path / "vfx.fcpxml"))
    assert refused.returncode == 2 and "'sh010'" in refused.stderr and "image sequences" in refused.stderr
    assert not (tmp_path / "vfx.fcpxml").exists()
