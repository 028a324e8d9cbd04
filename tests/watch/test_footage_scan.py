"""The watch daemon takes a job folder as `auto` takes a footage folder: same rules, one warning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from montage_bridge.watch.arrival import scan_jobs
from montage_bridge.watch.config import WatchConfig
from montage_bridge.watch.daemon import WatchDaemon

# What cameras write beside their clips; before the shared rules the proxy and the thumbnail were
# taken as footage (the .LRF even probes as video on a real DJI card) and the .SRT as unreadable.
SIDECARS = ["DJI_0001.SRT", "DJI_0001.LRF", "GOPR0001.THM", "GL010001.LRV", "C0001M01.XML", "notes.txt"]


def test_scan_sets_camera_sidecars_aside_and_reports_them(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    for rel in ["job/a.mp4", "job/DCIM/b.mp4", "job/music.wav", *(f"job/{n}" for n in SIDECARS)]:
        (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
        (inbox / rel).write_bytes(b"1")
    skipped: dict = {}
    found = scan_jobs(inbox, [], skipped=skipped)
    assert sorted(found["job"]) == ["job/DCIM/b.mp4", "job/a.mp4", "job/music.wav"]  # nested folders: yes
    assert sorted(s.path.name for s in skipped["job"]) == sorted(SIDECARS)


def test_job_with_sidecars_is_cut_with_one_warning(tmp_path: Path, tiny_media: dict) -> None:
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    job = inbox / "shoot"
    job.mkdir(parents=True)
    for i, clip in enumerate(tiny_media["clips"][:3]):
        shutil.copy(clip, job / f"clip{i}.mp4")
    shutil.copy(tiny_media["music"], job / "music.wav")
    for name in SIDECARS:
        (job / name).write_text("not footage\n")
    config = WatchConfig(quiet_seconds=0.05, probe_retry_seconds=0.1, formats=["otio"], ignore=[])
    lines: list[str] = []
    summary = WatchDaemon(inbox, outbox, config, once=True, log=lines.append).run()
    assert summary.written == ["shoot"], lines
    warned = [line for line in lines if "not footage" in line]
    assert len(warned) == 1, lines
    assert all(name in warned[0] for name in SIDECARS)
    report = json.loads((outbox / "shoot" / "report.json").read_text())
    assert sorted(Path(p).name for p in report["footage"]) == ["clip0.mp4", "clip1.mp4", "clip2.mp4"]
    assert sum("not footage" in w for w in report["warnings"]) == 1
