"""`montage-bridge proxies` and `convert --relink`, as a user runs them."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from kernel.probe import probe_media
from nle_adapters.timeline_facts import url_to_path
from tests.conftest import run_cli
from tests.proxies.test_proxies import _timeline


def test_proxies_command_then_convert_relink_both_ways(footage: Path, tmp_path: Path) -> None:
    proc = run_cli("proxies", str(footage), "--size", "320x180", "--codec", "h264", "--layout", "fcp")
    assert proc.returncode == 0, proc.stderr
    made = sorted((footage / "Transcoded Media" / "Proxy Media").glob("*.mov"))
    assert [p.name for p in made] == ["a_cam.mov", "b_cam.mov"]
    assert probe_media(made[0]).width == 320
    again = run_cli("proxies", str(footage), "--size", "320x180", "--codec", "h264", "--layout", "fcp")
    assert again.returncode == 0 and again.stdout.count("up to date") == 2  # resumable: nothing redone

    cut = tmp_path / "cut.otio"
    otio.adapters.write_to_file(_timeline(footage), str(cut))
    on_proxies = tmp_path / "proxies.fcpxml"
    proc = run_cli("convert", str(cut), str(on_proxies), "--relink", "proxies")
    assert proc.returncode == 0, proc.stderr
    assert "Transcoded%20Media/Proxy%20Media/a_cam.mov" in on_proxies.read_text()
    back = tmp_path / "back.otio"
    proc = run_cli("convert", str(on_proxies), str(back), "--relink", "originals")
    assert proc.returncode == 0, proc.stderr
    timeline = otio.adapters.read_from_file(str(back))
    assert [Path(url_to_path(c.media_reference.target_url)) for c in timeline.find_clips()] == [
        footage / "a_cam.mov",
        footage / "b_cam.mov",
    ]
    bad = run_cli("convert", str(cut), str(tmp_path / "x.otio"), "--relink", "sideways")
    assert bad.returncode == 2 and "originals or proxies" in bad.stderr
