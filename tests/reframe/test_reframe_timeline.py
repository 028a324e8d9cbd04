"""Reframe keyframes in the timeline: OTIO metadata → FCPXML (valid against Apple's DTD) → read back
to the same window, frame by frame; and the render crops the picture where the metadata says."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from nle_adapters.fcpxml.dtd import validate
from nle_adapters.fcpxml.writer import write_timeline
from nle_adapters.plan_to_otio import media_reference
from nle_adapters.reframe_meta import KEY, read_fcpxml_transform, window_at
from reframe.detect import face_model_path
from reframe.timeline import reframe_timeline
from tests.reframe.conftest import FPS, H, W

DTD_DIR = Path(__file__).resolve().parents[1] / "data" / "fcpxml" / "dtd"

pytestmark = pytest.mark.skipif(
    face_model_path() is None and not os.environ.get("CI"), reason="no BlazeFace model installed"
)

START_TC = 3600 * FPS + 10  # the media's embedded start timecode, frames (must not shift the keyframes)


def _timeline(path: Path, source_in: int, frames: int, width: int, height: int) -> otio.schema.Timeline:
    rate = Fraction(FPS)
    timeline = otio.schema.Timeline(name="vertical")
    timeline.global_start_time = otio.opentime.RationalTime(3600 * FPS, FPS)
    timeline.metadata["montage_bridge"] = {
        "rate": "25",
        "width": width,
        "height": height,
        "start_timecode": "01:00:00:00",
    }
    ref = media_reference(path, START_TC, 100, rate, has_video=True, has_audio=False, width=W, height=H)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(5, FPS))))
    track.append(
        otio.schema.Clip(
            name=path.name,
            media_reference=ref,
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(START_TC + source_in, FPS), otio.opentime.RationalTime(frames, FPS)
            ),
        )
    )
    timeline.tracks.append(track)
    return timeline


@pytest.mark.parametrize(("version", "size"), [("1.10", (1080, 1920)), ("1.8", (1080, 1080)), ("1.11", (864, 1080))])
def test_fcpxml_keyframes_reproduce_the_window(moving_face, version, size) -> None:
    path, xs = moving_face
    timeline = _timeline(path, 20, 60, *size)
    report = reframe_timeline(timeline, *size)
    assert report.clips == 1 and report.by_subject == {"face": 1}
    clip = timeline.find_clips()[0]
    meta = dict(clip.metadata["montage_bridge"][KEY])
    # The clip's own frames were watched: the path starts on the face at source frame 20, not frame 0.
    assert meta["keyframes"][0]["frame"] == 20
    assert abs(window_at(meta, 20)[0] + meta["window"][0] / 2 - xs[20 + 6]) < meta["window"][0] / 6

    text = write_timeline(timeline, version)
    assert validate(text, DTD_DIR) == []
    root = ET.fromstring(text)
    asset_clip = root.find(".//asset-clip")
    assert asset_clip is not None
    assert asset_clip.find("adjust-conform").get("type") == "fit"
    transform = asset_clip.find("adjust-transform")
    back = read_fcpxml_transform(transform, (W, H), tuple(meta["window"]), size, Fraction(FPS), START_TC)
    assert len(back) == len(meta["keyframes"]) > 2
    readback = {"window": meta["window"], "keyframes": back}
    for frame in range(20, 80):
        x0, y0, _, _ = window_at(meta, frame)
        bx0, by0, _, _ = window_at(readback, frame)
        assert abs(x0 - bx0) < 0.05 and abs(y0 - by0) < 0.05, frame
    # Keyframe times are media time (start TC included), inside the clip's start..start+duration.
    start = Fraction(asset_clip.get("start").rstrip("s"))
    times = [Fraction(k.get("time").rstrip("s")) for k in transform.iter("keyframe")]
    assert times[0] == start and times[-1] < start + Fraction(60, FPS)


def test_clips_already_in_the_timeline_shape_are_left_alone(moving_face) -> None:
    path, _ = moving_face
    timeline = _timeline(path, 0, 50, 1280, 720)  # 16:9 media in a 16:9 timeline
    assert reframe_timeline(timeline, 1280, 720).clips == 0
    assert "adjust-transform" not in write_timeline(timeline, "1.10")
