"""A track with nothing an EDL can hold (issue #11, item 5), through ``montage-bridge convert``.

It used to become an EDL with a title and no event, written with exit 0, which our own reader (and
pycmx-based tools) then rejected. Now such a track is skipped with a loss-report line, and when
nothing at all can be written the command fails with one clear line and writes nothing.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import opentimelineio as otio
import pycmx

from tests.conftest import run_cli

RATE = 24.0


def _clip(name: str, frames: int = 24) -> otio.schema.Clip:
    return otio.schema.Clip(
        name=name,
        media_reference=otio.schema.ExternalReference(
            target_url=f"file:///media/{name}.mov",
            available_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, RATE), otio.opentime.RationalTime(1000, RATE)
            ),
        ),
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(10, RATE), otio.opentime.RationalTime(frames, RATE)
        ),
    )


def _gap(frames: int) -> otio.schema.Gap:
    return otio.schema.Gap(
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, RATE), otio.opentime.RationalTime(frames, RATE)
        )
    )


def _write(tmp_path: Path, *tracks: otio.schema.Track) -> Path:
    timeline = otio.schema.Timeline(name="tracks")
    timeline.global_start_time = otio.opentime.RationalTime(86400, RATE)
    timeline.tracks.extend(tracks)
    path = tmp_path / "in.otio"
    otio.adapters.write_to_file(timeline, str(path), adapter_name="otio_json")
    return path


def _video(*items: otio.core.Item) -> otio.schema.Track:
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.extend(items)
    return track


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_a_track_of_gaps_is_skipped_and_reported(tmp_path: Path) -> None:
    nested = otio.schema.Stack(name="nest")
    nested.append(_video(_clip("inner")))
    src = _write(tmp_path, _video(_clip("a"), _gap(12), _clip("b")), _video(_gap(30), nested), _video(_clip("c")))
    out = tmp_path / "out"
    proc = run_cli("convert", str(src), str(out / "cut.edl"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["cut.edl", "cut_V3.edl"]  # no empty cut_V2.edl
    (report,) = json.loads(proc.stdout)["result"]["conversions"]
    empty = [item for item in report["losses"] if item["feature"] == "empty tracks"]
    assert len(empty) == 1 and empty[0]["count"] == 1 and empty[0]["detail"].startswith("V2 ")
    for name, clips in (("cut.edl", 2), ("cut_V3.edl", 1)):
        edl = pycmx.parse_cmx3600(io.StringIO((out / name).read_text()))
        assert len(list(edl.events)) == clips
    # And each written EDL reads back with our own reader.
    back = run_cli("convert", str(out / "cut_V3.edl"), str(tmp_path / "v3.otio"))
    assert back.returncode == 0, back.stderr


def test_nothing_to_write_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    nested = otio.schema.Stack(name="nest")
    nested.append(_video(_clip("inner")))
    src = _write(tmp_path, _video(_gap(48)), _video(_gap(10), nested))
    out = tmp_path / "out"
    line = _one_error_line(run_cli("convert", str(src), str(out / "cut.edl")))
    assert "no clip an EDL can describe" in line and "tracks" in line
    assert not out.exists() or not any(out.iterdir())


def test_asking_for_an_empty_track_fails_clearly(tmp_path: Path) -> None:
    src = _write(tmp_path, _video(_clip("a")), _video(_gap(48)))
    line = _one_error_line(run_cli("convert", str(src), str(tmp_path / "v2.edl"), "--edl-track", "2"))
    assert "video track 2" in line and "no clip an EDL can describe" in line
    assert not (tmp_path / "v2.edl").exists()
