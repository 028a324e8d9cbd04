"""generate: text-to-video, image-to-video and first/last-frame-to-video with a diffusers pipeline.

The pipeline is whatever ``DiffusionPipeline.from_pretrained`` finds in a local folder:
``MONTAGE_GENERATE_MODEL`` (e.g. a downloaded Wan2.1-T2V-1.3B-Diffusers or LTX-Video folder).
Nothing is downloaded. Real generation needs a GPU and those weights; on CPU only tiny test
pipelines are practical. torch and diffusers come from the ``[generate]`` extra.

Progress comes from ``callback_on_step_end`` (one report per denoising step); cancel sets the
pipeline's ``_interrupt`` flag so denoising stops at the next step.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpu_remote.errors import Canceled, OpError
from gpu_remote.ops.base import Op, OpContext, OpResult
from gpu_remote.quality import assess
from gpu_remote.routing import check_model

MODEL_ENV = "MONTAGE_GENERATE_MODEL"


class GenerateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["t2v", "i2v", "flf2v"] = Field(
        default="t2v", description="t2v: prompt only; i2v: input 'image'; flf2v: inputs 'image' and 'last_image'"
    )
    prompt: str = Field(min_length=1, max_length=4000)
    model: str | None = Field(
        default=None,
        max_length=200,
        description="the model folder's name this job needs (routes it to workers that have it); None: any",
    )
    negative_prompt: str | None = Field(default=None, max_length=4000)
    num_frames: int = Field(default=81, ge=1, le=1000, description="frames to generate (Wan wants 4k+1)")
    width: int = Field(default=832, ge=8, le=4096, description="pixels, multiple of 8 (16 for most models)")
    height: int = Field(default=480, ge=8, le=4096, description="pixels, multiple of 8")
    steps: int = Field(default=30, ge=1, le=500, description="denoising steps")
    guidance_scale: float = Field(default=5.0, ge=0.0, le=50.0)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    fps: int = Field(default=16, ge=1, le=120, description="frame rate of the written video")
    quality_gate: Literal["fail", "report"] = Field(
        default="fail",
        description="fail: a black/NaN/frozen/flashing clip, or one unlike its conditioning images, fails the job; "
        "report: only record the checks in result.quality",
    )


def available() -> str | None:
    """Why generation cannot run here, or None if torch, diffusers and a model folder are present."""
    # find_spec, not import: capabilities must not pay torch's multi-second import.
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("diffusers") is None:
        return "torch/diffusers are not installed on the worker (pip install 'montage-bridge[generate]')"
    path = os.environ.get(MODEL_ENV)
    if not path or not (Path(path) / "model_index.json").is_file():
        return f"{MODEL_ENV} does not point at a local diffusers pipeline folder (with model_index.json)"
    return None


DTYPE_KEYWORD_SINCE = "0.36"  # diffusers renamed from_pretrained's torch_dtype= to dtype= here
FP32_VAES = {"AutoencoderKLWan"}  # Wan's VAE overflows in bf16/fp16 (black or NaN frames): keep it fp32


def load_plan(model_index: dict[str, Any], diffusers_version: str, cuda: bool) -> dict[str, Any]:
    """How to load a pipeline folder: the dtype keyword this diffusers honours, the dtype, and
    which VAE class (if any) to load on its own in float32.

    diffusers before 0.36 takes ``torch_dtype=`` and silently ignores ``dtype=`` (the model
    then loads in fp32: twice the memory); 0.36 and later take ``dtype=``.
    """
    from packaging.version import Version

    keyword = "dtype" if Version(diffusers_version) >= Version(DTYPE_KEYWORD_SINCE) else "torch_dtype"
    vae = model_index.get("vae")
    vae_class = vae[1] if isinstance(vae, list) and len(vae) == 2 else None
    return {
        "keyword": keyword,
        "dtype": "bfloat16" if cuda else "float32",
        "fp32_vae": vae_class if cuda and vae_class in FP32_VAES else None,
    }


@lru_cache(maxsize=1)
def _load(path: str) -> Any:
    import json

    import diffusers
    import torch
    from diffusers import DiffusionPipeline

    cuda = torch.cuda.is_available()
    plan = load_plan(json.loads((Path(path) / "model_index.json").read_text()), diffusers.__version__, cuda)
    kwargs: dict[str, Any] = {plan["keyword"]: getattr(torch, plan["dtype"])}
    if plan["fp32_vae"]:
        vae_cls = getattr(diffusers, plan["fp32_vae"])
        kwargs["vae"] = vae_cls.from_pretrained(path, subfolder="vae", **{plan["keyword"]: torch.float32})
    pipe = DiffusionPipeline.from_pretrained(path, **kwargs)
    pipe = pipe.to("cuda" if cuda else "cpu")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _write_video(frames: Any, path: Path, fps: int) -> tuple[int, int, int]:
    """Encode frames (F×H×W×3 floats 0..1 or uint8) as H.264 tagged BT.709 (the pipelines'
    RGB is sRGB/BT.709 primaries), converted with the BT.709 matrix; returns (frames, width, height)."""
    import av
    import numpy as np

    array = np.asarray(frames)
    if array.dtype != np.uint8:
        array = (np.clip(np.nan_to_num(array), 0.0, 1.0) * 255).round().astype(np.uint8)
    count, height, width = array.shape[0], array.shape[1], array.shape[2]
    # yuv420p needs even sizes; pad by edge replication rather than rescaling generated pixels.
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        array = np.pad(array, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = array.shape[2], array.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "16", "preset": "veryfast"}
        cc = stream.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1
        for frame in array:
            yuv = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
                format="yuv420p", src_colorspace=1, dst_colorspace=1, src_color_range=2, dst_color_range=1
            )
            yuv.colorspace, yuv.color_range = 1, 1
            for packet in stream.encode(yuv):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return count, width, height


def run(ctx: OpContext, params: GenerateParams) -> OpResult:
    reason = available()
    if reason:
        raise OpError(reason, code="model_unavailable")
    check_model("generate", params.model)
    import numpy as np
    import torch
    from PIL import Image

    ctx.report(0.0, "loading model")
    pipe = _load(os.environ[MODEL_ENV])
    accepted = set(inspect.signature(pipe.__call__).parameters)
    kwargs: dict[str, Any] = {
        "prompt": params.prompt,
        "num_frames": params.num_frames,
        "width": params.width,
        "height": params.height,
        "num_inference_steps": params.steps,
        "guidance_scale": params.guidance_scale,
        "generator": torch.Generator(device="cpu").manual_seed(params.seed),
        "output_type": "np",
    }
    if params.negative_prompt is not None:
        kwargs["negative_prompt"] = params.negative_prompt
    if params.mode in ("i2v", "flf2v"):
        if "image" not in accepted:
            raise OpError(f"the worker's model ({type(pipe).__name__}) is text-to-video only", code="invalid_params")
        if "image" not in ctx.inputs:
            raise OpError(f"mode {params.mode} needs an input named 'image'", code="invalid_params")
        kwargs["image"] = Image.open(ctx.inputs["image"]).convert("RGB")
    if params.mode == "flf2v":
        if "last_image" not in accepted:
            raise OpError(f"the worker's model ({type(pipe).__name__}) has no last-frame input", code="invalid_params")
        if "last_image" not in ctx.inputs:
            raise OpError("mode flf2v needs an input named 'last_image'", code="invalid_params")
        kwargs["last_image"] = Image.open(ctx.inputs["last_image"]).convert("RGB")

    def on_step_end(pipeline: Any, step: int, _timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        ctx.report(0.95 * (step + 1) / params.steps, "denoising")
        if ctx.cancel_event.is_set():
            pipeline._interrupt = True  # diffusers' documented way to stop denoising early
        return callback_kwargs

    if "callback_on_step_end" in accepted:
        kwargs["callback_on_step_end"] = on_step_end
    try:
        output = pipe(**{k: v for k, v in kwargs.items() if k in accepted})
    except (ValueError, TypeError) as exc:
        raise OpError(f"the model refused these parameters: {exc}", code="invalid_params") from exc
    ctx.check_cancel()
    if ctx.cancel_event.is_set():
        raise Canceled(ctx.cancel_reason[0])
    frames = output.frames[0]
    quality = assess(
        frames,
        first_image=np.asarray(kwargs["image"]) if "image" in kwargs else None,
        last_image=np.asarray(kwargs["last_image"]) if "last_image" in kwargs else None,
    )
    if not quality["ok"] and params.quality_gate == "fail":
        raise OpError(
            "the generated clip failed the quality gate: " + "; ".join(quality["problems"]),
            code="quality_failed",
            result={"quality": quality},
        )
    out = ctx.work_dir / "generated.mp4"
    count, width, height = _write_video(frames, out, params.fps)
    return OpResult(
        outputs={"video": out},
        result={
            "frames": count,
            "width": width,
            "height": height,
            "fps": params.fps,
            "pipeline": type(pipe).__name__,
            "device": "cuda" if torch.cuda.is_available() else "cpu",
            "quality": quality,
        },
        mimes={"video": "video/mp4"},
    )


OP = Op(
    name="generate",
    version="2",  # 2: torch_dtype for diffusers < 0.36, fp32 Wan VAE, quality gate, BT.709-tagged output
    description="Text/image/first-last-frame to video with a local diffusers pipeline (needs a GPU for real models).",
    params=GenerateParams,
    inputs=(),
    optional_inputs=("image", "last_image"),
    run=run,
    backend=lambda: available() or "diffusers",
)
