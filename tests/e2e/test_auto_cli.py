"""`montage-bridge auto` as a user runs it, checked against the sample-media generator's facts."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlparse

import opentimelineio as otio
import pytest

from kernel.timebase import parse_rate, rate_from_float, timecode_to_frames
from tests.conftest import run_cli

# The formats `auto` writes and reads back here (FCPXML through our own adapter: the upstream
# writer cannot write 24000/1001 at all).
FORMATS = ("otio", "fcpxml", "xml", "edl")


@pytest.fixture(scope="module")
def auto_run(sample_media: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("auto-out")
    proc = run_cli(
        "auto",
        str(sample_media / "footage"),
        "--music",
        str(sample_media / "music.wav"),
        "--duration",
        "20",
        "-o",
        str(out),
        "--name",
        "Demo",
        "--formats",
        ",".join(FORMATS),
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_summary_and_files(auto_run) -> None:
    out, proc = auto_run
    assert "cuts on beat" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f"Demo.{f}" for f in FORMATS), "edit.html", "edit.png"])


def test_timeline_obeys_the_facts(auto_run, facts: dict, sample_media: Path) -> None:
    out, _ = auto_run
    timeline = otio.adapters.read_from_file(str(out / "Demo.otio"))
    rate = rate_from_float(timeline.global_start_time.rate)
    assert timeline.global_start_time.value == timecode_to_frames(
        timeline.metadata["montage_bridge"]["start_timecode"], rate
    )
    true_beats = [round(b * rate) for b in facts["music"]["beats"]]
    video = timeline.video_tracks()[0]
    clips = list(video.find_clips())
    assert len(clips) >= 10
    previous = None
    for clip in clips:
        name = Path(unquote(urlparse(clip.media_reference.target_url).path)).name
        truth = facts["clips"][name]
        media_rate = parse_rate(truth["rate"])
        rng = clip.source_range
        assert rate_from_float(rng.start_time.rate) == media_rate
        # Source range in media time: it starts at or after the embedded start TC and ends inside the media.
        local_in = int(rng.start_time.value) - truth["start_frame"]
        local_out = local_in + round(Fraction(int(rng.duration.value)) / rate * media_rate)
        assert 0 <= local_in < local_out <= truth["frames"]
        assert clip.media_reference.available_range.start_time.value == truth["start_frame"]
        # Never across a hard cut.
        assert not any(local_in < cut < local_out for cut in truth["cuts"]), (name, local_in, local_out)
        # Every cut within one frame of a true beat.
        start = int(video.range_of_child(clip).start_time.rescaled_to(float(rate)).value)
        if start > 0:
            assert min(abs(start - b) for b in true_beats) <= 1
        assert name != previous
        previous = name


def test_plain_auto_plans_a_music_montage_in_the_default_style(auto_run) -> None:
    out, _ = auto_run
    timeline = otio.adapters.read_from_file(str(out / "Demo.otio"))
    meta = timeline.metadata["montage_bridge"]
    assert (meta["planner"], meta["mode"], meta["style"]) == ("heuristic.music_montage/1", "music_montage", "dynamic")


def test_every_file_reads_back_with_the_same_clip_count(auto_run) -> None:
    out, _ = auto_run
    reference = otio.adapters.read_from_file(str(out / "Demo.otio"))
    count = len(list(reference.video_tracks()[0].find_clips()))
    for fmt in FORMATS:
        kwargs = {"rate": rate_from_float(reference.global_start_time.rate)} if fmt == "edl" else {}
        if kwargs:
            kwargs["rate"] = float(kwargs["rate"])
        back = otio.adapters.read_from_file(str(out / f"Demo.{fmt}"), **kwargs)
        assert len(list(back.video_tracks()[0].find_clips())) == count, fmt


def test_fcpxml_is_dtd_valid_and_frame_exact(auto_run) -> None:
    from nle_adapters.fcpxml.dtd import validate
    from tests.conftest import TEST_DATA
    from tests.interchange.timelines import Features, assert_same_timeline

    out, _ = auto_run
    text = (out / "Demo.fcpxml").read_text()
    assert '<fcpxml version="1.10">' in text
    assert validate(text, TEST_DATA / "fcpxml" / "dtd") == []
    reference = otio.adapters.read_from_file(str(out / "Demo.otio"))
    # FCPXML markers have no colours; everything else must come back frame for frame.
    assert_same_timeline(
        reference, otio.adapters.read_from_file(str(out / "Demo.fcpxml")), Features(marker_colors=False)
    )


def _one_error_line(proc) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_empty_folder(tmp_path: Path, sample_media: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = run_cli(
        "auto", str(tmp_path / "empty"), "--music", str(sample_media / "music.wav"), "-o", str(tmp_path / "o")
    )
    assert "no files found" in _one_error_line(proc)
    assert not any((tmp_path / "o").glob("*"))


def test_non_media_file(tmp_path: Path, sample_media: Path) -> None:
    footage = tmp_path / "footage"
    shutil.copytree(sample_media / "footage", footage)
    (footage / "notes.mov").write_text("shot list, not video\n" * 50)
    proc = run_cli("auto", str(footage), "--music", str(sample_media / "music.wav"), "-o", str(tmp_path / "o"))
    line = _one_error_line(proc)
    assert "notes.mov" in line and "--skip-unreadable" in line
    assert not any((tmp_path / "o").glob("*"))
    ok = run_cli(
        "auto",
        str(footage),
        "--music",
        str(sample_media / "music.wav"),
        "-o",
        str(tmp_path / "o"),
        "--skip-unreadable",
        "--formats",
        "otio",
        "--duration",
        "5",
    )
    assert ok.returncode == 0, ok.stderr
    assert "skipped" in ok.stderr


def test_music_without_a_beat(tmp_path: Path, sample_media: Path) -> None:
    import wave

    silent = tmp_path / "silence.wav"
    with wave.open(str(silent), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(b"\0\0" * 22050 * 4)
    proc = run_cli("auto", str(sample_media / "footage"), "--music", str(silent), "-o", str(tmp_path / "o"))
    line = _one_error_line(proc)
    assert "silence.wav" in line and "beat" in line
    assert not any((tmp_path / "o").glob("*"))


def test_output_not_writable(tmp_path: Path, sample_media: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    proc = run_cli(
        "auto", str(sample_media / "footage"), "--music", str(sample_media / "music.wav"), "-o", str(blocker / "out")
    )
    assert "not writable" in _one_error_line(proc)
