"""`auto --analyze-on proxies`: analysis decodes the proxies, every timeline still links the originals
(#14: "analysis may run on proxies while every timeline we write links the originals")."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import opentimelineio as otio

from analysis.cache import fingerprint
from nle_adapters.timeline_facts import url_to_path
from tests.conftest import run_cli


def _analysed(cache: Path) -> set[str]:
    with sqlite3.connect(cache / "analysis.sqlite3") as db:
        return {row[0] for row in db.execute("SELECT fingerprint FROM entries WHERE kind = 'clip'")}


def test_analysis_reads_the_proxies_and_the_timelines_link_the_originals(tiny, tmp_path: Path) -> None:
    footage, music = tiny
    made = run_cli("proxies", str(footage), "--size", "32x18", "--codec", "h264")
    assert made.returncode == 0, made.stderr
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    proc = run_cli(
        "auto", str(footage), "--music", str(music), "--formats", "otio,fcpxml", "--name", "Cut", "-o", str(out),
        "--analyze-on", "proxies", "--recursive",
        env={"MONTAGE_CACHE_DIR": str(cache)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    originals = sorted(footage.glob("*.mp4"))
    proxies = [footage / "Proxy Media" / f"{p.stem}.mov" for p in originals]
    # What was decoded: the proxies' content, not the originals' (the cache is keyed by content).
    analysed = _analysed(cache)
    assert {fingerprint(p) for p in proxies} <= analysed
    assert not {fingerprint(p) for p in originals} & analysed
    # What the timelines name: the originals. --recursive did not take the proxy folder as footage.
    timeline = otio.adapters.read_from_file(str(out / "Cut.otio"))
    linked = {Path(url_to_path(c.media_reference.target_url)) for c in timeline.find_clips()}
    linked.discard(music.resolve())
    assert linked and linked <= {p.resolve() for p in originals}, linked
    assert "Proxy%20Media" not in (out / "Cut.fcpxml").read_text()


def test_a_proxy_that_does_not_match_stops_analysis_by_name(tiny, tmp_path: Path) -> None:
    footage, music = tiny
    victim = footage / "Proxy Media" / "clip1.mov"
    if not victim.exists():
        assert run_cli("proxies", str(footage), "--size", "32x18", "--codec", "h264").returncode == 0
    # clip1's proxy cut short: 20 frames where the original has 50.
    from kernel.ffmpeg_tools import run_ffmpeg

    run_ffmpeg(["-y", "-i", str(footage / "clip1.mp4"), "-frames:v", "20", "-an", "-c:v", "libx264", str(victim)])
    out = tmp_path / "bad"
    proc = run_cli("auto", str(footage), "--music", str(music), "-o", str(out), "--analyze-on", "proxies")
    assert proc.returncode == 2, proc.stderr
    assert "Proxy Media/clip1.mov does not match its original clip1.mp4" in proc.stderr
    assert not out.exists()
