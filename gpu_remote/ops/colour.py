"""Colour: keep a clip's matrix, range, primaries and transfer through every op.

Two ways an op can get colour wrong:

- An RGB round trip (decode to RGB, a model works on RGB, encode back) with swscale's default
  matrix (BT.601, limited range): a BT.709 clip comes back with its luma and hue shifted
  (about -3.6 luma codes on a typical HD frame) and its tags gone, so an NLE shows it wrong
  next to the original. :func:`rgb_roundtrip` converts with the clip's own matrix and range,
  both ways, and tags the output like the input.
- An ffmpeg re-encode that loses the tags (older ffmpeg builds do not pass frame colour
  properties to the encoder): :func:`colour_args` states them explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

# AVColorSpace → the swscale matrix that converts it (SWS_CS_*). Unknown values fall back as
# ffmpeg does: BT.709 for HD and larger, BT.601 below.
_SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}
# AVColorSpace / primaries / transfer names ffmpeg's CLI accepts, for the tags we write.
_SPACE_NAMES = {1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc", 10: "bt2020c"}
_PRIMARIES_NAMES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020"}
_TRC_NAMES = {
    1: "bt709",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    18: "arib-std-b67",
}
UNSPECIFIED = 2  # AVCOL_SPC/PRI/TRC_UNSPECIFIED
RANGE_LIMITED, RANGE_FULL = 1, 2  # AVCOL_RANGE_MPEG / JPEG


@dataclass(frozen=True)
class Colour:
    """A video stream's colour description (ffmpeg's enum values; 2 = unspecified, range 0 = unknown)."""

    space: int
    range: int
    primaries: int
    trc: int
    height: int

    @property
    def sws_matrix(self) -> int:
        """The swscale matrix for converting this stream to and from RGB."""
        if self.space in _SWS_MATRIX:
            return _SWS_MATRIX[self.space]
        return 1 if self.height >= 720 else 5

    @property
    def full_range(self) -> bool:
        return self.range == RANGE_FULL


def probe_colour(path: Path) -> Colour:
    """The colour description of ``path``'s first video stream (from its first decoded frame,
    which is where H.264/HEVC keep it; the container's codec parameters are the fallback)."""
    import av

    from gpu_remote.errors import OpError

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise OpError(f"input {path.name} has no video stream", code="invalid_input")
            stream = container.streams.video[0]
            cc = stream.codec_context
            space, rng, prim, trc = cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc
            height = cc.height
            for frame in container.decode(stream):
                space, rng = frame.colorspace or space, frame.color_range or rng
                prim, trc = frame.color_primaries or prim, frame.color_trc or trc
                height = frame.height
                break
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise OpError(f"input {path.name} is not readable media: {exc}", code="invalid_input") from exc
    return Colour(int(space), int(rng), int(prim), int(trc), int(height))


def colour_args(colour: Colour) -> list[str]:
    """ffmpeg output options tagging the encoded stream with ``colour`` (only what is known)."""
    args: list[str] = []
    if colour.space in _SPACE_NAMES:
        args += ["-colorspace", _SPACE_NAMES[colour.space]]
    if colour.primaries in _PRIMARIES_NAMES:
        args += ["-color_primaries", _PRIMARIES_NAMES[colour.primaries]]
    if colour.trc in _TRC_NAMES:
        args += ["-color_trc", _TRC_NAMES[colour.trc]]
    if colour.range in (RANGE_LIMITED, RANGE_FULL):
        args += ["-color_range", "pc" if colour.full_range else "tv"]
    return args


def rgb_roundtrip(
    src: Path,
    out: Path,
    process: Callable[[Any], Any],
    *,
    width: int,
    height: int,
    crf: int,
    report: Callable[[float], None] = lambda _f: None,
    check_cancel: Callable[[], None] = lambda: None,
) -> Colour:
    """Run ``process`` (PIL RGB image → PIL RGB image of ``width``×``height``) on every frame of
    ``src``'s first video stream and encode the result (H.264, yuv420p) to ``out``.

    YUV→RGB uses the clip's matrix and range, RGB→YUV the same ones back, and the output
    carries the clip's matrix/range/primaries/transfer tags. Returns the clip's colour.
    """
    import av
    from av.video.reformatter import Interpolation

    colour = probe_colour(src)
    matrix = colour.sws_matrix
    yuv_range = RANGE_FULL if colour.full_range else RANGE_LIMITED
    # Accurate rounding: without it swscale's fast paths round luma down by up to half a code.
    interp = Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
    with av.open(str(src)) as inp, av.open(str(out), "w") as outp:
        vin = inp.streams.video[0]
        total = vin.frames or 0
        vout = outp.add_stream("libx264", rate=vin.average_rate or Fraction(25))
        vout.width, vout.height = width, height
        vout.pix_fmt = "yuv420p"
        vout.options = {"crf": str(crf), "preset": "veryfast"}
        cc = vout.codec_context
        cc.colorspace = colour.space if colour.space != UNSPECIFIED else (1 if matrix == 1 else 6)
        cc.color_range = yuv_range
        if colour.primaries != UNSPECIFIED:
            cc.color_primaries = colour.primaries
        if colour.trc != UNSPECIFIED:
            cc.color_trc = colour.trc
        for index, frame in enumerate(inp.decode(vin)):
            check_cancel()
            rgb = frame.reformat(
                format="rgb24",
                src_colorspace=matrix,
                dst_colorspace=matrix,
                src_color_range=yuv_range,
                dst_color_range=RANGE_FULL,
                interpolation=interp,
            )
            result = process(rgb.to_image())
            if result.size != (width, height):
                raise ValueError(f"the frame processor returned {result.size}, expected {(width, height)}")
            back = av.VideoFrame.from_image(result.convert("RGB")).reformat(
                format="yuv420p",
                src_colorspace=matrix,
                dst_colorspace=matrix,
                src_color_range=RANGE_FULL,
                dst_color_range=yuv_range,
                interpolation=interp,
            )
            back.colorspace, back.color_range = cc.colorspace, yuv_range
            back.pts = None
            for packet in vout.encode(back):
                outp.mux(packet)
            if total:
                report(min(1.0, (index + 1) / total))
        for packet in vout.encode():
            outp.mux(packet)
    return colour
