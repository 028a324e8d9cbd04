"""Reframe keyframes in FCP7 XML: Basic Motion (scale in percent of the file's pixels, center in
units of the sequence frame, ``when`` in the clipitem's frames) written, read back to the same
window frame by frame, with another media rate and on a proxy; Premiere's own Basic Motion (a
zoom out, or nothing at all) is not taken for a crop."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from nle_adapters.plan_to_otio import media_reference
from nle_adapters.reframe_meta import KEY, clip_reframe, window_at, xmeml_motion
from nle_adapters.xmeml.reader import read_xmeml
from nle_adapters.xmeml.writer import write_xmeml

SRC_W, SRC_H = 1920, 1080
DATA = Path(__file__).resolve().parents[1] / "data" / "fcp7xml"


def _meta(frames: int) -> dict:
    """A 9:16 window (607.5 x 1080 px of a 1920 x 1080 picture) panning right and a little down."""
    return {
        "version": 1,
        "aspect": "9:16",
        "source": [SRC_W, SRC_H],
        "window": [607.5, 1080.0],
        "keyframes": [
            {"frame": 30, "x": 600.0, "y": 540.0},
            {"frame": 30 + frames // 2, "x": 960.0, "y": 540.0},
            {"frame": 30 + frames - 1, "x": 1300.0, "y": 540.0},
        ],
        "subject": "face",
        "tolerance_px": 0.5,
    }


def _timeline(meta: dict, media_rate: Fraction, seq_rate: Fraction, size=(1080, 1920), ref_size=(SRC_W, SRC_H)):
    timeline = otio.schema.Timeline(name="vertical")
    timeline.global_start_time = otio.opentime.RationalTime(3600 * seq_rate, seq_rate)
    timeline.metadata["montage_bridge"] = {"rate": str(seq_rate), "width": size[0], "height": size[1]}
    start_tc = int(10 * 3600 * media_rate)  # a camera's time-of-day TC: must not move the keyframes
    path = Path("/footage/walk.mov")
    ref = media_reference(
        path, start_tc, 600, media_rate, has_video=True, has_audio=False, width=ref_size[0], height=ref_size[1]
    )
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    clip = otio.schema.Clip(
        name="walk",
        media_reference=ref,
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start_tc + 30, media_rate), otio.opentime.RationalTime(120, media_rate)
        ),
    )
    clip.metadata["montage_bridge"] = {KEY: meta}
    track.append(clip)
    timeline.tracks.append(track)
    return timeline


@pytest.mark.parametrize(
    ("media_rate", "seq_rate", "size"),
    [
        (Fraction(25), Fraction(25), (1080, 1920)),
        (Fraction(50), Fraction(25), (1080, 1080)),
        (Fraction(24000, 1001), Fraction(24000, 1001), (864, 1080)),
    ],
)
def test_basic_motion_reproduces_the_window(media_rate, seq_rate, size) -> None:
    meta = _meta(120)
    if size[0] / size[1] != 9 / 16:
        meta["window"] = [1080.0 * size[0] / size[1], 1080.0]
    text = write_xmeml(_timeline(meta, media_rate, seq_rate, size))
    root = ET.fromstring(text.split("\n", 2)[2])
    effect = root.find(".//clipitem/filter/effect[effectid='basic']")
    assert effect is not None and effect.findtext("name") == "Basic Motion"
    scale = float(effect.findtext("parameter[parameterid='scale']/value"))
    assert scale == pytest.approx(100 * size[1] / 1080)  # the window's height fills the frame
    center = effect.find("parameter[parameterid='center']")
    whens = [int(k.findtext("when")) for k in center.findall("keyframe")]
    # Clipitem frames (the space of <in>): source frame 30 at the sequence rate, start TC left out.
    assert whens[0] == int(30 * seq_rate / media_rate) == int(root.findtext(".//clipitem/in"))
    # Left of centre in the source: the picture moves right (positive horiz), in units of frame width.
    first = center.find("keyframe/value")
    s = size[1] / 1080
    assert float(first.findtext("horiz")) == pytest.approx((960 - 600) * s / size[0], abs=1e-6)
    assert float(first.findtext("vert")) == 0

    back = read_xmeml(text)
    framed = clip_reframe(back.find_clips()[0])
    assert framed is not None and framed["source"] == [SRC_W, SRC_H]
    assert framed["aspect"] == {(1080, 1920): "9:16", (1080, 1080): "1:1", (864, 1080): "4:5"}[size]
    assert framed["window"] == pytest.approx(meta["window"], abs=0.01)
    step = int(media_rate / seq_rate)  # the source frames the sequence shows
    for frame in range(30, 150, step):
        want, got = window_at(meta, frame), window_at(framed, frame)
        assert got == pytest.approx(want, abs=0.05), frame


def test_on_a_proxy_the_scale_is_of_the_proxys_pixels() -> None:
    meta = _meta(120)
    timeline = _timeline(meta, Fraction(25), Fraction(25), ref_size=(960, 540))
    scale, _ = xmeml_motion(meta, (1080, 1920), (960, 540))
    assert scale == pytest.approx(2 * 100 * 1920 / 1080)  # half the pixels, twice the percent
    back = read_xmeml(write_xmeml(timeline))
    framed = clip_reframe(back.find_clips()[0])
    assert framed["source"] == [960, 540]  # read in the proxy's pixels: the same window, halved
    for frame in (30, 90, 149):
        want = [v / 2 for v in window_at(meta, frame)]
        assert window_at(framed, frame) == pytest.approx(want, abs=0.05)


def test_clips_without_a_reframe_get_no_basic_motion() -> None:
    timeline = _timeline(_meta(120), Fraction(25), Fraction(25))
    del timeline.find_clips()[0].metadata["montage_bridge"][KEY]
    text = write_xmeml(timeline)
    assert "Basic Motion" not in text
    assert clip_reframe(read_xmeml(text).find_clips()[0]) is None


def test_premieres_basic_motion_is_a_crop_only_when_it_zooms_in() -> None:
    # Premiere writes Basic Motion on every clip: mostly scale 93.8 (a zoom out: no crop), and on
    # one clip an editor's zoom in to 140 % moved up: that one is a crop window, read as such.
    source = DATA / "otio-fcp-adapter__empty_name_tags.xml"
    timeline = read_xmeml(source.read_text())
    framed = {c.name: clip_reframe(c) for c in timeline.find_clips() if clip_reframe(c) is not None}
    assert len(list(timeline.find_clips())) > 20 and list(framed) == ["mymovie.mov"]
    meta = framed["mymovie.mov"]
    assert meta["window"] == pytest.approx([1920 / 1.4, 1080 / 1.4], abs=0.01)
    assert meta["source"] == [1920, 1080] and meta["aspect"] == "16:9" and len(meta["keyframes"]) == 1
    x0, y0, w, h = window_at(meta, 0)
    assert 0 <= x0 and x0 + w <= 1920 and 0 <= y0 and y0 + h <= 1080
