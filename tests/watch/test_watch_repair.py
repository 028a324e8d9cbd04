"""A damaged watch journal: named at start with the fix, and `watch repair` rebuilds it from the outbox (#19)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import run_cli
from tests.watch.conftest import jobs, make_job, write_config


def _written_outbox(tmp_path: Path, tiny_media: dict) -> tuple[Path, Path, Path, dict]:
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    make_job(inbox, "alpha", tiny_media, [0, 1])
    make_job(inbox, "beta", tiny_media, [2, 3])
    config = write_config(tmp_path / "watch.toml")
    first = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once", timeout=180)
    assert first.returncode == 0, first.stderr
    before = jobs(outbox)
    assert {n: r["state"] for n, r in before.items()} == {"alpha": "written", "beta": "written"}
    return inbox, outbox, config, before


def test_corrupt_journal_is_named_with_the_fix_and_repair_rebuilds_it_without_rerunning(tmp_path, tiny_media):
    inbox, outbox, config, before = _written_outbox(tmp_path, tiny_media)
    journal = outbox / ".montage-watch.sqlite"
    for side in ("-wal", "-shm"):
        Path(f"{journal}{side}").unlink(missing_ok=True)
    journal.write_bytes(b"this is not sqlite at all\n" * 200)
    # A job folder with only ERROR.txt (a failure) and one without a report: not rebuilt, they run again.
    (outbox / "gamma").mkdir()
    (outbox / "gamma" / "ERROR.txt").write_text("job gamma failed\n")

    for args in (
        ("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once"),
        ("watch", "status", "--out", str(outbox)),
    ):
        refused = run_cli(*args, timeout=60)
        assert refused.returncode == 2, refused.stderr
        line = refused.stderr.strip()
        assert line.count("\n") == 0 and "Traceback" not in line, line
        assert str(journal) in line and "damaged" in line and "file is not a database" in line, line
        assert f"montage-bridge watch repair --out {outbox}" in line, line

    repaired = run_cli("watch", "repair", "--out", str(outbox), "--config", str(config), timeout=60)
    assert repaired.returncode == 0, repaired.stderr
    assert "rebuilt 2 written job(s)" in repaired.stdout and "gamma" in repaired.stdout, repaired.stdout
    kept = sorted(p.name for p in outbox.iterdir() if p.name.startswith(".montage-watch.sqlite.damaged-"))
    assert len(kept) == 1 and (outbox / kept[0]).read_bytes().startswith(b"this is not sqlite")
    rebuilt = jobs(outbox)
    for name in ("alpha", "beta"):
        assert rebuilt[name]["state"] == "written" and rebuilt[name]["writes"] == 1
        assert rebuilt[name]["done_fingerprint"] == before[name]["done_fingerprint"]
    reports = {n: (outbox / n / "report.json").stat().st_mtime_ns for n in ("alpha", "beta")}

    # The daemon starts again and does not redo the written jobs.
    again = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once", timeout=180)
    assert again.returncode == 0, again.stderr
    assert "0 job(s) written, 0 failed" in again.stdout, again.stdout + again.stderr
    assert {n: (outbox / n / "report.json").stat().st_mtime_ns for n in ("alpha", "beta")} == reports
    assert {n: r["writes"] for n, r in jobs(outbox).items() if n in ("alpha", "beta")} == {"alpha": 1, "beta": 1}

    # Repairing a sound journal changes nothing.
    healthy = run_cli("watch", "repair", "--out", str(outbox), timeout=60)
    assert healthy.returncode == 0 and "nothing to repair" in healthy.stdout
    assert len([p for p in outbox.iterdir() if ".damaged-" in p.name]) == 1


def test_journal_with_corrupt_pages_is_caught_at_start(tmp_path, tiny_media):
    inbox, outbox, config, _ = _written_outbox(tmp_path, tiny_media)
    journal = outbox / ".montage-watch.sqlite"
    db = sqlite3.connect(journal)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    data = bytearray(journal.read_bytes())
    assert len(data) >= 3 * page_size
    data[page_size + 8 : 2 * page_size] = b"\xa5" * (page_size - 8)  # scribble over the second page's cells
    journal.write_bytes(bytes(data))
    refused = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once", timeout=60)
    assert refused.returncode == 2
    assert "the watch journal is damaged" in refused.stderr and "watch repair" in refused.stderr, refused.stderr
    repaired = run_cli("watch", "repair", "--out", str(outbox), timeout=60)
    assert repaired.returncode == 0 and "rebuilt 2 written job(s)" in repaired.stdout, repaired.stdout


def test_repair_refuses_while_a_daemon_holds_the_outbox(tmp_path):
    from montage_bridge.watch.lock import OutboxLock

    outbox = tmp_path / "out"
    outbox.mkdir()
    (outbox / ".montage-watch.sqlite").write_bytes(b"garbage")
    with OutboxLock(outbox):
        refused = run_cli("watch", "repair", "--out", str(outbox), timeout=60)
    assert refused.returncode == 2
    assert "already holds this outbox" in refused.stderr and "repair" in refused.stderr, refused.stderr
    assert (outbox / ".montage-watch.sqlite").read_bytes() == b"garbage"  # untouched
