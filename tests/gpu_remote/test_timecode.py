"""The worker's video ops keep the source's start timecode, rate and frame count, so NLEs link the
processed file at the same source frames (what `auto --gpu` relies on)."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import pytest

from gpu_remote.client import process_files
from gpu_remote.ops.base import OpContext, source_timecode
from gpu_remote.ops.upscale import mux_with_source
from kernel.ffmpeg_tools import run_ffmpeg
from kernel.probe import probe_media
from tests.gpu_remote.conftest import TOKEN, WorkerProc


def clip_with_tc(path: Path, rate: str, tc: str, *, container_only: bool = False) -> Path:
    """A short clip with an embedded start timecode (a tmcd track in MOV; a container tag in MKV)."""
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=96x64:rate={rate}:duration=0.6",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:duration=0.6",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            *(["-metadata", f"timecode={tc}"] if container_only else ["-timecode", tc]),
            str(path),
        ]
    )
    return path


@pytest.mark.parametrize(("op", "params"), [("upscale", {"scale": 2}), ("stabilize", {"smoothing": 3})])
def test_video_ops_keep_start_timecode_rate_and_frames(
    shared_worker: WorkerProc, tmp_path: Path, op: str, params: dict
) -> None:
    sources = [
        clip_with_tc(tmp_path / "df2997.mov", "30000/1001", "14:23:10;12"),
        clip_with_tc(tmp_path / "ndf25.mov", "25", "10:00:00:00"),
    ]
    results = process_files(shared_worker.url, TOKEN, op, sources, params, state_dir=tmp_path / "s")
    for src in sources:
        before, after = probe_media(src), probe_media(results[src])
        assert before.start_frame > 0
        assert (after.start_timecode, after.drop_frame) == (before.start_timecode, before.drop_frame), src.name
        assert (after.rate, after.frames) == (before.rate, before.frames), src.name
        if op == "upscale":
            assert (after.width, after.height) == (2 * before.width, 2 * before.height)


def test_source_timecode_reads_every_place_it_can_live(tmp_path: Path) -> None:
    assert source_timecode(clip_with_tc(tmp_path / "a.mov", "25", "01:02:03:04")) == "01:02:03:04"
    # Matroska keeps it as a container tag named TIMECODE (upper case).
    mkv = clip_with_tc(tmp_path / "b.mkv", "25", "05:00:00:00", container_only=True)
    assert source_timecode(mkv) == "05:00:00:00"
    plain = tmp_path / "c.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=0.2", "-c:v", "libx264", str(plain)])
    assert source_timecode(plain) is None


def test_realesrgan_mux_puts_back_timecode_and_audio(tmp_path: Path) -> None:
    """The Real-ESRGAN path re-encodes with PyAV (no timecode); its mux step must restore the source's."""
    src = clip_with_tc(tmp_path / "src.mov", "24000/1001", "00:59:58:00")
    video_only = tmp_path / "sr.mp4"
    with av.open(str(src)) as inp, av.open(str(video_only), "w") as outp:
        vin = inp.streams.video[0]
        vout = outp.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        for frame in inp.decode(vin):
            for packet in vout.encode(frame.reformat(format="yuv420p")):
                outp.mux(packet)
        for packet in vout.encode():
            outp.mux(packet)
    assert source_timecode(video_only) is None  # what the PyAV-written picture lacks
    work = tmp_path / "work"
    work.mkdir()
    ctx = OpContext("job-12345678", 1, {"video": src}, work, lambda _f, _s: None, threading.Event())
    out = mux_with_source(ctx, video_only, src, work / "out.mp4")
    before, after = probe_media(src), probe_media(out)
    assert after.start_timecode == before.start_timecode == "00:59:58:00"
    assert (after.rate, after.frames) == (before.rate, before.frames)
    assert after.audio_channels == before.audio_channels > 0
