"""`montage-bridge render`: outputs, codecs, exit codes (0 ok, 2 nothing rendered, 3 check failed), atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import av
import opentimelineio as otio
import pytest

from montage_bridge.cli import main
from render import RenderError, RenderOptions, render_timeline
from tests.render.conftest import R24, R25
from tests.render.media import clip, gap, make_tone, reference, timeline


def short_timeline(coded: dict[str, Path], frames: int = 48) -> otio.schema.Timeline:
    ref = reference(coded["a"], 0, 150, R25, has_video=True, has_audio=True)
    tracks = []
    for kind, name in (("Video", "V1"), ("Audio", "A1")):
        track = otio.schema.Track(name=name, kind=kind)
        track.append(clip("a", ref, R25, 5, frames, R24))
        tracks.append(track)
    return timeline("short", R24, tracks, width=160, height=90)


def write_otio(tl: otio.schema.Timeline, path: Path) -> Path:
    otio.adapters.write_to_file(tl, str(path), adapter_name="otio_json")
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name)


def test_render_command_writes_a_checked_mp4_and_reports_loudness(coded, tmp_path, capsys):
    source = write_otio(short_timeline(coded), tmp_path / "cut.otio")
    out = tmp_path / "cut.mp4"
    code = main(["render", str(source), "-o", str(out), "--json", "--crf", "30"])
    doc = json.loads(capsys.readouterr().out)  # the --json envelope (docs/json-output.md)
    assert code == 0, doc
    report = doc["result"]
    assert doc["ok"] and report["frames"] == report["frames_rendered"] == 48
    assert abs(report["loudness_after"]["integrated_lufs"] + 16) <= 1  # the default target, -16 LUFS
    assert report["loudness_after"]["true_peak_dbtp"] <= -1
    assert report["loudness_before"]["integrated_lufs"] < -17
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"


def test_an_auto_output_folder_renders_its_otio(coded, tmp_path, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    write_otio(short_timeline(coded, 24), folder / "Montage.otio")
    (folder / "Montage.fcpxml").write_text("<fcpxml/>")  # other formats beside it are not candidates
    assert main(["render", str(folder), "--loudness", "off", "--no-check"]) == 0
    assert (folder / "Montage.mp4").is_file()
    capsys.readouterr()


@pytest.mark.parametrize(
    ("codec", "suffix", "name"), [("h265", ".mp4", "hevc"), ("vp9", ".webm", "vp9"), ("prores", ".mov", "prores")]
)
def test_other_codecs_and_sizes(coded, tmp_path, codec, suffix, name):
    out = tmp_path / f"x{suffix}"
    report = render_timeline(short_timeline(coded, 12), out, RenderOptions(codec=codec, size=(128, 72)))
    assert report.ok, report.failures
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == name
        assert (stream.codec_context.width, stream.codec_context.height) == (128, 72)


def test_missing_media_is_one_line_exit_2_and_no_file(coded, tmp_path, capsys):
    tl = short_timeline(coded)
    tl.tracks[0][0].media_reference.target_url = (tmp_path / "gone.mp4").as_uri()
    source = write_otio(tl, tmp_path / "cut.otio")
    out = tmp_path / "cut.mp4"
    assert main(["render", str(source), "-o", str(out)]) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "gone.mp4" in message and "not found" in message
    assert not out.exists() and not leftovers(tmp_path)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--codec", "prores"], ".mov"),  # prores into an .mp4
        (["--size", "161x90"], "even"),
        (["--loudness", "loud"], "loudness target"),
        (["--codec", "av1"], "choose from"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(coded, tmp_path, capsys, args, needle):
    source = write_otio(short_timeline(coded), tmp_path / "cut.otio")
    out = tmp_path / "cut.mp4"
    assert main(["render", str(source), "-o", str(out), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_a_failed_quality_check_keeps_the_file_and_exits_3(coded, tmp_path, capsys):
    """Sound on A1 that is silent in the file: 'silence where the timeline has sound'."""
    quiet = make_tone(tmp_path / "quiet.wav", hz=300, seconds=4, volume_db=-120)
    tl = short_timeline(coded)
    tl.tracks[1][0].media_reference = reference(quiet, 0, 96, R24, has_video=False, has_audio=True)
    tl.tracks[1][0].metadata["montage_bridge"] = {"source_rate": "24"}
    tl.tracks[1][0].source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(48, 24)
    )
    source = write_otio(tl, tmp_path / "cut.otio")
    out = tmp_path / "cut.mp4"
    assert main(["render", str(source), "-o", str(out), "--loudness", "off", "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert not doc["ok"] and doc["error"]["kind"] == "check_failed"
    assert any("silence" in f for f in doc["result"]["failures"])
    assert out.is_file()


def test_an_interrupted_render_leaves_nothing(coded, tmp_path):
    out = tmp_path / "cut.mp4"

    def interrupt(done: float, total: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_timeline(short_timeline(coded, 96), out, RenderOptions(), progress=interrupt)
    assert not out.exists() and not leftovers(tmp_path)


def test_nested_sequences_are_refused_with_the_clip_named(coded, tmp_path):
    tl = short_timeline(coded)
    nested = otio.schema.Stack(name="compound")
    tl.tracks[0].append(nested)
    with pytest.raises(RenderError, match="compound.*flatten"):
        render_timeline(tl, tmp_path / "x.mp4")


def _lavfi_video(path: Path, source: str, seconds: float) -> Path:
    import subprocess

    from kernel.ffmpeg_tools import ffmpeg_path

    subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"{source}:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=500:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


def test_quality_check_flags_black_and_frozen_picture_but_not_gaps(coded, tmp_path):
    """Black media inside a clip and a frozen (still) clip fail the check; a 2 s timeline gap does not."""
    black = _lavfi_video(tmp_path / "black.mp4", "color=c=black:s=160x90:r=24", 3)
    still = _lavfi_video(tmp_path / "still.mp4", "color=c=gray:s=160x90:r=24", 3)
    a = reference(coded["a"], 0, 150, R25, has_video=True, has_audio=True)
    refs = {"black": reference(black, 0, 72, R24), "still": reference(still, 0, 72, R24)}
    track = otio.schema.Track(name="V1", kind="Video")
    track.append(clip("a", a, R25, 0, 24, R24))
    track.append(gap(48, R24))  # 2 s of black on purpose
    track.append(clip("a", a, R25, 30, 24, R24))
    track.append(clip("black", refs["black"], R24, 0, 36, R24))
    track.append(clip("still", refs["still"], R24, 0, 60, R24))
    report = render_timeline(timeline("qc", R24, [track]), tmp_path / "qc.mp4", RenderOptions(preset="ultrafast"))
    failures = " | ".join(report.failures)
    assert "black picture 4.00" in failures  # the black clip, from record 4.0 s
    assert "frozen picture" in failures  # the still clip
    assert "black picture 1.00" not in failures  # the gap
