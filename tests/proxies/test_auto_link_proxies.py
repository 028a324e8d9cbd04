"""`auto --link proxies`: the timelines link the proxies `montage-bridge proxies` made, with the same
source frames as the timelines on the originals; a proxy that does not match is refused by name."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from kernel.ffmpeg_tools import run_ffmpeg
from nle_adapters.timeline_facts import url_to_path
from tests.conftest import run_cli


def _cut(folder: Path) -> list[tuple[Path, int, int]]:
    timeline = otio.adapters.read_from_file(str(next(folder.glob("*.otio"))))
    return [
        (
            Path(url_to_path(c.media_reference.target_url)),
            c.source_range.start_time.to_frames(),
            c.duration().to_frames(),
        )
        for c in timeline.video_tracks()[0].find_clips()
    ]


def test_auto_links_proxies_with_the_same_source_frames(tiny, tmp_path: Path) -> None:
    footage, music = tiny
    made = run_cli("proxies", str(footage), "--size", "32x18", "--codec", "h264")
    assert made.returncode == 0, made.stderr
    args = ["auto", str(footage), "--music", str(music), "--formats", "otio,fcpxml,xml", "--name", "Cut"]
    on_proxies = run_cli(*args, "-o", str(tmp_path / "proxies"), "--link", "proxies")
    assert on_proxies.returncode == 0, on_proxies.stderr
    assert "--link proxies" not in on_proxies.stderr  # every clip had its proxy
    on_originals = run_cli(*args, "-o", str(tmp_path / "originals"))
    assert on_originals.returncode == 0, on_originals.stderr

    proxied, original = _cut(tmp_path / "proxies"), _cut(tmp_path / "originals")
    assert len(proxied) == len(original) > 1
    for (proxy, p_in, p_len), (source, o_in, o_len) in zip(proxied, original):
        assert proxy == footage / "Proxy Media" / f"{source.stem}.mov"
        assert (p_in, p_len) == (o_in, o_len)  # the same frames of the same shot
    for suffix in ("fcpxml", "xml"):
        text = (tmp_path / "proxies" / f"Cut.{suffix}").read_text()
        assert "Proxy%20Media/clip" in text and "footage/clip0.mp4" not in text

    # A used clip's proxy that no longer matches its original (cut short) is refused, by name.
    victim = footage / "Proxy Media" / f"{original[0][0].stem}.mov"
    short = victim.with_name("short.mov")
    run_ffmpeg(["-y", "-i", str(victim), "-frames:v", "30", "-an", "-c:v", "libx264", str(short)])
    short.replace(victim)
    bad = run_cli(*args, "-o", str(tmp_path / "bad"), "--link", "proxies")
    assert bad.returncode == 2, bad.stderr
    assert f"Proxy Media/{victim.name} does not match its original {original[0][0].name}" in bad.stderr
    assert "30 frames, the original has 50" in bad.stderr
    assert not (tmp_path / "bad").exists()  # nothing written
