"""The generate op's quality gate on crafted bad clips, its load plan, and its BT.709 output tags.

The bad clips are what broken pipelines really return (NaN from a bf16 VAE overflow, all black,
one frame repeated, a flash, noise unrelated to the conditioning image); the good clip is a
picture slowly panning, as an image-to-video model would animate it.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from gpu_remote.ops.generate import _write_video, load_plan
from gpu_remote.quality import assess

RNG = np.random.default_rng(7)


def picture(h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth, structured RGB picture (a lit scene: gradient sky, dark ground, a bright disc)."""
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    img = np.stack([0.3 + 0.5 * (1 - y), 0.4 + 0.3 * x, 0.8 - 0.5 * y], axis=-1)
    img[y > 0.7] = (0.15, 0.2, 0.1)
    img[(y - 0.35) ** 2 + (x - 0.6) ** 2 < 0.02] = (0.95, 0.9, 0.6)
    return img.astype(np.float32)


def panning(frames: int = 12) -> np.ndarray:
    base = np.tile(picture(), (1, 2, 1))
    return np.stack([base[:, i : i + 64] for i in range(frames)])


def test_a_good_clip_passes_with_its_conditioning_images() -> None:
    clip = panning()
    report = assess(clip, first_image=picture(), last_image=clip[-1])
    assert report["ok"], report
    assert report["metrics"]["first_frame_similarity"] > 0.9
    # uint8 frames and a differently sized conditioning image are compared the same way
    big = np.kron(picture(), np.ones((2, 2, 1)))
    assert assess((clip * 255).astype(np.uint8), first_image=(big * 255).astype(np.uint8))["ok"]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("nan", "NaN"),
        ("black", "black"),
        ("frozen", "frozen"),
        ("flash", "flashes"),
        ("unrelated", "does not resemble the first image"),
    ],
)
def test_crafted_bad_clips_fail(name: str, words: str) -> None:
    clip = panning()
    first = picture()
    if name == "nan":
        clip[3:] = np.nan
    elif name == "black":
        clip = np.zeros_like(clip) + RNG.uniform(0, 0.01, clip.shape).astype(np.float32)
        first = None
    elif name == "frozen":
        clip = np.repeat(clip[:1], len(clip), axis=0)
    elif name == "flash":
        clip[6] = np.clip(clip[6] + 0.6, 0, 1)
    elif name == "unrelated":
        clip = RNG.uniform(0, 1, clip.shape).astype(np.float32)
    report = assess(clip, first_image=first)
    assert not report["ok"]
    assert any(words in problem for problem in report["problems"]), report["problems"]


def test_the_last_frame_is_checked_against_the_last_image() -> None:
    clip = panning()
    upside_down = picture()[::-1]
    report = assess(clip, first_image=picture(), last_image=upside_down)
    assert not report["ok"] and any("last frame" in p for p in report["problems"]), report


def test_load_plan_uses_the_dtype_keyword_this_diffusers_honours() -> None:
    wan = {"_class_name": "WanPipeline", "vae": ["diffusers", "AutoencoderKLWan"]}
    ltx = {"_class_name": "LTXPipeline", "vae": ["diffusers", "AutoencoderKLLTXVideo"]}
    assert load_plan(wan, "0.35.2", cuda=True) == {
        "keyword": "torch_dtype",
        "dtype": "bfloat16",
        "fp32_vae": "AutoencoderKLWan",
    }
    assert load_plan(wan, "0.36.0", cuda=True)["keyword"] == "dtype"
    assert load_plan(wan, "0.37.0.dev0", cuda=True)["keyword"] == "dtype"
    assert load_plan(wan, "0.32.0", cuda=False) == {"keyword": "torch_dtype", "dtype": "float32", "fp32_vae": None}
    assert load_plan(ltx, "0.35.0", cuda=True)["fp32_vae"] is None  # only Wan's VAE needs it


def test_generated_video_is_tagged_and_converted_as_bt709(tmp_path: Path) -> None:
    flat = np.zeros((3, 16, 16, 3), np.float32) + np.array([200, 138, 100], np.float32) / 255
    count, w, h = _write_video(flat, tmp_path / "g.mp4", 8)
    assert (count, w, h) == (3, 16, 16)
    with av.open(str(tmp_path / "g.mp4")) as container:
        frame = next(container.decode(video=0))
        assert (int(frame.colorspace), int(frame.color_primaries), int(frame.color_trc)) == (1, 1, 1)
        luma = frame.to_ndarray(format="yuv420p")[:16].mean()
    # BT.709 limited-range luma of (200,138,100) is 143.5; BT.601's would be 146.2
    assert abs(luma - 143.5) < 1.0, luma
