"""Each Scripts-menu entry runs with the globals Resolve hands it; installing puts them in place."""

from __future__ import annotations

import runpy
import stat
import sys
import types
from pathlib import Path

import pytest

from resolve_bridge.fake import FakeResolve
from resolve_bridge.install import ENTRIES, render_script, scripts_dir
from resolve_bridge.menu import run_menu, show_dialog
from tests.conftest import run_cli

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "resolve" / "Utility"


def run_script(title: str, fake: FakeResolve) -> None:
    runpy.run_path(str(SCRIPTS / f"Montage Bridge - {title}.py"), init_globals=fake.menu_globals(), run_name="__main__")


def shoot_fake(sample_media: Path) -> FakeResolve:
    """A project with bin 'Shoot' holding the three sample clips and music.wav, opened."""
    fake = FakeResolve("20")
    fake.import_folder(sample_media, "Shoot")
    pool = fake.media_pool
    pool.SetCurrentFolder(pool.GetRootFolder().GetSubFolderList()[0])
    return fake


def test_repo_scripts_are_the_installer_template() -> None:
    for title in ENTRIES:
        assert (SCRIPTS / f"{title}.py").read_text(encoding="utf-8") == render_script(title)


def test_auto_edit_selected_bin(sample_media: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = shoot_fake(sample_media)
    run_script("Auto Edit selected bin", fake)
    console = capsys.readouterr().out
    assert "[Montage Bridge] connected to DaVinci Resolve Studio 20.3.2.9 (menu)" in console
    timeline = fake.project.GetCurrentTimeline()
    assert timeline.GetName() == "Montage - Shoot"
    placed = sum(len(timeline.GetItemListInTrack("video", i)) for i in range(1, timeline.GetTrackCount("video") + 1))
    assert placed >= 3 and len(timeline.GetItemListInTrack("audio", 1)) == 1
    assert f"timeline 'Montage - Shoot' (append): {placed + 1}/{placed + 1} clips placed" in console
    assert timeline.GetMarkers()  # beats from the music, on the timeline


def test_analyze_media_pool_adds_shot_and_beat_markers(
    sample_media: Path, facts: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = shoot_fake(sample_media)
    run_script("Analyze media pool", fake)
    items = {i.GetName(): i for i in fake.media_pool._all_items()}
    for name, clip_facts in facts["clips"].items():
        frames = sorted(int(f) for f in items[name].GetMarkers())
        assert all(any(abs(f - cut) <= 1 for f in frames) for cut in clip_facts["cuts"]), (name, frames)
    beats = items["music.wav"].GetMarkers()
    assert len(beats) >= 0.9 * len(facts["music"]["beats"])
    assert {m["customData"] for m in beats.values()} == {"montage-bridge:beat"}
    before = len(beats)
    run_script("Analyze media pool", fake)  # running again replaces our markers instead of piling up
    assert len(items["music.wav"].GetMarkers()) == before
    assert "[Montage Bridge] added" in capsys.readouterr().out


def test_analysis_runs_in_the_users_environment_when_resolves_python_lacks_it(
    sample_media: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeResolve("19")
    fake.import_folder(sample_media / "footage", "Clips")
    fake.media_pool.SetCurrentFolder(fake.media_pool.GetRootFolder().GetSubFolderList()[0])
    status = run_menu("analyze", fake.menu_globals(), python=sys.executable, in_process=False, dialog=False)
    console = capsys.readouterr().out
    assert status == 0, console
    assert f"working in {sys.executable}" in console and "analysis: " in console  # progress relayed
    assert sum(len(i.GetMarkers()) for i in fake.media_pool._all_items()) >= 6
    status = run_menu("analyze", fake.menu_globals(), python="/nonexistent/python", in_process=False, dialog=False)
    assert status == 1 and "run `montage-bridge resolve install`" in capsys.readouterr().out


def test_export_current_timeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_media: Path) -> None:
    monkeypatch.setenv("MONTAGE_BRIDGE_EXPORT_DIR", str(tmp_path))
    fake = FakeResolve()
    fake.project.SetSetting("timelineFrameRate", "25")
    (clip,) = [i for i in fake.import_folder(sample_media / "footage") if i.GetName() == "city_25.mov"]
    fake.media_pool.CreateEmptyTimeline("Cut 1")
    fake.media_pool.AppendToTimeline([{"mediaPoolItem": clip, "startFrame": 0, "endFrame": 50, "mediaType": 1}])
    run_script("Export current timeline", fake)
    assert (tmp_path / "Cut 1.otio").is_file() and (tmp_path / "Cut 1.xml").is_file()
    assert (tmp_path / "Cut 1.edl").is_file() and (tmp_path / "Cut 1.fcpxmld" / "Info.fcpxml").is_file()
    old = FakeResolve("18.0")
    old.media_pool.CreateEmptyTimeline("Old")
    monkeypatch.setenv("MONTAGE_BRIDGE_EXPORT_DIR", str(tmp_path / "old"))
    from resolve_bridge.menu import export_timeline

    lines = export_timeline(old)
    assert lines[0] == "OTIO: not available in DaVinci Resolve Studio 18.0.4.3"


def _stub(path: Path, body: str) -> str:
    """A stand-in for the user's Python (a POSIX shell script; CI runs on Linux)."""
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_send_selected_clips_to_gpu_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_media: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeResolve("21")
    items = fake.import_folder(sample_media / "footage", "Clips")
    fake.media_pool.select(items[:2])
    args_file = tmp_path / "args"
    ok = _stub(tmp_path / "python-ok", f'printf "%s\\n" "$@" > {args_file}\necho "job j-1 queued"\n')
    monkeypatch.setenv("MONTAGE_BRIDGE_PYTHON", ok)
    run_script("Send selected clips to GPU worker", fake)
    args = args_file.read_text().splitlines()
    assert args[:5] == ["-m", "montage_bridge", "gpu", "submit", "stabilize"]
    assert args[5:] == [i.GetClipProperty("File Path") for i in items[:2]]
    assert "submitted 2 clip(s) for stabilize" in capsys.readouterr().out
    old = _stub(tmp_path / "python-old", "echo \"Error: No such command 'gpu'.\" >&2\nexit 2\n")
    monkeypatch.setenv("MONTAGE_BRIDGE_PYTHON", old)
    run_script("Send selected clips to GPU worker", fake)
    assert "has no GPU worker client (`montage-bridge gpu submit`)" in capsys.readouterr().out


def test_dialog_shows_the_outcome_where_uimanager_exists() -> None:
    events: list[str] = []

    class On:
        def __getattr__(self, name: str) -> types.SimpleNamespace:
            value = types.SimpleNamespace()
            setattr(self, name, value)
            return value

    class Window:
        def __init__(self) -> None:
            self.On = On()

        def Show(self) -> None:
            events.append("show")

        def Hide(self) -> None:
            events.append("hide")

    class Dispatcher:
        def __init__(self, ui: object) -> None:
            self.window = Window()

        def AddWindow(self, props: dict, layout: tuple) -> Window:
            events.append(f"window {props['WindowTitle']}: {layout[1][0][1]['Text']}")
            return self.window

        def RunLoop(self) -> None:
            self.window.On.OK.Clicked(None)  # the user presses OK

        def ExitLoop(self) -> None:
            events.append("closed")

    ui = types.SimpleNamespace(
        VGroup=lambda items: ("VGroup", items), Label=lambda p: ("Label", p), Button=lambda p: ("Button", p)
    )
    script_globals = {
        "fusion": types.SimpleNamespace(UIManager=ui),
        "bmd": types.SimpleNamespace(UIDispatcher=Dispatcher),
    }
    assert show_dialog(script_globals, None, "Montage Bridge", ["line one", "line two"])
    assert events == ["window Montage Bridge: line one\nline two", "show", "closed", "hide"]
    assert not show_dialog({"fusion": FakeResolve().Fusion()}, None, "t", ["x"])  # no UIManager → Console only


def test_errors_reach_the_console_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeResolve()
    run_script("Auto Edit selected bin", fake)  # empty media pool
    console = capsys.readouterr().out
    assert "[Montage Bridge] error: media pool bin 'Master' holds no clips" in console
    assert "Traceback" not in console


@pytest.mark.parametrize(
    ("platform", "env_key", "relative"),
    [
        ("macos", "HOME", "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility"),
        ("windows", "APPDATA", "Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts/Utility"),
        ("linux", "HOME", ".local/share/DaVinciResolve/Fusion/Scripts/Utility"),
    ],
)
def test_install_and_uninstall_per_os(tmp_path: Path, platform: str, env_key: str, relative: str) -> None:
    home = tmp_path / "home"
    base = home / "AppData" / "Roaming" if env_key == "APPDATA" else home
    env = {"HOME": str(home), "APPDATA": str(base), "USERPROFILE": str(home)}
    result = run_cli("resolve", "install", "--platform", platform, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    folder = base / relative
    installed = sorted(p.name for p in folder.iterdir())
    # No Resolve to ask here: edition unknown, so both kinds, the Lua ones titled "(Lua)", and it says why.
    assert installed == sorted([f"{t}.py" for t in ENTRIES] + [f"{t} (Lua).lua" for t in ENTRIES])
    assert "edition unknown" in result.stdout and "installing Python and Lua entries" in result.stdout
    text = (folder / "Montage Bridge - Auto Edit selected bin.py").read_text()
    assert f"PACKAGE_ROOT = {str(Path(__file__).resolve().parents[2])!r}" in text and "PYTHON = '" in text
    compile(text, "entry", "exec")
    (folder / "My own script.py").write_text("print('mine')\n")
    result = run_cli("resolve", "install", "--platform", platform, "--uninstall", env=env, timeout=120)
    assert result.returncode == 0 and "removed 8 Montage Bridge entries" in result.stdout
    assert [p.name for p in folder.iterdir()] == ["My own script.py"]  # only ours are removed


def test_all_users_folders(tmp_path: Path) -> None:
    env = {"PROGRAMDATA": str(tmp_path / "ProgramData")}
    assert scripts_dir("macos", all_users=True, root=tmp_path) == (
        tmp_path / "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility"
    )
    assert scripts_dir("windows", all_users=True, env=env) == (
        tmp_path / "ProgramData/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility"
    )
    assert scripts_dir("linux", all_users=True, root=tmp_path) == tmp_path / "opt/resolve/Fusion/Scripts/Utility"
    (tmp_path / "home" / "resolve").mkdir(parents=True)  # ISO installs live in /home/resolve
    assert scripts_dir("linux", all_users=True, root=tmp_path) == tmp_path / "home/resolve/Fusion/Scripts/Utility"


def test_installed_entry_runs_in_a_bare_python_and_hands_analysis_to_the_users_env(
    sample_media: Path, tmp_path: Path
) -> None:
    """Resolve's interpreter without site-packages: the menu code must load, and the analysis
    must run in the recorded environment (this venv's Python) and come back as markers."""
    import json
    import subprocess
    from fractions import Fraction

    from kernel.probe import probe_media
    from resolve_bridge.fake import clip_properties

    repo = Path(__file__).resolve().parents[2]
    props = [clip_properties(probe_media(p), Fraction(24)) for p in sorted((sample_media / "footage").iterdir())]
    (tmp_path / "props.json").write_text(json.dumps(props))
    entry = tmp_path / "Montage Bridge - Analyze media pool.py"
    entry.write_text(render_script("Montage Bridge - Analyze media pool", str(repo), sys.executable))
    driver = tmp_path / "driver.py"
    driver.write_text(
        f"""
import json, runpy, sys
sys.path.insert(0, {str(repo)!r})
from resolve_bridge.fake import FakeResolve
fake = FakeResolve("20")
pool = fake.media_pool
shoot = pool.add_bin("Shoot")
for p in json.load(open({str(tmp_path / "props.json")!r})):
    pool.add_media(p, shoot)
pool.SetCurrentFolder(shoot)
runpy.run_path({str(entry)!r}, init_globals=fake.menu_globals(), run_name="__main__")
assert not {{"numpy", "pydantic", "opentimelineio", "av"}} & set(sys.modules), "heavy imports in Resolve's Python"
print("MARKERS", json.dumps({{i.GetName(): len(i.GetMarkers()) for i in pool._all_items()}}))
"""
    )
    proc = subprocess.run(
        [sys.executable, "-S", str(driver)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"HOME": str(tmp_path / "home")},  # Resolve's bare environment: a home folder and nothing else
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"working in {sys.executable}" in proc.stdout
    counts = json.loads(proc.stdout.split("MARKERS ", 1)[1])
    assert all(n >= 2 for n in counts.values()), counts  # every sample clip has two hard cuts


def test_auto_edit_on_resolve_18_0_builds_by_importing_a_file(
    sample_media: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))  # the import file goes in the per-user state folder
    fake = FakeResolve("18.0")
    fake.import_folder(sample_media, "Shoot")
    fake.media_pool.SetCurrentFolder(fake.media_pool.GetRootFolder().GetSubFolderList()[0])
    assert run_menu("auto_edit", fake.menu_globals(), dialog=False) == 0
    console = capsys.readouterr().out
    assert "cannot place clips on a chosen track and frame from a script" in console
    assert "timeline 'Montage - Shoot' (import):" in console
    assert [n for n, _ in fake.calls] == ["ImportTimelineFromFile"]
    assert list((tmp_path / "montage-bridge" / "resolve-import").iterdir())
