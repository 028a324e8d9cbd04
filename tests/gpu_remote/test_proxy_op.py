"""The worker's `proxy` op: the same proxy `montage-bridge proxies` makes (rate, frames, start
timecode, audio channels kept; smaller picture), made on a real worker; bad input is refused."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gpu_remote.client import process_files
from gpu_remote.errors import OpError
from gpu_remote.ops import OPS, OpContext
from kernel.ffmpeg_tools import run_ffmpeg
from kernel.probe import probe_media
from kernel.proxy_recipe import check_proxy
from tests.gpu_remote.conftest import TOKEN, WorkerProc
from tests.gpu_remote.test_timecode import clip_with_tc


def test_proxy_op_keeps_what_the_nle_links_by(shared_worker: WorkerProc, tmp_path: Path) -> None:
    sources = [
        clip_with_tc(tmp_path / "df2997.mov", "30000/1001", "14:23:10;12"),
        clip_with_tc(tmp_path / "ndf25.mov", "25", "10:00:00:00"),
    ]
    params = {"width": 48, "height": 48, "codec": "h264"}
    results = process_files(shared_worker.url, TOKEN, "proxy", sources, params, state_dir=tmp_path / "s")
    for src in sources:
        before, after = probe_media(src), probe_media(results[src])
        assert check_proxy(before, after) == [], src.name  # same rate, frames, start TC, channels
        assert (after.width, after.height) == (48, 32)  # 96x64 fitted in 48x48, aspect kept
        assert after.drop_frame == before.drop_frame


def test_proxy_op_refuses_sound_only_input(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=440:duration=0.3", str(wav)])
    work = tmp_path / "work"
    work.mkdir()
    ctx = OpContext("job-12345678", 1, {"video": wav}, work, lambda _f, _s: None, threading.Event())
    op = OPS["proxy"]
    with pytest.raises(OpError, match="no picture") as caught:
        op.run(ctx, op.params())
    assert caught.value.code == "invalid_input"
