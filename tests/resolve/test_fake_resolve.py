"""The fake Resolve encodes the documented and measured behaviour (resolve_api.md §4.3)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from resolve_bridge.fake import FakeResolve, FakeSwitches
from tests.resolve.helpers import media, seeded_fake


def _pool_item(fake: FakeResolve, name: str):
    return next(i for i in fake.media_pool._all_items() if i.GetName() == name)


@pytest.mark.parametrize(
    ("rate", "start"),
    [("24", 86400), ("25", 90000), ("29.97", 108000), ("23.976", 86400), ("29.97 DF", 107892)],
)
def test_timeline_start_frame_follows_the_rate_string(rate: str, start: int) -> None:
    fake = FakeResolve()
    assert fake.project.SetSetting("timelineFrameRate", rate)
    timeline = fake.media_pool.CreateEmptyTimeline("t")
    assert timeline.GetStartFrame() == start
    assert timeline.GetSetting("timelineFrameRate") == rate


def test_project_rate_locks_once_a_timeline_exists() -> None:
    fake = FakeResolve()
    fake.media_pool.CreateEmptyTimeline("t")
    assert fake.project.SetSetting("timelineFrameRate", "25") is False
    assert fake.project.GetSetting("timelineFrameRate") == "24"
    assert fake.project.SetSetting("timelinePlaybackFrameRate", "24") is False  # never settable
    assert fake.project.GetSetting("noSuchKey") == ""


def test_clip_properties_are_strings_like_resolve(tmp_path: Path) -> None:
    fake = seeded_fake(tmp_path)
    item = _pool_item(fake, "c_2997.mov")
    props = item.GetClipProperty()
    assert all(isinstance(v, str) for v in props.values())
    assert props["FPS"] == "29.97" and props["Frames"] == "2000" and props["Start TC"] == "14:23:10;12"
    assert props["Resolution"] == "1920x1080" and props["Audio Ch"] == "2" and props["Type"] == "Video + Audio"
    assert item.GetClipProperty("File Path") == str(tmp_path / "c_2997.mov")
    assert _pool_item(fake, "song.wav").GetClipProperty("FPS") == "24"  # audio: project rate at import


def test_append_semantics_overlap_exclusive_end_and_short_list(tmp_path: Path) -> None:
    fake = seeded_fake(tmp_path)
    pool = fake.media_pool
    fake.project.SetSetting("timelineFrameRate", "25")
    timeline = pool.CreateEmptyTimeline("t")
    b = _pool_item(fake, "b_25.mov")
    infos = [
        {"mediaPoolItem": b, "startFrame": 10, "endFrame": 60, "recordFrame": 90000, "trackIndex": 1, "mediaType": 1},
        {"mediaPoolItem": b, "startFrame": 0, "endFrame": 20, "recordFrame": 90040, "trackIndex": 1, "mediaType": 1},
        {"mediaPoolItem": b, "startFrame": 0, "endFrame": 20, "recordFrame": 90050, "trackIndex": 1, "mediaType": 1},
        {"mediaPoolItem": b, "startFrame": 0, "endFrame": 20, "recordFrame": 90000, "trackIndex": 9, "mediaType": 1},
    ]
    made = pool.AppendToTimeline(infos)
    assert len(made) == 2  # the overlapping one and the one on a missing track are dropped, silently
    first, second = timeline.GetItemListInTrack("video", 1)
    assert (first.GetStart(), first.GetEnd(), first.GetDuration(), first.GetLeftOffset()) == (90000, 90050, 50, 10)
    assert first.GetEnd() == second.GetStart()
    assert timeline.GetItemListInTrack("video", 2) is None


def test_mixed_rate_duration_is_floored(tmp_path: Path) -> None:
    fake = seeded_fake(tmp_path)
    fake.project.SetSetting("timelineFrameRate", "29.97")
    timeline = fake.media_pool.CreateEmptyTimeline("t")
    a = _pool_item(fake, "a_2398.mov")  # 23.976 source on a 29.97 timeline: ×1.25
    (item,) = fake.media_pool.AppendToTimeline(
        [{"mediaPoolItem": a, "startFrame": 0, "endFrame": 3, "recordFrame": 108000, "trackIndex": 1, "mediaType": 1}]
    )
    assert item.GetDuration() == 3  # floor(3.75)
    assert timeline.GetEndFrame() == 108003


def test_markers_timeline_relative_and_palette(tmp_path: Path) -> None:
    fake = FakeResolve()
    timeline = fake.media_pool.CreateEmptyTimeline("t")
    assert timeline.AddMarker(96, "Green", "m", "", 1, "x")
    assert not timeline.AddMarker(96, "Blue", "again", "", 1)  # frame taken (switchable)
    assert not timeline.AddMarker(10, "Orange", "not a marker colour", "", 1)
    assert timeline.GetMarkers() == {
        96.0: {"color": "Green", "duration": 1.0, "note": "", "name": "m", "customData": "x"}
    }


def test_version_profiles_hide_missing_methods() -> None:
    old = FakeResolve("18.0")
    timeline = old.media_pool.CreateEmptyTimeline("t")
    assert "AddTrack" not in dir(timeline) and timeline.AddTrack is None  # like a real unknown attribute
    assert old.EXPORT_OTIO is None and "GetSelectedClips" not in dir(old.media_pool)
    strict = FakeResolve("18.5", strict=True)
    with pytest.raises(AttributeError):
        _ = strict.media_pool.GetSelectedClips
    assert "AddTrack" in dir(strict.media_pool.CreateEmptyTimeline("t"))
    new = FakeResolve("21")
    assert isinstance(new.EXPORT_OTIO, int) and "EXPORT_OTIO" not in dir(new)
    assert FakeResolve.from_name("free-19").GetProductName() == "DaVinci Resolve"
    assert FakeResolve.from_name("studio-20").GetVersionString() == "20.3.2.9"


def test_pre_18_5_append_ignores_track_and_record_frame(tmp_path: Path) -> None:
    fake = FakeResolve("18.0")
    item = fake.media_pool.add_media(media(tmp_path, "b_25"))
    timeline = fake.media_pool.CreateEmptyTimeline("t")
    placed = fake.media_pool.AppendToTimeline(
        [{"mediaPoolItem": item, "startFrame": 0, "endFrame": 10, "recordFrame": 99999, "trackIndex": 3}]
    )
    video = timeline.GetItemListInTrack("video", 1)
    assert video == [placed[0]] and video[0].GetStart() == timeline.GetStartFrame()
    assert len(placed) == 2  # no mediaType: video plus its linked audio


def test_export_through_our_writers_and_fcpxml_bundle(tmp_path: Path) -> None:
    fake = FakeResolve()
    fake.project.SetSetting("timelineFrameRate", "25")
    item = fake.media_pool.add_media(media(tmp_path, "b_25"))
    timeline = fake.media_pool.CreateEmptyTimeline("Export me")
    fake.media_pool.AppendToTimeline([{"mediaPoolItem": item, "startFrame": 5, "endFrame": 55, "mediaType": 1}])
    assert timeline.Export(str(tmp_path / "a.otio"), fake.EXPORT_OTIO)
    back = otio.adapters.read_from_file(str(tmp_path / "a.otio"))
    (clip,) = back.find_clips()
    assert clip.source_range.start_time.value == 25 * 36000 + 5 and clip.source_range.duration.value == 50
    assert timeline.Export(str(tmp_path / "b.fcpxmld"), fake.EXPORT_FCPXML_1_10)
    assert (tmp_path / "b.fcpxmld" / "Info.fcpxml").is_file()
    assert not timeline.Export(str(tmp_path / "c.edl"), fake.EXPORT_EDL)  # EDL needs a subtype
    assert timeline.Export(str(tmp_path / "c.edl"), fake.EXPORT_EDL, fake.EXPORT_NONE)
    assert not timeline.Export(str(tmp_path / "d.otio"), "EXPORT_OTIO")  # a string is silently refused
    assert not (tmp_path / "d.otio").exists()
    assert not timeline.Export(str(tmp_path / "e.drt"), fake.EXPORT_DRT)  # nothing we can write


def test_failure_switches(tmp_path: Path) -> None:
    fake = FakeResolve(switches=FakeSwitches(import_media_fails=True, rate_lock="never"))
    assert fake.media_pool.ImportMedia([str(tmp_path / "x.mov")]) == []
    fake.media_pool.CreateEmptyTimeline("t")
    assert fake.project.SetSetting("timelineFrameRate", "25")
    assert fake.media_pool.CreateEmptyTimeline("t") is None  # duplicate name
    assert fake.project.GetSetting("timelineFrameRate") == "25"
    assert Fraction(25) == Fraction(fake.project.GetSetting("timelineFrameRate"))
