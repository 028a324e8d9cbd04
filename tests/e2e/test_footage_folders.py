"""Footage folders as they come off cards and drives: documents, sidecars and proxies beside the clips.

One rule set (``analysis.footage.find_footage``) for `auto`, `analyze` and `watch`; what it sets aside
is reported in exactly one warning line, and nothing of it stops the cut.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.footage import find_footage, skip_reason, skipped_summary
from kernel.errors import MediaError
from tests.conftest import run_cli

# What a card or a drive holds beside the clips: an editor's notes, a PDF call sheet, DJI's
# telemetry subtitles and low-res proxy, a GoPro thumbnail and proxy, a Sony XML sidecar, the OS's files.
CARD_EXTRAS = {
    "notes.txt": "shot list\n",
    "call sheet.pdf": "%PDF-1.4 not really\n",
    "DJI_0001.SRT": "1\n00:00:00,000 --> 00:00:00,033\nF/2.8, SS 1000, ISO 100\n",
    "DJI_0001.LRF": "low-res proxy bytes",
    "GOPR0001.THM": "jpeg thumbnail bytes",
    "GL010001.LRV": "gopro proxy bytes",
    "C0001M01.XML": "<NonRealTimeMeta/>",
    ".DS_Store": "finder",
    "._beach_2398.mp4": "appledouble",
}


def _card_folder(root: Path, sample_media: Path) -> Path:
    footage = root / "card"
    shutil.copytree(sample_media / "footage", footage)
    for name, text in CARD_EXTRAS.items():
        (footage / name).write_text(text)
    return footage


def test_find_footage_sets_aside_documents_sidecars_proxies_and_hidden_files(tmp_path: Path) -> None:
    for name in ["A001.MP4", "b.mov", *CARD_EXTRAS, "photo.JPG", "sub/c.mp4", ".Trashes/d.mp4"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    media, skipped = find_footage(tmp_path)
    assert [p.name for p in media] == ["A001.MP4", "b.mov"]
    reasons = {s.path.name: s.reason for s in skipped}
    assert reasons == {
        "notes.txt": "document",
        "call sheet.pdf": "document",
        "C0001M01.XML": "document",
        "DJI_0001.SRT": "subtitles",
        "DJI_0001.LRF": "proxy",
        "GL010001.LRV": "proxy",
        "GOPR0001.THM": "camera sidecar",
        "photo.JPG": "still image",
        ".DS_Store": "hidden",
        "._beach_2398.mp4": "hidden",
        "sub": "folder",  # not looked into without recursive; hidden folders are not even mentioned
    }
    media, skipped = find_footage(tmp_path, recursive=True)
    assert [p.relative_to(tmp_path).as_posix() for p in media] == ["A001.MP4", "b.mov", "sub/c.mp4"]
    assert "folder" not in {s.reason for s in skipped}


def test_the_summary_is_one_line_that_names_what_was_set_aside(tmp_path: Path) -> None:
    for name in ["a.mp4", "notes.txt", "DJI_0001.LRF", "._a.mp4", "sub/b.mp4"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    _, skipped = find_footage(tmp_path)
    line = skipped_summary(skipped, tmp_path)
    assert line is not None and "\n" not in line
    assert line.startswith("skipped 4 items that are not footage")
    assert "notes.txt" in line and "DJI_0001.LRF" in line and "sub/" in line and "--recursive" in line
    assert "._a.mp4" not in line  # hidden files are counted, not named (every clip has a ._ twin on macOS)
    assert skipped_summary([], tmp_path) is None
    many = [tmp_path / f"n{i}.txt" for i in range(20)]
    for p in many:
        p.write_text("x")
    _, skipped = find_footage(tmp_path, recursive=True)
    # 8 names in all (the proxy and 7 notes), the other 14 notes counted
    assert "21 documents" in (skipped_summary(skipped, tmp_path) or "")
    assert "+14 more" in (skipped_summary(skipped, tmp_path) or "")


def test_unknown_types_stay_candidates_and_missing_folders_are_clear(tmp_path: Path) -> None:
    # A file we do not recognise is still offered to the analysis, which names it if it is not media.
    assert skip_reason(Path("clip.braw")) is None and skip_reason(Path("A001C003.R3D")) is None
    assert skip_reason(Path("x.bin"), ignore=["*.BIN"]) == "ignored"
    with pytest.raises(MediaError, match="does not exist"):
        find_footage(tmp_path / "nope")
    (tmp_path / "f.mp4").write_text("x")
    with pytest.raises(MediaError, match="is not a folder"):
        find_footage(tmp_path / "f.mp4")


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_auto_cuts_a_card_folder_with_exactly_one_warning(tmp_path: Path, sample_media: Path) -> None:
    footage = _card_folder(tmp_path, sample_media)
    shutil.copy(sample_media / "music.wav", footage / "music.wav")  # the song among the clips is the music
    out = tmp_path / "out"
    proc = run_cli(
        "auto", str(footage), "--music", str(footage / "music.wav"), "-o", str(out), "--formats", "otio",
        "--duration", "6", "--save-plan",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    skipped = [w for w in _warnings(proc.stderr) if "not footage" in w]
    assert len(skipped) == 1, proc.stderr
    for name in ["notes.txt", "call sheet.pdf", "DJI_0001.SRT", "DJI_0001.LRF", "GOPR0001.THM", "C0001M01.XML"]:
        assert name in skipped[0]
    plan = json.loads((out / "plan.json").read_text())
    assert {c["clip_id"] for c in plan["cuts"]} <= {"beach_2398", "city_25", "interview_2997"}


def test_auto_recursive_takes_clips_from_nested_folders(tmp_path: Path, sample_media: Path) -> None:
    # A card's layout: the clips two folders down, nothing at the top.
    nested = tmp_path / "CARD" / "DCIM" / "100MEDIA"
    shutil.copytree(sample_media / "footage", nested)
    flat = run_cli(
        "auto", str(tmp_path / "CARD"), "--music", str(sample_media / "music.wav"), "-o", str(tmp_path / "a")
    )
    assert flat.returncode == 2
    line = flat.stderr.strip().splitlines()[-1]
    assert "no files found" in line and "DCIM/" in line and "--recursive" in line
    assert not (tmp_path / "a").exists()
    deep = run_cli(
        "auto", str(tmp_path / "CARD"), "--recursive", "--music", str(sample_media / "music.wav"),
        "-o", str(tmp_path / "b"), "--formats", "otio", "--duration", "5",
    )  # fmt: skip
    assert deep.returncode == 0, deep.stderr
    assert (tmp_path / "b" / "CARD.otio").is_file()


def test_analyze_uses_the_same_rules(tmp_path: Path, sample_media: Path) -> None:
    footage = _card_folder(tmp_path, sample_media)
    proc = run_cli("analyze", str(footage), "--json")
    assert proc.returncode == 0, proc.stderr
    assert len([w for w in _warnings(proc.stderr) if "not footage" in w]) == 1
    clips = json.loads(proc.stdout)["result"]["analysis"]["clips"]
    assert sorted(c["media"]["name"] for c in clips) == ["beach_2398.mp4", "city_25.mov", "interview_2997.mp4"]


def test_a_recorders_wav_beside_the_clips_is_set_aside_not_fatal(tmp_path: Path, sample_media: Path) -> None:
    # A sound recorder's file in the footage folder stopped `auto` (#21: never fail where an editor would cut).
    footage = tmp_path / "shoot"
    shutil.copytree(sample_media / "footage", footage)
    shutil.copy(sample_media / "music.wav", footage / "ZOOM0001.WAV")
    out = tmp_path / "out"
    proc = run_cli(
        "auto", str(footage), "--music", str(sample_media / "music.wav"), "-o", str(out), "--formats", "otio",
        "--duration", "6", "--save-plan",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    aside = [w for w in _warnings(proc.stderr) if "audio-only" in w]
    assert len(aside) == 1 and "ZOOM0001.WAV" in aside[0], proc.stderr
    plan = json.loads((out / "plan.json").read_text())
    assert plan["cuts"] and all(c["clip_id"] != "zoom0001" for c in plan["cuts"])
