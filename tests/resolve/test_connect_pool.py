"""Connecting (menu globals, external module, diagnosed failures) and reading the media pool."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from kernel.probe import probe_media
from resolve_bridge.capabilities import Capabilities
from resolve_bridge.connect import candidate_paths, connect, connect_external, load_script_module
from resolve_bridge.errors import ResolveConnectionError
from resolve_bridge.fake import FakeResolve, FakeSwitches
from resolve_bridge.media_pool import read_media_items
from resolve_bridge.pool_raw import PoolError


def test_menu_globals_come_first_in_documented_order() -> None:
    fake = FakeResolve()
    assert connect(fake.menu_globals()).mode == "menu"
    only_app = {"app": fake.menu_globals()["app"]}
    assert connect(only_app).resolve is fake
    only_bmd = {"bmd": fake.menu_globals()["bmd"]}
    assert connect(only_bmd).resolve is fake


def test_external_connection_and_each_failure_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeResolve()
    assert connect_external(fake.module(), is_running=lambda: True) is fake
    fake.switches.not_running = True
    with pytest.raises(ResolveConnectionError, match="not running — start it") as err:
        connect_external(fake.module(), is_running=lambda: False)
    assert err.value.reason == "not_running"
    fake.switches.not_running = False
    fake.switches.external_scripting = "none"
    with pytest.raises(ResolveConnectionError, match="External scripting using' must be Local"):
        connect_external(fake.module(), is_running=lambda: True)
    free = FakeResolve(studio=False)
    with pytest.raises(ResolveConnectionError, match="needs DaVinci Resolve Studio .*Workspace ▸ Scripts") as err:
        connect_external(free.module(), is_running=lambda: True)
    assert err.value.reason == "refused"
    with pytest.raises(ResolveConnectionError, match="did not load into this Python") as err:
        connect_external(types.ModuleType("DaVinciResolveScript"), is_running=lambda: True)
    assert err.value.reason == "python_mismatch"


def test_module_search_uses_env_vars_then_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    apis, libs = candidate_paths({"RESOLVE_SCRIPT_API": "/x/api", "RESOLVE_SCRIPT_LIB": "/x/lib.so"}, "linux")
    assert apis[0] == "/x/api" and "/opt/resolve/Developer/Scripting" in apis
    assert libs[0] == "/x/lib.so" and "/opt/resolve/libs/Fusion/fusionscript.so" in libs
    apis, libs = candidate_paths({"PROGRAMDATA": r"D:\PD"}, "win32")
    assert apis == [r"D:\PD\Blackmagic Design\DaVinci Resolve\Support\Developer\Scripting"]
    assert libs == [r"C:\Program Files\Blackmagic Design\DaVinci Resolve\fusionscript.dll"]
    # A library that exists but will not load into this Python is a Python mismatch, not "not installed".
    bad = tmp_path / "fusionscript.so"
    bad.write_bytes(b"not a shared object")
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(ResolveConnectionError, match="cannot be loaded by Python") as err:
        load_script_module({"RESOLVE_SCRIPT_API": str(tmp_path / "none"), "RESOLVE_SCRIPT_LIB": str(bad)})
    assert err.value.reason == "python_mismatch"
    # Blackmagic's shim module, found through RESOLVE_SCRIPT_API/Modules, is used when present.
    modules = tmp_path / "api" / "Modules"
    modules.mkdir(parents=True)
    (modules / "DaVinciResolveScript.py").write_text("def scriptapp(name, *a):\n    return None\n")
    module = load_script_module({"RESOLVE_SCRIPT_API": str(tmp_path / "api")})
    assert callable(module.scriptapp)
    monkeypatch.delitem(sys.modules, "DaVinciResolveScript")


def test_fake_is_selected_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONTAGE_RESOLVE", "fake")
    monkeypatch.setenv("MONTAGE_RESOLVE_PROFILE", "free-19")
    connection = connect()
    assert connection.mode == "fake" and connection.capabilities.label == "DaVinci Resolve 19.1.3.7"
    assert not connection.capabilities.studio


def test_edition_and_version_limits_are_spelled_out() -> None:
    free_21_1 = Capabilities.of(FakeResolve("21.1", studio=False)).limits()
    assert any("lists only Lua scripts" in line and "Lua entries" in line for line in free_21_1)
    assert any("does not allow external scripting" in line for line in free_21_1)
    assert Capabilities.of(FakeResolve("21")).limits() == []
    old = Capabilities.of(FakeResolve("18.0")).limits()
    assert "AppendToTimeline gained trackIndex/recordFrame in 18.5" in old[0]
    assert any("does not import OTIO" in line for line in old)


def test_media_pool_reads_like_probing_the_files(sample_media: Path, facts: dict) -> None:
    fake = FakeResolve()
    fake.import_folder(sample_media / "footage", "Footage/Day 1")
    fake.import_folder(sample_media, "Music")  # the whole folder: music.wav and the clips again
    scan = read_media_items(fake, bin_path="Footage")
    assert [c.bin for c in scan.clips] == ["Footage/Day 1"] * 3
    for clip in scan.clips:
        truth = probe_media(clip.media.path)
        fact = facts["clips"][clip.media.name]
        assert clip.media.rate == truth.rate and clip.media.frames == truth.frames == fact["frames"]
        assert clip.media.start_frame == fact["start_frame"] and clip.media.drop_frame == fact["drop_frame"]
        assert (clip.media.width, clip.media.height) == (truth.width, truth.height)
        assert clip.media.audio_channels == truth.audio_channels
    music = read_media_items(fake, bin_path="Music", recursive=False)
    assert [a.media.name for a in music.audio] == ["music.wav"] and music.audio[0].media.has_video is False
    fake.media_pool.SetCurrentFolder(fake.media_pool.GetRootFolder().GetSubFolderList()[0])
    assert len(read_media_items(fake).clips) == 3  # the current bin, recursively
    with pytest.raises(PoolError, match="holds no clips"):
        read_media_items(fake, bin_path="Footage", recursive=False)  # the clips sit in Footage/Day 1


def test_selected_clips_and_pool_errors(tmp_path: Path, sample_media: Path) -> None:
    fake = FakeResolve("19")
    items = fake.import_folder(sample_media / "footage", "Footage")
    fake.media_pool.select(items[:2])
    scan = read_media_items(fake, selected=True)
    assert [c.media.name for c in scan.clips] == [i.GetName() for i in items[:2]]
    fake.media_pool.select([])
    with pytest.raises(PoolError, match="no clips are selected"):
        read_media_items(fake, selected=True)
    with pytest.raises(PoolError, match=r"bin 'Nope' does not exist \(bins there: Footage\)"):
        read_media_items(fake, bin_path="Nope")
    with pytest.raises(PoolError, match="cannot report the selected media pool clips"):
        read_media_items(FakeResolve("18.5"), selected=True)
    timeline_only = FakeResolve()
    timeline_only.media_pool.add_media({"Clip Name": "Timeline 1", "Type": "Timeline"})
    scan = read_media_items(timeline_only)
    assert scan.clips == [] and scan.skipped == ["Timeline 1: Timeline is not footage"]


def test_external_mode_free_edition_is_refused_even_when_running() -> None:
    free = FakeResolve(studio=False, switches=FakeSwitches(external_scripting="local"))
    assert free.module().scriptapp("Resolve") is None
    assert connect(free.menu_globals()).capabilities.studio is False  # the menu path still works on free
