"""The `auto` flags docs/planner.md documents (--mode, --aspect, --pace, --must-include), each seen in
plan.json, and outputs that appear only when the run succeeds."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from kernel.errors import MediaError
from montage_bridge.pipeline import _match_must_include
from tests.conftest import run_cli


def _auto(sample_media: Path, out: Path, *flags: str, footage: Path | None = None):
    return run_cli(
        "auto", str(footage or sample_media / "footage"), "--music", str(sample_media / "music.wav"),
        "-o", str(out), "--formats", "otio", "--save-plan", *flags,
    )  # fmt: skip


def _plan(out: Path) -> dict:
    return json.loads((out / "plan.json").read_text())


def _video_cuts(plan: dict) -> list[dict]:
    return [c for c in plan["cuts"] if c["kind"] == "video"]


def _error_line(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return lines[-1]


def test_mode_picks_the_planner(tmp_path: Path, sample_media: Path) -> None:
    proc = _auto(sample_media, tmp_path / "o", "--mode", "highlights", "--duration", "6")
    assert proc.returncode == 0, proc.stderr
    plan = _plan(tmp_path / "o")
    assert plan["mode"] == "highlights" and plan["planner"].startswith("heuristic.highlights")


def test_aspect_overrides_the_brief_and_the_style(tmp_path: Path, sample_media: Path) -> None:
    brief = tmp_path / "brief.toml"
    brief.write_text('aspect = "1:1"\n')
    proc = _auto(sample_media, tmp_path / "o", "--brief", str(brief), "--aspect", "vertical", "--duration", "4")
    assert proc.returncode == 0, proc.stderr
    plan = _plan(tmp_path / "o")
    assert plan["aspect"] == "9:16" and plan["height"] > plan["width"]  # the brief said 1:1


def test_pace_changes_the_number_of_cuts(tmp_path: Path, sample_media: Path) -> None:
    counts = {}
    for pace in ("slow", "frantic"):
        proc = _auto(sample_media, tmp_path / pace, "--pace", pace, "--duration", "12")
        assert proc.returncode == 0, proc.stderr
        counts[pace] = len(_video_cuts(_plan(tmp_path / pace)))
    assert counts["frantic"] > counts["slow"], counts
    bad = _auto(sample_media, tmp_path / "bad", "--pace", "warp")
    assert bad.returncode == 2 and "--pace" in bad.stderr and "warp" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_must_include_puts_the_clip_in_the_edit(tmp_path: Path, sample_media: Path) -> None:
    # A 2-second highlights edit holds one shot: the best-scored clip unless one is required.
    proc = _auto(sample_media, tmp_path / "plain", "--mode", "highlights", "--duration", "2")
    assert proc.returncode == 0, proc.stderr
    first = _video_cuts(_plan(tmp_path / "plain"))[0]["clip_id"]
    wanted = next(n for n in ("interview_2997", "city_25", "beach_2398") if n != first)
    proc = _auto(sample_media, tmp_path / "o", "--mode", "highlights", "--duration", "2", "--must-include", wanted)
    assert proc.returncode == 0, proc.stderr
    assert wanted in {c["clip_id"] for c in _plan(tmp_path / "o")["cuts"]}


def test_must_include_names_a_clip_by_file_name_stem_clip_id_or_path(tmp_path: Path) -> None:
    folder = tmp_path / "card"
    (folder / "B").mkdir(parents=True)
    files = [folder / "A001 C002.MOV", folder / "drone.mp4", folder / "B" / "drone.mov"]
    for f in files:
        f.write_text("x")
    terms = ["A001 C002.MOV", "A001_C002", "a001 c002", str(files[2]), "drone.mp4", "B/drone.mov"]
    found = _match_must_include(terms, files, folder)
    assert [found[t] for t in terms] == [files[0], files[0], files[0], files[2], files[1], files[2]]
    with pytest.raises(MediaError, match=r"--must-include drone: names 2 clips \(drone.mp4, B/drone.mov\)"):
        _match_must_include(["drone"], files, folder)
    with pytest.raises(MediaError, match="not among the footage clips"):
        (tmp_path / "elsewhere.mp4").write_text("x")
        _match_must_include([str(tmp_path / "elsewhere.mp4")], files, folder)


def test_must_include_unknown_clip_is_a_clear_error_before_any_work(tmp_path: Path, sample_media: Path) -> None:
    proc = _auto(sample_media, tmp_path / "o", "--must-include", "drone_0042")
    line = _error_line(proc)
    assert "--must-include drone_0042" in line and "beach_2398.mp4" in line  # names the clips there are
    assert not (tmp_path / "o").exists()


def test_a_failed_run_leaves_no_output_folder(tmp_path: Path, sample_media: Path) -> None:
    silent = tmp_path / "silence.wav"  # no beat: the planner refuses after analysis
    with wave.open(str(silent), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(b"\0\0" * 22050 * 4)
    out = tmp_path / "new" / "deeper" / "out"
    proc = run_cli("auto", str(sample_media / "footage"), "--music", str(silent), "-o", str(out))
    assert "beat" in _error_line(proc)
    assert not (tmp_path / "new").exists()  # neither the folder nor the parents it would have made


def test_a_failed_run_leaves_an_existing_folder_as_it_was(tmp_path: Path, sample_media: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("an earlier edit\n")
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "broken.mp4").write_text("not video\n")
    proc = run_cli("auto", str(tmp_path / "clips"), "--music", str(sample_media / "music.wav"), "-o", str(out))
    assert "broken.mp4" in _error_line(proc)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "an earlier edit\n"


def test_a_failure_after_the_folder_was_made_takes_it_away_again(tmp_path: Path) -> None:
    # Late failures (a timeline writer, --gpu-required after downloads) come after the folder exists.
    from montage_bridge.pipeline import OutputFolder

    fresh = OutputFolder(tmp_path / "a" / "b" / "out")
    with pytest.raises(RuntimeError), fresh.on_failure_restore():
        fresh.create()
        (tmp_path / "a" / "b" / "out" / "processed").mkdir()
        (tmp_path / "a" / "b" / "out" / "processed" / "cam.upscale.mp4").write_text("x")
        raise RuntimeError("writer failed")
    assert not (tmp_path / "a").exists()

    kept = tmp_path / "kept"
    (kept / "processed").mkdir(parents=True)
    (kept / "processed" / "old.mp4").write_text("from an earlier run")
    (kept / "edit.otio").write_text("earlier")
    existing = OutputFolder(kept)
    with pytest.raises(KeyboardInterrupt), existing.on_failure_restore():
        existing.create()
        (kept / "processed" / "new.mp4").write_text("x")
        raise KeyboardInterrupt
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*")) == [
        "edit.otio",
        "processed",
        "processed/old.mp4",
    ]
