"""The daemon's EDLs name frames the media has: source TCs inside each file's own timecode range,
read with ``pycmx`` (issue #11: "every EDL event that auto, the daemon and convert write")."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

from nle_adapters.edl.common import make_reel
from tests.conftest import run_cli
from tests.interchange.test_edl_source_tc import _check_sources
from tests.watch.conftest import write_config


def test_daemon_edl_sources_lie_inside_each_medias_timecode(tmp_path: Path, sample_media: Path, facts: dict) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    job = inbox / "mixed"
    shutil.copytree(sample_media / "footage", job)
    shutil.copy(sample_media / "music.wav", job / "music.wav")
    config = write_config(tmp_path / "watch.toml", formats=["edl"], duration_seconds=12)
    proc = run_cli("watch", str(inbox), "--out", str(outbox), "--config", str(config), "--once", timeout=300)
    assert proc.returncode == 0, proc.stderr
    edls = sorted((outbox / "mixed").glob("*.edl"))
    assert edls, sorted(p.name for p in (outbox / "mixed").iterdir())
    media = {
        make_reel(name): (Fraction(f["rate"]), f["start_frame"], f["frames"], f["drop_frame"])
        for name, f in facts["clips"].items()
    }
    checked = sum(_check_sources(path.read_text(), media) for path in edls)
    assert checked >= 6, checked
