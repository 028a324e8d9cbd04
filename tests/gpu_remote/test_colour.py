"""Ops keep colour: BT.709 and BT.601 clips made by ffmpeg come back with the same mean luma
(within half a code) and the same matrix/range/primaries/transfer tags, on every path — the ffmpeg
filters (stabilize, lanczos upscale) and the RGB round trip a Real-ESRGAN model sits in.

The Real-ESRGAN model itself needs a Vulkan GPU; here a PIL lanczos 4x stands in for it, so the
test runs the op's real decode → RGB → model → YUV → encode → mux path with everything but the
network.
"""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
import pytest

from gpu_remote.ops import stabilize, upscale
from gpu_remote.ops.base import OpContext
from gpu_remote.ops.colour import rgb_roundtrip
from kernel.ffmpeg_tools import run_ffmpeg

# (name, scale's matrix name, tag value for colorspace/primaries/transfer, ffmpeg enum values)
SPACES = {
    "bt709": ("bt709", "bt709", (1, 1, 1)),
    "bt601": ("bt601", "smpte170m", (6, 6, 6)),
}


def make_tagged_clip(path: Path, space: str, *, size: str = "192x108", seconds: float = 1.0) -> Path:
    """A still test pattern (desaturated like camera footage; still, so stabilizing changes no
    pixel) encoded with ``space``'s matrix and tagged with it."""
    matrix, tag, _ = SPACES[space]
    run_ffmpeg(
        [
            "-f", "lavfi", "-i", f"testsrc2=s={size}:r=25:d={seconds}",
            "-vf",
            f"loop=loop=-1:size=1:start=0,eq=saturation=0.6,scale=out_color_matrix={matrix}:out_range=tv,format=yuv420p,"
            f"setparams=color_primaries={tag}:color_trc={tag}:colorspace={tag}:range=tv",
            "-frames:v", str(round(25 * seconds)),
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", str(path),
        ]
    )  # fmt: skip
    return path


def tags_and_luma(path: Path) -> tuple[tuple[int, int, int, int], float]:
    """((colorspace, range, primaries, transfer) of the first frame, mean luma of all frames)."""
    means, tags = [], None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if tags is None:
                tags = (int(frame.colorspace), int(frame.color_range), int(frame.color_primaries), int(frame.color_trc))
            means.append(frame.to_ndarray(format="yuv420p")[: frame.height].astype(np.float64).mean())
    assert tags is not None
    return tags, float(np.mean(means))


def context(tmp_path: Path, src: Path) -> OpContext:
    work = tmp_path / "work"
    work.mkdir(parents=True)
    return OpContext("job", 1, {"video": src}, work, lambda *_a: None, threading.Event())


@pytest.mark.parametrize("space", ["bt709", "bt601"])
def test_every_path_keeps_luma_and_colour_tags(tmp_path: Path, space: str) -> None:
    src = make_tagged_clip(tmp_path / f"{space}.mp4", space)
    src_tags, src_luma = tags_and_luma(src)
    assert src_tags == (SPACES[space][2][0], 1, *SPACES[space][2][1:])  # the clip is what we asked ffmpeg for

    outputs = {}
    params = upscale.UpscaleParams(scale=2, method="lanczos")
    outputs["lanczos"] = upscale.OP.run(context(tmp_path / "l", src), params).outputs["video"]
    stab = stabilize.StabilizeParams(smoothing=5)
    outputs["stabilize"] = stabilize.OP.run(context(tmp_path / "s", src), stab).outputs["video"]

    def fake_x4plus(image):  # the network's place: a 4x picture of the same frame
        return image.resize((image.width * 4, image.height * 4), 1)

    result = upscale.upscale_frames(context(tmp_path / "r", src), params, fake_x4plus, 4, "stand-in")
    outputs["realesrgan"] = result.outputs["video"]
    for name, out in outputs.items():
        tags, luma = tags_and_luma(out)
        assert tags == src_tags, (name, tags, src_tags)
        assert abs(luma - src_luma) < 0.5, (name, luma, src_luma)
    with av.open(str(outputs["realesrgan"])) as container:
        assert container.streams.video[0].codec_context.width == 384  # 4x model, resized to the asked 2x


@pytest.mark.parametrize("space", ["bt709", "bt601"])
def test_the_model_sees_the_true_rgb_colour(tmp_path: Path, space: str) -> None:
    """A flat skin tone encoded with either matrix must reach the model as the same RGB: decoding
    BT.709 with swscale's default BT.601 matrix shifts red by 5-7 codes; 8-bit YUV itself allows
    about 3 (one chroma code is ~1.8 RGB codes)."""
    matrix, tag, _ = SPACES[space]
    src = tmp_path / "flat.mp4"
    run_ffmpeg(
        [
            "-f", "lavfi", "-i", "color=c=0xC88A64:s=64x64:r=25:d=0.2",
            "-vf", f"format=rgb24,scale=out_color_matrix={matrix}:out_range=tv,format=yuv420p,"
            f"setparams=color_primaries={tag}:color_trc={tag}:colorspace={tag}:range=tv",
            "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(src),
        ]
    )  # fmt: skip
    seen: list[np.ndarray] = []

    def record(image):
        seen.append(np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0))
        return image

    rgb_roundtrip(src, tmp_path / "out.mp4", record, width=64, height=64, crf=10)
    assert seen
    assert np.abs(np.mean(seen, axis=0) - np.array([0xC8, 0x8A, 0x64])).max() < 4.0, np.mean(seen, axis=0)


def test_live_action_gets_the_photographic_model() -> None:
    for scale in (2, 3, 4):
        index, native, name = upscale.sr_model("live_action", scale)
        assert (index, native, name) == (4, 4, "realesrgan-x4plus")
        assert "anime" in upscale.sr_model("animation", scale)[2]
    assert upscale.UpscaleParams().content == "live_action"
