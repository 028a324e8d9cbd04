"""The watch daemon's Resolve step, run as a user runs it: `watch --once` subprocesses against the
fake Resolve, whose projects persist between processes in a MONTAGE_RESOLVE_DB file."""

from __future__ import annotations

import json
from pathlib import Path

from resolve_bridge.fake import FakeResolve
from tests.conftest import run_cli
from tests.watch.conftest import jobs, make_job, write_config


def _watch_once(inbox: Path, outbox: Path, config: Path, db: Path, **env: str):
    full = {"MONTAGE_RESOLVE": "fake", "MONTAGE_RESOLVE_DB": str(db), "MONTAGE_RESOLVE_DOWN": "", **env}
    full.setdefault("MONTAGE_RESOLVE_DROP", "")
    return run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once", env=full, timeout=120)


def _timelines(db: Path, project: str) -> dict[str, dict[str, list]]:
    """Timeline name → {'video': [(clip name, record frame)…], 'audio': […]} in the saved fake project."""
    fake = FakeResolve()
    fake.use_database(db)
    loaded = fake.GetProjectManager().LoadProject(project)
    assert loaded is not None, f"project {project!r} is not in the fake Resolve's database"
    out = {}
    for i in range(1, loaded.GetTimelineCount() + 1):
        timeline = loaded.GetTimelineByIndex(i)
        out[timeline.GetName()] = {
            kind: [
                (item.GetMediaPoolItem().GetName(), item.GetStart())
                for n in range(1, timeline.GetTrackCount(kind) + 1)
                for item in timeline.GetItemListInTrack(kind, n)
            ]
            for kind in ("video", "audio")
        }
    return out


def _bin_clips(db: Path, project: str, bin_name: str) -> set[str]:
    fake = FakeResolve()
    fake.use_database(db)
    pool = fake.GetProjectManager().LoadProject(project).GetMediaPool()
    folder = next(f for f in pool.GetRootFolder().GetSubFolderList() if f.GetName() == bin_name)
    return {c.GetName() for c in folder.GetClipList()}


def test_job_timeline_is_built_in_the_resolve_project(tmp_path, tiny_media):
    inbox, outbox, db = tmp_path / "in", tmp_path / "out", tmp_path / "resolve-db.json"
    make_job(inbox, "day1", tiny_media, [0, 1, 2])
    config = write_config(tmp_path / "watch.toml", resolve_project="Dailies", resolve_bin="Watch")

    result = _watch_once(inbox, outbox, config, db)
    assert result.returncode == 0, result.stderr
    assert "day1: Resolve built" in result.stderr

    plan = json.loads((outbox / "day1" / "plan.json").read_text())
    timelines = _timelines(db, "Dailies")
    assert list(timelines) == ["day1"]
    assert len(timelines["day1"]["video"]) == len(plan["cuts"]) > 0
    assert [name for name, _ in timelines["day1"]["audio"]] == ["music.wav"]
    assert {name for name, _ in timelines["day1"]["video"]} <= {"clip0.mp4", "clip1.mp4", "clip2.mp4"}
    assert _bin_clips(db, "Dailies", "Watch") >= {name for name, _ in timelines["day1"]["video"]}

    report = json.loads((outbox / "day1" / "report.json").read_text())["resolve"]
    assert report["state"] == "built" and report["timeline"] == "day1"
    assert report["placed"] == report["expected"] == len(plan["cuts"]) + 1  # + the music bed
    assert (report["project"], report["bin"]) == ("Dailies", "Watch")
    assert not (outbox / "day1" / "RESOLVE.txt").exists()
    row = jobs(outbox)["day1"]
    assert (row["state"], row["resolve_state"], row["resolve_error"]) == ("written", "built", None)

    # A second start finds nothing to do: no second timeline, no second write.
    again = _watch_once(inbox, outbox, config, db)
    assert again.returncode == 0, again.stderr
    assert list(_timelines(db, "Dailies")) == ["day1"]
    assert jobs(outbox)["day1"]["writes"] == 1


def test_unreachable_then_incomplete_resolve_keeps_the_files_and_retries_by_the_rule(tmp_path, tiny_media):
    inbox, outbox, db = tmp_path / "in", tmp_path / "out", tmp_path / "resolve-db.json"
    make_job(inbox, "day2", tiny_media, [0, 1])
    config = write_config(tmp_path / "watch.toml", resolve_project="Dailies", resolve_bin="Watch")
    folder = outbox / "day2"

    def resolve_report() -> dict:
        return json.loads((folder / "report.json").read_text())["resolve"]

    # 1. Resolve is not running: the job is written all the same, the Resolve step is pending.
    down = _watch_once(inbox, outbox, config, db, MONTAGE_RESOLVE_DOWN="1")
    assert down.returncode == 0, down.stderr  # the job itself succeeded
    assert {"day2.otio", "day2.xml", "day2.edl", "plan.json", "report.json"} <= {p.name for p in folder.iterdir()}
    assert not (folder / "ERROR.txt").exists()
    note = (folder / "RESOLVE.txt").read_text()
    assert "not running" in note and "tried again" in note
    assert resolve_report()["state"] == "pending" and "not running" in resolve_report()["error"]
    row = jobs(outbox)["day2"]
    assert (row["state"], row["resolve_state"], row["writes"]) == ("written", "pending", 1)
    assert "day2: Resolve pending" in down.stderr
    assert not db.exists()  # nothing reached the fake Resolve
    status = run_cli("watch", "status", "--out", str(outbox))
    assert status.returncode == 0 and "not built in Resolve: day2" in status.stdout

    # 2. Next start, Resolve is up but drops every clip: retried at start, now a problem.
    dropped = _watch_once(inbox, outbox, config, db, MONTAGE_RESOLVE_DROP="clip0.mp4,clip1.mp4")
    assert dropped.returncode == 0, dropped.stderr
    assert "day2: Resolve step to run again" in dropped.stderr
    report = resolve_report()
    assert report["state"] == "problem" and report["dropped"] and report["placed"] < report["expected"]
    assert "incomplete" in (folder / "RESOLVE.txt").read_text()
    assert jobs(outbox)["day2"]["resolve_state"] == "problem"
    assert list(_timelines(db, "Dailies")) == ["day2"]  # the partial timeline stays, as Resolve left it

    # 3. A problem is not retried on its own: that would pile up partial timelines at every start.
    restart = _watch_once(inbox, outbox, config, db)
    assert restart.returncode == 0 and "Resolve step to run again" not in restart.stderr
    assert list(_timelines(db, "Dailies")) == ["day2"]

    # 4. `watch retry` asks for it; the next start builds a new timeline beside the partial one.
    retry = run_cli("watch", "retry", "day2", "--out", str(outbox))
    assert retry.returncode == 0 and "1 written job(s) will be built in Resolve again" in retry.stdout
    assert jobs(outbox)["day2"]["resolve_state"] == "retry"
    fixed = _watch_once(inbox, outbox, config, db)
    assert fixed.returncode == 0, fixed.stderr
    timelines = _timelines(db, "Dailies")
    plan = json.loads((folder / "plan.json").read_text())
    assert len(timelines) == 2 and timelines["day2"]["video"] == []  # the old one is untouched
    (rebuilt,) = [name for name in timelines if name != "day2"]
    assert rebuilt.startswith("day2") and len(timelines[rebuilt]["video"]) == len(plan["cuts"])
    assert resolve_report()["state"] == "built" and resolve_report()["timeline"] == rebuilt
    assert not (folder / "RESOLVE.txt").exists()
    row = jobs(outbox)["day2"]
    assert (row["resolve_state"], row["resolve_error"], row["writes"]) == ("built", None, 1)
