"""The Lua Scripts-menu entries, run in a real LuaJIT (lupa) against the fake Resolve — not read, run.

Resolve embeds LuaJIT (Lua 5.1); lupa ships the same engine. Each entry is the installer's own
rendering, with the CLI command pointed at this environment, and talks to the fake the way a menu
script talks to Resolve: ``resolve`` global, ``obj:Method()`` calls, 1-based tables.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from resolve_bridge.apply import import_spec_file
from resolve_bridge.fake import FakeResolve, FakeSwitches
from resolve_bridge.install import ENTRIES, ResolveInstall, choose_launchers, install
from resolve_bridge.lua_launcher import render_lua
from tests.conftest import run_cli

lupa = pytest.importorskip(
    "lupa", reason="lupa (test extra) runs the Lua launchers; pip install 'montage-bridge[test]'"
)
from resolve_bridge.fake.lua import LuaResolveHost  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "resolve" / "Utility"
CLI = [sys.executable, "-m", "montage_bridge"]
BY_ACTION = {action: (title, description) for title, (action, description) in ENTRIES.items()}


@pytest.fixture(autouse=True)
def _cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # io.popen inherits this process's environment: the CLI must find this checkout, exports a temp dir.
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("MONTAGE_BRIDGE_EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.chdir(REPO)


def entry(tmp_path: Path, action: str, command: list[str] | None = None) -> Path:
    title, description = BY_ACTION[action]
    path = tmp_path / f"{title}.lua"
    path.write_text(render_lua(title, action, description, command or CLI), encoding="utf-8")
    return path


def shoot_fake(sample_media: Path, profile: str = "21.1", **kwargs) -> FakeResolve:
    fake = FakeResolve(profile, studio=False, **kwargs)
    fake.import_folder(sample_media, "Shoot")
    pool = fake.media_pool
    pool.SetCurrentFolder(pool.GetRootFolder().GetSubFolderList()[0])
    return fake


def test_repo_lua_copies_are_the_installer_template() -> None:
    for title, (action, description) in ENTRIES.items():
        assert (SCRIPTS / f"{title}.lua").read_text(encoding="utf-8") == render_lua(title, action, description)


def test_auto_edit_on_free_21_1_imports_and_verifies(
    sample_media: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = shoot_fake(sample_media)
    fake.media_pool.CreateEmptyTimeline("Montage - Shoot")  # taken: Resolve would answer None to that name
    host = LuaResolveHost(fake)
    assert host.run_file(entry(tmp_path, "auto_edit")) is True
    console = capfd.readouterr().out
    assert "[Montage Bridge] connected to DaVinci Resolve 21.1.0.8 (lua)" in console
    assert "[Montage Bridge] analysis: " in console  # the CLI's progress lines, relayed as they come
    timeline = fake.project.GetCurrentTimeline()
    assert timeline.GetName() == "Montage - Shoot 2"
    placed = sum(len(timeline.GetItemListInTrack("video", i)) for i in range(1, timeline.GetTrackCount("video") + 1))
    placed += len(timeline.GetItemListInTrack("audio", 1))
    assert f"timeline 'Montage - Shoot 2' (import): {placed}/{placed} clips placed" in console
    assert [n for n, _ in fake.calls] == ["ImportTimelineFromFile"]  # the file path: no AppendToTimeline
    assert fake.import_refusals == [] and timeline.GetMarkers()
    assert list(host.runtime.globals().MB_LINES.values())[-1].startswith("timeline 'Montage - Shoot 2'")


def test_lua_and_python_verification_report_the_same_clips(sample_media: Path, tmp_path: Path) -> None:
    # One plan and import file; "Resolve" places one source a frame late. Both paths must name the same clips.
    from resolve_bridge.lua_launcher import answer_lines, auto_edit_answer
    from resolve_bridge.pool_raw import read_pool

    records = read_pool(shoot_fake(sample_media))
    rows, spec = auto_edit_answer({"records": records}, (21, 1, 0, 8), tmp_path / "plan")
    answer = tmp_path / "answer.tsv"
    answer.write_text(answer_lines(rows), encoding="utf-8")
    # A stand-in CLI that hands the Lua entry this answer (no second analysis run).
    cli = tmp_path / "answer_cli.py"
    cli.write_text(
        f"import shutil, sys\nshutil.copy({str(answer)!r}, sys.argv[sys.argv.index('--out') + 1] + '/answer.tsv')\n"
    )
    nudged = FakeSwitches(nudge_clip_names={"city_25.mov"})
    lua_fake, py_fake = shoot_fake(sample_media, switches=nudged), shoot_fake(sample_media, switches=nudged)
    host = LuaResolveHost(lua_fake)
    assert host.run_file(entry(tmp_path, "auto_edit", [sys.executable, str(cli)])) is False
    lua_lines = [str(v) for v in host.runtime.globals().MB_LINES.values()]
    facts = {r[0]: r[1] for r in rows if r[0] in ("import_file", "source_clips_path")}
    py = import_spec_file(py_fake, spec, facts["import_file"], source_clips_path=facts["source_clips_path"])
    lua_dropped = sorted(line.removeprefix("dropped: ") for line in lua_lines if line.startswith("dropped: "))
    assert lua_dropped and lua_dropped == sorted(py.dropped)
    # Nudged city clips are missing where planned; a clip a nudged one now overlaps is dropped too.
    assert any(d.startswith("city_25.mov on ") for d in lua_dropped)
    lua_unexpected = [line for line in lua_lines if "unexpected item city_25.mov" in line]
    assert len(lua_unexpected) == len([m for m in py.mismatched if "unexpected item city_25.mov" in m])
    assert f"{py.placed}/{py.expected} clips placed" in " ".join(lua_lines)


def test_analyze_marks_shots_and_beats_and_replaces_only_its_own_markers(
    sample_media: Path, facts: dict, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = shoot_fake(sample_media, profile="19")
    items = {i.GetName(): i for i in fake.media_pool._all_items()}
    items["city_25.mov"].AddMarker(3, "Yellow", "editor's note", "", 1, "")
    items["city_25.mov"].AddMarker(5, "Green", "old shot", "", 1, "montage-bridge:shot")
    assert LuaResolveHost(fake).run_file(entry(tmp_path, "analyze")) is True
    for name, clip_facts in facts["clips"].items():
        frames = sorted(int(f) for f in items[name].GetMarkers())
        assert all(any(abs(f - cut) <= 1 for f in frames) for cut in clip_facts["cuts"]), (name, frames)
    city = items["city_25.mov"].GetMarkers()
    assert city[3.0]["name"] == "editor's note" and 5.0 not in city  # ours replaced, the editor's kept
    assert any(m["customData"] == "montage-bridge:beat" for m in items["music.wav"].GetMarkers().values())
    assert "[Montage Bridge] added " in capfd.readouterr().out


def test_export_shows_its_outcome_in_a_uimanager_window(sample_media: Path, tmp_path: Path) -> None:
    fake = FakeResolve("20")
    (clip,) = [i for i in fake.import_folder(sample_media / "footage") if i.GetName() == "city_25.mov"]
    timeline = fake.media_pool.CreateEmptyTimeline("Cut 1")
    fake.media_pool.AppendToTimeline([{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 50}])
    assert timeline is fake.project.GetCurrentTimeline()
    host = LuaResolveHost(fake)
    # A minimal Fusion UIManager and dispatcher, in Lua, recording what the entry does with them.
    host.runtime.execute(
        """
        local function element(kind) return function(self, props) props.kind = kind return props end end
        fu = { UIManager = { VGroup = element("VGroup"), TextEdit = element("TextEdit"), Button = element("Button") } }
        bmd.UIDispatcher = function(ui)
          return {
            AddWindow = function(self, props, layout)
              local items = { Log = {} }
              WINDOW = { props = props, layout = layout, items = items, On = { OK = {}, MontageBridge = {} } }
              function WINDOW:GetItems() return items end
              function WINDOW:Show() self.shown = true end
              function WINDOW:Hide() self.hidden = true end
              return WINDOW
            end,
            RunLoop = function(self) WINDOW.looped = true end,
            ExitLoop = function(self) end,
          }
        end
        """
    )
    assert host.run_file(entry(tmp_path, "export")) is True
    window = host.runtime.eval("WINDOW")
    assert window["props"]["WindowTitle"] == "Montage Bridge - Export current timeline"
    assert window["shown"] and window["looped"] and window["hidden"]
    log = window["items"]["Log"]["PlainText"]
    for suffix in (".otio", ".fcpxmld", ".xml", ".edl"):
        assert f"Cut 1{suffix}" in log
    exports = tmp_path / "exports"
    assert (exports / "Cut 1.fcpxmld" / "Info.fcpxml").is_file() and (exports / "Cut 1.edl").is_file()


def test_gpu_entry_passes_the_selected_clips_to_the_cli(sample_media: Path, tmp_path: Path) -> None:
    fake = FakeResolve("21.1", studio=False)
    items = fake.import_folder(sample_media / "footage", "Clips")
    fake.media_pool.select(items[:2])
    recorder = tmp_path / "fake_cli.py"
    argv_file = tmp_path / "argv.txt"
    recorder.write_text(
        f"import sys\nopen({str(argv_file)!r}, 'w').write('\\n'.join(sys.argv[1:]))\nprint('job 1 queued')\n"
    )
    assert LuaResolveHost(fake).run_file(entry(tmp_path, "gpu", [sys.executable, str(recorder)])) is True
    argv = argv_file.read_text().splitlines()
    assert argv[:3] == ["gpu", "submit", "stabilize"]
    assert argv[3:] == [i.GetClipProperty("File Path") for i in items[:2]]


def test_a_failing_cli_is_one_clear_line_not_a_lua_traceback(
    tmp_path: Path, sample_media: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = shoot_fake(sample_media)
    broken = entry(tmp_path, "auto_edit", [sys.executable, "-c", "import sys; sys.exit(3)"])
    assert LuaResolveHost(fake).run_file(broken) is False
    console = capfd.readouterr().out
    assert "[Montage Bridge] error: montage-bridge did not answer" in console
    assert "montage-bridge resolve install" in console and "traceback" not in console.lower()
    fake.project.GetMediaPool().SetCurrentFolder(fake.media_pool.AddSubFolder(fake.media_pool.GetRootFolder(), "E"))
    assert LuaResolveHost(fake).run_file(entry(tmp_path, "auto_edit")) is False
    assert "[Montage Bridge] error: media pool bin 'E' holds no clips" in capfd.readouterr().out


def test_menu_run_bad_records_is_exit_2_and_one_line(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text("{not json")
    result = run_cli("resolve", "menu-run", "auto_edit", "--records", str(tmp_path / "r.json"), "--out", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("montage-bridge:") and "cannot read the clip records" in result.stderr
    assert (tmp_path / "answer.tsv").read_text().startswith("error\t")


@pytest.mark.parametrize(
    ("found", "python", "lua"),
    [
        (ResolveInstall(False, (21, 1, 0, 8), "test"), False, True),
        (ResolveInstall(False, (21, 0, 3, 7), "test"), True, True),
        (ResolveInstall(True, (21, 1, 0, 8), "test"), True, True),
        (ResolveInstall(None, (), "test"), True, True),
    ],
)
def test_installer_picks_launchers_by_edition_and_version(found: ResolveInstall, python: bool, lua: bool) -> None:
    want_python, want_lua, reasons = choose_launchers(found)
    assert (want_python, want_lua) == (python, lua) and reasons and found.label in reasons[0]


def test_reinstall_for_free_21_1_swaps_python_for_lua(tmp_path: Path) -> None:
    folder = tmp_path / "Utility"
    install(folder, found=ResolveInstall(None, (), "test"), command=CLI)
    assert len(list(folder.glob("*.py"))) == 4 and len(list(folder.glob("* (Lua).lua"))) == 4
    (folder / "Mine.lua").write_text("print('mine')\n")
    result = install(folder, found=ResolveInstall(False, (21, 1, 0, 8), "test"), command=CLI)
    assert "free 21.1+ lists only Lua scripts" in result.reasons[0]
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{t}.lua" for t in ENTRIES] + ["Mine.lua"])
    assert len(result.removed) == 8
    assert install(folder, uninstall=True).removed and [p.name for p in folder.iterdir()] == ["Mine.lua"]


def test_install_command_asks_the_running_resolve(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "MONTAGE_RESOLVE": "fake", "MONTAGE_RESOLVE_PROFILE": "free-21.1"}
    result = run_cli("resolve", "install", "--platform", "linux", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "found DaVinci Resolve (free, 21.1.0.8) — from the running Resolve" in result.stdout
    folder = tmp_path / ".local/share/DaVinciResolve/Fusion/Scripts/Utility"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.lua" for t in ENTRIES)
    text = (folder / "Montage Bridge - Auto Edit selected bin.lua").read_text()
    assert f"local MB_COMMAND = {{ {sys.executable!r}".replace("'", '"') in text
