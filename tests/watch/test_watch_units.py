"""In-process checks of the watch pieces: config validation, arrival, fingerprints, journal, recovery, music."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kernel.errors import MediaError
from kernel.media import MediaItem
from montage_bridge.watch import arrival
from montage_bridge.watch.arrival import ArrivalTracker, content_fingerprint, scan_jobs
from montage_bridge.watch.config import ConfigError, EffectiveSettings, load_config
from montage_bridge.watch.journal import Journal, JournalError
from montage_bridge.watch.runner import JobError, JobFile, JobSpec, choose_music, publish, recover_outbox


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quiet_seconds = -1\n", "quiet_seconds: Input should be greater than 0 (got -1)"),
        ("quiet_secs = 2\n", "unknown key 'quiet_secs' — known keys:"),
        ('formats = ["otio", "mov"]\n', "formats: unknown format(s) mov; choose from otio, fcpxml, xml, edl"),
        ("formats = []\n", "formats: must name at least one format"),
        ("workers = 0\n", "workers: Input should be greater than or equal to 1"),
        ("quiet_seconds = \n", "not valid TOML"),
        ('[[rule]]\nmatch = "a*"\nrate = "fast"\n', "rule.0.rate:"),
        ("[[rule]]\nduration_seconds = 3\n", "rule.0.match: Field required"),
        ('resolve_project = ""\n', "resolve_project: must not be empty"),
        ('resolve_bin = "Watch"\n', "resolve_bin is set but no resolve_project is"),
        (
            '[[rule]]\nmatch = "a*"\nresolve_project = "P"\nresolve_bin = "A/B"\n',
            "rule.0.resolve_bin: names one top-level",
        ),
    ],
)
def test_bad_config_messages(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "watch.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert expected in message


def test_resolve_settings_are_accepted_and_layered(tmp_path: Path) -> None:
    path = tmp_path / "watch.toml"
    path.write_text('resolve_project = "Dailies"\n[[rule]]\nmatch = "promo-*"\nresolve_bin = "Promos"\n')
    config = load_config(path)
    promo, other = config.settings_for("promo-1"), config.settings_for("day-1")
    assert (promo.resolve_project, promo.resolve_bin) == ("Dailies", "Promos")
    assert (other.resolve_project, other.resolve_bin) == ("Dailies", None)


def test_rules_layer_over_top_level_settings(tmp_path: Path) -> None:
    path = tmp_path / "watch.toml"
    path.write_text(
        'quiet_seconds = 2\nformats = ["otio"]\nduration_seconds = 20\n'
        '[[rule]]\nmatch = "wedding-*"\nmusic = "score/*.wav"\nformats = ["xml", "edl"]\nbrief = "teaser"\n'
        '[[rule]]\nmatch = "*"\nrate = "24000/1001"\n'
    )
    config = load_config(path)
    wedding = config.settings_for("wedding-smith")
    assert (wedding.rule, wedding.music, wedding.formats, wedding.brief) == (
        "wedding-*",
        "score/*.wav",
        ["xml", "edl"],
        "teaser",
    )
    assert wedding.duration_seconds == 20 and wedding.rate is None  # first matching rule only
    other = config.settings_for("dailies")
    assert (other.rule, other.formats, other.rate, other.music) == ("*", ["otio"], "24000/1001", None)
    assert load_config(None).settings_for("x").formats == ["otio", "fcpxml", "xml", "edl"]
    path.write_text('journal = "state/watch.sqlite"\n')
    assert load_config(path).journal == tmp_path / "state" / "watch.sqlite"


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _media(path: Path) -> MediaItem:
    return MediaItem(path=path, name=path.name, rate="25", frames=50)


def test_arrival_waits_for_quiet_then_probe_and_fails_only_after_the_retry_window(tmp_path: Path) -> None:
    clock = _Clock()
    healthy: set[str] = set()
    probes: list[str] = []

    def probe(path: Path) -> MediaItem:
        probes.append(path.name)
        if path.name not in healthy:
            raise MediaError(f"{path}: not a readable media file")
        return _media(path)

    tracker = ArrivalTracker(quiet_seconds=1.0, probe_retry_seconds=5.0, clock=clock, probe=probe)
    f = tmp_path / "a.mp4"
    f.write_bytes(b"x" * 10)
    tracker.observe("j/a.mp4", f.stat())
    assert tracker.status("j/a.mp4", f)[0] == "waiting" and probes == []  # not quiet yet: not even probed
    clock.now += 1.0
    status, _, error = tracker.status("j/a.mp4", f)
    assert status == "waiting" and "not a readable" in error and probes == ["a.mp4"]
    clock.now += 0.5
    tracker.status("j/a.mp4", f)
    assert probes == ["a.mp4"]  # re-probed at most once per quiet period
    # It grows (the copy resumed): the quiet period starts again.
    f.write_bytes(b"x" * 20)
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    tracker.observe("j/a.mp4", f.stat())
    clock.now += 0.9
    assert tracker.status("j/a.mp4", f)[0] == "waiting"
    clock.now += 0.2
    assert tracker.status("j/a.mp4", f)[0] == "waiting"
    clock.now += 5.0
    status, media, error = tracker.status("j/a.mp4", f)
    assert status == "damaged" and media is None and "not a readable" in error
    # A file that probes after a while (preallocated, filled in place) arrives.
    healthy.add("b.mp4")
    g = tmp_path / "b.mp4"
    g.write_bytes(b"y")
    tracker.observe("j/b.mp4", g.stat())
    clock.now += 1.0
    status, media, _ = tracker.status("j/b.mp4", g)
    assert status == "arrived" and media is not None and media.frames == 50


def test_scan_skips_system_partial_hidden_and_loose_files(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    for rel in [
        "job/a.mp4",
        "job/sub/b.mov",
        "job/c.mp4.part",
        "job/._a.mp4",
        "job/.DS_Store",
        "job/.hidden/d.mp4",
        "job/notes.txt",
        "loose.mp4",
        ".trash/e.mp4",
        "other/f.wav",
    ]:
        (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
        (inbox / rel).write_bytes(b"1")
    found = scan_jobs(inbox, ["*.txt"])
    assert {job: sorted(files) for job, files in found.items()} == {
        "job": ["job/a.mp4", "job/sub/b.mov"],
        "other": ["other/f.wav"],
    }
    assert scan_jobs(inbox, [], only={"other", "gone"}).keys() == {"other", "gone"}
    with pytest.raises(OSError):  # an unmounted inbox is an error, not "every job was deleted"
        scan_jobs(tmp_path / "unmounted", [])


def test_content_fingerprint_whole_and_sampled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"0123456789" * 1000)
    b.write_bytes(b"0123456789" * 1000)
    assert content_fingerprint(a) == content_fingerprint(b)
    b.write_bytes(b"0123456789" * 999 + b"012345678X")
    assert content_fingerprint(a) != content_fingerprint(b)
    # Above the limit: size + 16 evenly spaced 1 MiB samples (a change inside a sample is seen).
    monkeypatch.setattr(arrival, "FULL_HASH_LIMIT", 1024)
    big = bytearray(os.urandom(3 * 1024 * 1024))
    a.write_bytes(bytes(big))
    first = content_fingerprint(a)
    assert first == content_fingerprint(a)
    big[0] ^= 0xFF
    a.write_bytes(bytes(big))
    assert content_fingerprint(a) != first


def test_journal_attempts_retry_and_interrupted_jobs(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no watch journal here"):
        Journal(tmp_path / "absent.sqlite", create=False)
    journal = Journal(tmp_path / "j.sqlite")
    assert journal.start_job("a", "fp1") == 1
    assert journal.start_job("a", "fp1") == 2  # same content started again: counts
    assert [j.name for j in journal.interrupted_jobs()] == ["a"]
    assert journal.start_job("a", "fp2") == 1  # new content: a fresh count
    journal.finish_written("a", "fp2", "/out/a", analysis_seconds=1.0, total_seconds=2.0)
    journal.start_job("b", "fpb")
    journal.finish_failed("b", "fpb", "bad clip")
    rows = {j.name: j for j in journal.jobs()}
    assert (rows["a"].state, rows["a"].writes, rows["a"].done_fingerprint) == ("written", 1, "fp2")
    assert (rows["b"].state, rows["b"].failed_fingerprint, rows["b"].error) == ("failed", "fpb", "bad clip")
    assert journal.interrupted_jobs() == []
    assert journal.retry("b") == 1
    assert journal.job("b").state == "seen" and journal.job("b").failed_fingerprint is None
    # A second connection (another thread or `watch status`) sees the committed rows.
    assert Journal(tmp_path / "j.sqlite", create=False).job("a").writes == 1


def test_recover_outbox_and_publish(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".mb-tmp-x-123").mkdir()
    old = out / ".mb-old-keep-1-2"
    old.mkdir()
    (old / "report.json").write_text('{"job": "keep", "fingerprint": "f"}')
    dup = out / ".mb-old-done-1-2"
    dup.mkdir()
    (dup / "report.json").write_text('{"job": "done"}')
    (out / "done").mkdir()
    actions = recover_outbox(out)
    assert sorted(p.name for p in out.iterdir()) == ["done", "keep"]
    assert len(actions) == 3 and (out / "keep" / "report.json").exists()
    new = out / ".mb-tmp-keep-9"
    new.mkdir()
    (new / "report.json").write_text('{"job": "keep", "fingerprint": "g"}')
    publish(new, out / "keep")
    assert sorted(p.name for p in out.iterdir()) == ["done", "keep"]
    assert '"g"' in (out / "keep" / "report.json").read_text()


def _spec(tmp_path: Path, files: list[tuple[str, str]], music: str | None = None) -> JobSpec:
    entries = [JobFile(rel=f"job/{n}", path=tmp_path / "job" / n, kind=k, fingerprint=n) for n, k in files]
    settings = EffectiveSettings(formats=["otio"], music=music)
    return JobSpec(name="job", folder=tmp_path / "job", files=entries, fingerprint="f", settings=settings)


def test_music_choice(tmp_path: Path) -> None:
    music, footage = choose_music(_spec(tmp_path, [("a.mp4", "video"), ("song.wav", "audio")]))
    assert music.name == "song.wav" and [p.name for p in footage] == ["a.mp4"]
    with pytest.raises(JobError, match="no music: put one audio file"):
        choose_music(_spec(tmp_path, [("a.mp4", "video")]))
    with pytest.raises(JobError, match="2 audio files .*keep one, or name it"):
        choose_music(_spec(tmp_path, [("a.mp4", "video"), ("x.wav", "audio"), ("y.wav", "audio")]))
    spec = _spec(tmp_path, [("a.mp4", "video"), ("x.wav", "audio"), ("score/y.wav", "audio")], music="score/*")
    assert choose_music(spec)[0].name == "y.wav"
    # A music glob may name a video file's audio (e.g. a band's performance clip); it is then not footage.
    spec = _spec(tmp_path, [("a.mp4", "video"), ("band.mov", "video")], music="band.*")
    music, footage = choose_music(spec)
    assert music.name == "band.mov" and [p.name for p in footage] == ["a.mp4"]
    with pytest.raises(JobError, match="no file in the job folder matches"):
        choose_music(_spec(tmp_path, [("a.mp4", "video")], music="*.mp3"))
    shared = tmp_path / "shared.wav"
    shared.write_bytes(b"RIFF")
    assert choose_music(_spec(tmp_path, [("a.mp4", "video")], music=str(shared)))[0] == shared
    with pytest.raises(JobError, match="does not exist"):
        choose_music(_spec(tmp_path, [("a.mp4", "video")], music=str(tmp_path / "nope.wav")))
    with pytest.raises(JobError, match="no video clips"):
        choose_music(_spec(tmp_path, [("x.wav", "audio")]))


def test_daemon_once_in_process_job_errors_and_crash_loop_guard(tmp_path: Path, tiny_media: dict) -> None:
    """A job that cannot run (no music) fails with its reason; a job whose runs keep being cut off
    (kill -9 / crash each time) is failed after max_attempts instead of looping forever."""
    import sqlite3

    from montage_bridge.watch.config import WatchConfig
    from montage_bridge.watch.daemon import WatchDaemon

    inbox, outbox = tmp_path / "in", tmp_path / "out"
    (inbox / "nomusic").mkdir(parents=True)
    (inbox / "nomusic" / "a.mp4").write_bytes(tiny_media["clips"][0].read_bytes())
    config = WatchConfig(quiet_seconds=0.05, probe_retry_seconds=0.1, formats=["otio"], max_attempts=2)
    lines: list[str] = []
    summary = WatchDaemon(inbox, outbox, config, once=True, log=lines.append).run()
    assert summary.failed == ["nomusic"] and summary.written == []
    assert "no music: put one audio file" in (outbox / "nomusic" / "ERROR.txt").read_text()

    # Simulate two starts of the same content that never finished.
    db = sqlite3.connect(outbox / ".montage-watch.sqlite")
    db.execute("UPDATE jobs SET state='analyzing', attempts=2, failed_fingerprint=NULL WHERE name='nomusic'")
    db.commit()
    db.close()
    lines.clear()
    summary = WatchDaemon(inbox, outbox, config, once=True, log=lines.append).run()
    assert any("nomusic was interrupted" in line for line in lines)
    assert summary.failed == ["nomusic"]
    journal = Journal(outbox / ".montage-watch.sqlite", create=False)
    row = journal.job("nomusic")
    assert row.state == "failed" and "started 2 times without finishing" in row.error
    assert journal.files("nomusic")[0].state == "failed"


def test_restart_after_kill_between_rename_and_journal_commit_counts_one_write(tmp_path: Path) -> None:
    """The output folder already carries the fingerprint the journal was running: record it, don't redo it."""
    from montage_bridge.watch.config import WatchConfig
    from montage_bridge.watch.daemon import WatchDaemon

    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    outbox.mkdir()
    journal = Journal(outbox / ".montage-watch.sqlite")
    journal.start_job("done", "F1")
    journal.start_job("cut", "F2")
    (outbox / "done").mkdir()
    (outbox / "done" / "report.json").write_text('{"job": "done", "fingerprint": "F1"}')
    (outbox / ".mb-tmp-cut-1").mkdir()  # the other job was mid-write
    lines: list[str] = []
    WatchDaemon(inbox, outbox, WatchConfig(), once=True, log=lines.append).run()
    assert (journal.job("done").state, journal.job("done").writes) == ("written", 1)
    assert (journal.job("cut").state, journal.job("cut").writes) == ("seen", 0)
    assert not (outbox / ".mb-tmp-cut-1").exists()
    assert any("done was written before the stop" in line for line in lines)
    assert any("cut was interrupted" in line for line in lines)


def test_journal_from_before_the_resolve_step_gains_its_columns(tmp_path: Path) -> None:
    import re
    import sqlite3

    from montage_bridge.watch.journal import _SCHEMA

    path = tmp_path / "old.sqlite"
    old_schema = re.sub(r",\n    resolve_state TEXT,[^\n]*\n    resolve_error TEXT", "", _SCHEMA)
    assert "resolve_state" not in old_schema
    db = sqlite3.connect(path)
    db.executescript(old_schema)
    db.execute("INSERT INTO jobs (name, state, updated) VALUES ('old', 'written', 0)")
    db.commit()
    db.close()
    journal = Journal(path, create=False)  # what `watch status` / `watch retry` open
    assert journal.job("old").resolve_state is None
    assert journal.retry_resolve() == 0
    journal.set_resolve("old", "pending", "Resolve not reachable")
    assert journal.retry_resolve("old") == 1 and journal.job("old").resolve_state == "retry"
