"""The OTIO the import path writes is shaped exactly as Resolve writes and reads it, field by field,
and the fake's ImportTimelineFromFile refuses (None) each way of getting it wrong, as Resolve does."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from analysis.models import AnalysisResult, ClipAnalysis, Shot
from kernel.media import MediaItem
from nle_adapters.plan_to_otio import build_timeline
from nle_adapters.resolve_otio import resolve_import_problems
from planner.models import Cut, EditPlan
from resolve_bridge.fake import FakeResolve
from resolve_bridge.timeline_builder import spec_from_otio, write_import_file


def _media(path: Path, rate: Fraction, start: int) -> MediaItem:
    path.write_bytes(b"\0")  # Resolve's import looks the file up; the fake checks it exists
    return MediaItem(
        path=path, name=path.name, rate=rate, frames=5000, start_frame=start, width=1920, height=1080, audio_channels=0
    )


@pytest.fixture
def written(tmp_path: Path) -> tuple[dict, Path, FakeResolve]:
    """A 24 fps timeline cutting a 01:00:00:00 24 fps clip and a 10:00:00:00 25 fps clip, written for import."""
    a = _media(tmp_path / "a 1.mov", Fraction(24), 86400)
    b = _media(tmp_path / "b.mov", Fraction(25), 900000)
    clips = [ClipAnalysis(id="a", media=a, shots=[Shot(start=0, end=5000)])]
    clips.append(ClipAnalysis(id="b", media=b, shots=[Shot(start=0, end=5000)]))
    cuts = [
        Cut(clip_id="a", source_in=10, source_out=58, record_in=0, record_out=48),
        Cut(clip_id="b", source_in=100, source_out=150, record_in=48, record_out=96),
    ]
    plan = EditPlan(name="Shape", rate=Fraction(24), cuts=cuts, planner="t")
    timeline = build_timeline(plan, AnalysisResult(clips=clips))
    path = write_import_file(timeline, spec_from_otio(timeline), "otio", tmp_path / "out")
    fake = FakeResolve("21")
    fake.media_pool.add_media(a)
    fake.media_pool.add_media(b)
    return json.loads(path.read_text()), path, fake


def test_every_field_resolve_reads(written: tuple[dict, Path, FakeResolve]) -> None:
    doc, _, _ = written
    assert doc["OTIO_SCHEMA"] == "Timeline.1"
    assert doc["global_start_time"] == {"OTIO_SCHEMA": "RationalTime.1", "rate": 24.0, "value": 86400.0}
    (video,) = [t for t in doc["tracks"]["children"] if t["kind"] == "Video"]
    assert video["name"] == "Video 1"  # Resolve's own track naming
    a, b = video["children"]
    for clip, path in ((a, "a 1.mov"), (b, "b.mov")):
        assert clip["OTIO_SCHEMA"] == "Clip.2"
        assert set(clip["media_references"]) == {clip["active_media_reference_key"]}
        ref = clip["media_references"][clip["active_media_reference_key"]]
        assert ref["OTIO_SCHEMA"] == "ExternalReference.1"
        assert ref["target_url"].endswith("/" + path) and ref["target_url"].startswith("/")  # bare, unescaped
        assert "file:" not in ref["target_url"] and "%20" not in ref["target_url"]
        assert ref["available_range"]["OTIO_SCHEMA"] == "TimeRange.1"
    # Source ranges start at the media's own timecode origin (start TC + frame), at the media's rate.
    assert a["media_references"]["DEFAULT_MEDIA"]["available_range"]["start_time"] == {
        "OTIO_SCHEMA": "RationalTime.1",
        "rate": 24.0,
        "value": 86400.0,
    }
    assert a["source_range"]["start_time"]["value"] == 86410.0 and a["source_range"]["duration"]["value"] == 48.0
    b_avail = b["media_references"]["DEFAULT_MEDIA"]["available_range"]
    assert (b_avail["start_time"]["rate"], b_avail["start_time"]["value"]) == (25.0, 900000.0)
    assert (b["source_range"]["start_time"]["rate"], b["source_range"]["start_time"]["value"]) == (25.0, 900100.0)
    # ...and the length stays in timeline frames, so the next clip's record position is exact.
    assert (b["source_range"]["duration"]["rate"], b["source_range"]["duration"]["value"]) == (24.0, 48.0)
    assert resolve_import_problems(json.dumps(doc)) == []


def _break(doc: dict, how: str) -> dict:
    doc = json.loads(json.dumps(doc))
    (video,) = [t for t in doc["tracks"]["children"] if t["kind"] == "Video"]
    clip = video["children"][0]
    ref = clip["media_references"]["DEFAULT_MEDIA"]
    if how == "file_url":
        ref["target_url"] = "file://" + ref["target_url"].replace(" ", "%20")
    elif how == "no_available_range":
        ref["available_range"] = None
    elif how == "clip_1":  # the pre-0.16 single-reference schema
        clip["OTIO_SCHEMA"] = "Clip.1"
        clip["media_reference"] = clip.pop("media_references")["DEFAULT_MEDIA"]
        del clip["active_media_reference_key"]
    elif how == "zero_based":  # 0-based source offsets on media that starts at 01:00:00:00
        clip["source_range"]["start_time"]["value"] = 10.0
    elif how == "active_key_missing":
        clip["active_media_reference_key"] = "HIGH_RES"
    return doc


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("file_url", "is not a bare file path"),
        ("no_available_range", "has no available_range"),
        ("clip_1", "Resolve reads Clip.2"),
        ("zero_based", "source ranges count from the media's start timecode"),
        ("active_key_missing", "no media_references map holding"),
    ],
)
def test_fake_import_refuses_each_shape_violation(
    written: tuple[dict, Path, FakeResolve], tmp_path: Path, how: str, reason: str
) -> None:
    doc, _, fake = written
    bad = tmp_path / f"{how}.otio"
    bad.write_text(json.dumps(_break(doc, how)))
    assert fake.media_pool.ImportTimelineFromFile(str(bad), {"timelineName": how}) is None
    assert any(reason in r for r in fake.import_refusals), fake.import_refusals
    assert fake.project.GetTimelineCount() == 0


def test_fake_import_accepts_the_shape_once_per_name(written: tuple[dict, Path, FakeResolve]) -> None:
    _, path, fake = written
    timeline = fake.media_pool.ImportTimelineFromFile(str(path), {"timelineName": "Shape"})
    assert timeline is not None and fake.import_refusals == []
    a, b = timeline.GetItemListInTrack("video", 1)
    assert (a.GetStart(), a.GetDuration(), a.GetLeftOffset()) == (86400, 48, 10)
    assert (b.GetStart(), b.GetDuration(), b.GetLeftOffset()) == (86448, 48, 100)
    assert fake.media_pool.ImportTimelineFromFile(str(path), {"timelineName": "Shape"}) is None
    assert fake.import_refusals == ["a timeline named 'Shape' exists"]


def test_otio_upstream_reader_still_reads_it(written: tuple[dict, Path, FakeResolve]) -> None:
    # Shaped for Resolve, but still plain OTIO: the library itself reads it back with the same cut.
    _, path, _ = written
    timeline = otio.adapters.read_from_file(str(path), "otio_json")
    a, b = timeline.video_tracks()[0].find_clips()
    assert timeline.video_tracks()[0].range_of_child(b).start_time.to_frames(24) == 48
    assert a.media_reference.target_url.endswith("a 1.mov")


def test_writer_shapes_in_place_and_puts_the_timeline_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer shapes the timeline itself (no deep copy) and restores it, also when writing fails:
    the text equals the deep-copy shape's, and the timeline serialises as before, byte for byte."""
    from nle_adapters import resolve_otio

    a = _media(tmp_path / "a.mov", Fraction(24), 86400)
    b = _media(tmp_path / "b.mov", Fraction(25), 900000)
    clips = [ClipAnalysis(id=c, media=m, shots=[Shot(start=0, end=5000)]) for c, m in (("a", a), ("b", b))]
    cuts = [
        Cut(clip_id="a", source_in=10, source_out=58, record_in=0, record_out=48),
        Cut(clip_id="b", source_in=100, source_out=150, record_in=48, record_out=96),
    ]
    timeline = build_timeline(
        EditPlan(name="Put back", rate=Fraction(24), cuts=cuts, planner="t"), AnalysisResult(clips=clips)
    )
    timeline.global_start_time = None  # the writer sets one; it must go again
    timeline.tracks[0].name = "V1"
    before = otio.adapters.write_to_string(timeline, "otio_json")
    expected = otio.adapters.write_to_string(resolve_otio.to_resolve_shape(timeline), "otio_json")
    assert expected != before
    assert resolve_otio.write_resolve_otio(timeline) == expected
    assert otio.adapters.write_to_string(timeline, "otio_json") == before

    def fail(*_args: object, **_kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(resolve_otio.otio.adapters, "write_to_string", fail)
    with pytest.raises(OSError):
        resolve_otio.write_resolve_otio(timeline)
    monkeypatch.undo()
    assert otio.adapters.write_to_string(timeline, "otio_json") == before


def test_fake_import_of_a_timeline_without_tracks_is_none_not_a_crash() -> None:
    # "tracks": null passes the shape check (nothing in it is misshapen) but OTIO's video_tracks()
    # dereferences the missing stack: the fake refused nothing and took the test process down.
    fake = FakeResolve()
    empty = Path(__file__).resolve().parents[1] / "data" / "fuzz" / "otio-timeline-tracks-null.otio"
    assert fake.media_pool.ImportTimelineFromFile(str(empty), {"timelineName": "Empty"}) is None
    assert fake.project.GetTimelineCount() == 0
