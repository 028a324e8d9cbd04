"""proxy: an editing proxy of one video for farms — the same file ``montage-bridge proxies`` writes
(proxies.make): the original's rate, every frame, start timecode, audio channels and name; only the
picture size (fitted inside width x height, never larger) and the codec change. CPU-bound (ffmpeg)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpu_remote.errors import OpError
from gpu_remote.ops.base import Op, OpContext, OpResult


class ProxyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(default=960, ge=16, le=7680, description="largest proxy width, px (aspect kept)")
    height: int = Field(default=540, ge=16, le=4320, description="largest proxy height, px (aspect kept)")
    codec: Literal["prores_proxy", "h264", "dnxhr_lb"] = Field(default="prores_proxy", description="proxy codec")
    name: str = Field(default="", max_length=200, description="clip/reel name to write (default: the input's)")


def run(ctx: OpContext, params: ProxyParams) -> OpResult:
    from kernel.errors import MediaError
    from kernel.probe import probe_media
    from kernel.proxy_recipe import check_proxy, proxy_args

    src = ctx.inputs["video"]
    try:
        media = probe_media(src)
    except MediaError as exc:
        raise OpError(f"input is not readable media: {exc}", code="invalid_input") from exc
    if not media.has_video:
        raise OpError("input has no picture: a proxy is of a video", code="invalid_input")
    out = ctx.work_dir / "proxy.mov"
    ctx.run_ffmpeg(
        proxy_args(media, out, (params.width, params.height), params.codec, name=params.name or None),
        duration_s=media.duration_seconds,
        stage="encode",
    )
    made = probe_media(out)
    problems = check_proxy(media, made)
    if problems:
        raise OpError(f"the proxy came out different ({'; '.join(problems)})", code="op_failed")
    return OpResult(
        outputs={"video": out},
        result={
            "width": made.width,
            "height": made.height,
            "frames": made.frames,
            "rate": f"{made.rate.numerator}/{made.rate.denominator}",
            "start_timecode": made.start_timecode,
            "audio_channels": made.audio_channels,
            "codec": params.codec,
        },
        mimes={"video": "video/quicktime"},
    )


OP = Op(
    name="proxy",
    version="1",
    description="Editing proxy of one video: same rate, frames, start timecode, audio and name; smaller picture.",
    params=ProxyParams,
    inputs=("video",),
    run=run,
    backend=lambda: "ffmpeg (CPU)",
)
