"""The fake Resolve's project database (MONTAGE_RESOLVE_DB): what one process saves, the next one finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from nle_adapters.plan_to_otio import build_timeline
from resolve_bridge.connect import connect
from resolve_bridge.errors import ResolveConnectionError
from resolve_bridge.fake import FakeResolve
from resolve_bridge.fake.store import dump
from resolve_bridge.timeline_builder import build_in_resolve
from tests.resolve.helpers import RATES, media, music_media, three_track_plan


def _items(timeline) -> list[tuple]:
    return [
        (
            kind,
            n,
            i.GetName(),
            i.GetStart(),
            i.GetEnd(),
            i.GetSourceStartFrame(),
            i.GetSourceEndFrame(),
            len(i.GetLinkedItems()),
        )
        for kind in ("video", "audio")
        for n in range(1, timeline.GetTrackCount(kind) + 1)
        for i in timeline.GetItemListInTrack(kind, n)
    ]


def test_saved_projects_come_back_in_a_new_fake(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    first = FakeResolve()
    first.use_database(db)
    manager = first.GetProjectManager()
    project = manager.CreateProject("P")
    footage = first.media_pool.add_bin("Footage")
    for key in RATES:
        first.media_pool.add_media(media(tmp_path, key), footage)
    first.media_pool.add_media(music_media(tmp_path), footage)
    plan, analysis = three_track_plan(tmp_path)
    result = build_in_resolve(first, build_timeline(plan, analysis), bin_name="Footage")
    assert result.ok, result.lines()
    timeline = project.GetCurrentTimeline()
    timeline.GetItemListInTrack("video", 2)[0].SetClipColor("Orange")
    assert not db.exists()  # nothing is written before a save, as in Resolve
    assert manager.SaveProject()

    second = FakeResolve()
    second.use_database(db)
    loaded = second.GetProjectManager().LoadProject("P")
    assert loaded is not None and loaded.GetTimelineCount() == 1
    again = loaded.GetCurrentTimeline()
    assert again.GetName() == "Three tracks" and _items(again) == _items(timeline)
    assert again.GetMarkers() == timeline.GetMarkers() and again.GetStartFrame() == timeline.GetStartFrame()
    assert again.GetItemListInTrack("video", 2)[0].GetClipColor() == "Orange"
    assert loaded.GetSetting() == project.GetSetting()
    assert dump(second) == dump(first)  # everything kept, nothing added
    # The unsaved scratch project is not part of the database.
    assert second.GetProjectManager().GetProjectListInCurrentFolder() == ["Untitled Project", "P"]


def test_env_database_and_down_switch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "db.json"
    monkeypatch.setenv("MONTAGE_RESOLVE", "fake")
    monkeypatch.setenv("MONTAGE_RESOLVE_DB", str(db))
    connection = connect()
    connection.resolve.GetProjectManager().CreateProject("Kept")
    assert connection.resolve.GetProjectManager().SaveProject()
    assert connect().resolve.GetProjectManager().LoadProject("Kept") is not None

    monkeypatch.setenv("MONTAGE_RESOLVE_DOWN", "1")
    with pytest.raises(ResolveConnectionError) as info:
        connect()
    assert info.value.reason == "not_running" and "not running" in str(info.value)

    monkeypatch.delenv("MONTAGE_RESOLVE_DOWN")
    db.write_text("{not json")
    with pytest.raises(ResolveConnectionError) as info:
        connect()
    assert str(db) in str(info.value) and "\n" not in str(info.value)
