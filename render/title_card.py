"""Title cards as real media: text centred on a plain colour, rendered by ffmpeg (``drawtext``).

A card is made at the timeline's size and rate for an exact number of frames (``-frames:v``), H.264 in a
QuickTime file, with — when the edit's clips carry sound — a silent PCM track of their channel count and
sample rate lasting exactly as long as the picture (PCM: no codec padding), so every NLE can cut it in
like any clip.

``drawtext`` needs a font file. :func:`find_title_font` looks where the captions' burn-in looks
(:mod:`render.render`: the system's DejaVu fonts), then in OpenCV's wheel (opencv-python ships
``DejaVuSans.ttf``), and ``MONTAGE_TITLE_FONT`` names another. Without one, :func:`render_title_card`
raises :class:`TitleCardError` (the caller keeps its placeholder and warns); it never leaves a partial
file: the card is written to a ``.part`` file beside the target and renamed into place.

The text is passed through a file (``textfile=``, ``expansion=none``), so quotes, colons, percent signs
and backslashes are drawn as typed. Long text is wrapped at word boundaries to fit 80% of the width
(estimated at 0.55 em per character) and the size shrinks until the lines fit 70% of the height.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
import textwrap
from fractions import Fraction
from pathlib import Path

from pydantic import Field, field_validator

from kernel.errors import MontageError
from kernel.ffmpeg_tools import FFmpegError, run_ffmpeg
from kernel.media import Model, Rate

FONT_ENV = "MONTAGE_TITLE_FONT"
FONT_NAMES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf")
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # what the captions' burn-in uses (render.render)
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/truetype/liberation",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts/Supplemental",
    "C:/Windows/Fonts",
)
_COLOUR = re.compile(r"^(#?[0-9a-fA-F]{6}([0-9a-fA-F]{2})?|[a-zA-Z]{3,30})$")
_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}
CHAR_EM = 0.55  # average glyph advance of a sans-serif font, in em


class TitleCardError(MontageError):
    """A title card that cannot be rendered (no font, ffmpeg failed); no file is left behind."""


class TitleCardSpec(Model):
    """What one title card is: its text and the timeline it must fit exactly."""

    text: str = Field(min_length=1, max_length=500)
    width: int = Field(ge=16, le=8192, description="pixels (even: H.264 4:2:0)")
    height: int = Field(ge=16, le=8192)
    rate: Rate
    frames: int = Field(ge=1, le=1_000_000, description="exact length in frames at rate")
    background: str = Field("black", description="ffmpeg colour name or #RRGGBB")
    color: str = Field("white", description="text colour")
    audio_channels: int = Field(0, ge=0, le=32, description="0: no sound track")
    audio_sample_rate: int = Field(48000, ge=8000, le=384000)

    @field_validator("text")
    @classmethod
    def _printable(cls, text: str) -> str:
        cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
        if not cleaned:
            raise ValueError("a title card needs some text")
        return cleaned

    @field_validator("background", "color")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not _COLOUR.match(value):
            raise ValueError(f"{value!r} is not a colour (a name like black, or #RRGGBB)")
        return "0x" + value[1:] if value.startswith("#") else value

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        return value + (value % 2)

    @property
    def seconds(self) -> Fraction:
        return Fraction(self.frames) / Fraction(self.rate)


def find_title_font() -> Path | None:
    """A TrueType font for drawtext: ``MONTAGE_TITLE_FONT``, the system's DejaVu (as the captions' burn-in
    uses), other common sans fonts, then the DejaVu that OpenCV's wheel carries; None when there is none."""
    explicit = os.environ.get(FONT_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise TitleCardError(f"{FONT_ENV}={explicit}: no such font file (name a .ttf or .otf file)")
        return path
    for folder in FONT_DIRS:
        for name in FONT_NAMES:
            candidate = Path(folder) / name
            if candidate.is_file():
                return candidate
    spec = importlib.util.find_spec("cv2")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location) / "qt" / "fonts" / "DejaVuSans.ttf"
        if candidate.is_file():
            return candidate
    return None


def _filter_path(path: Path) -> str:
    """``path`` quoted for a filter option value."""
    text = str(path).replace("\\", "/")
    return "'" + text.replace("'", "'\\\\\\''").replace(":", "\\:") + "'"


def layout_text(text: str, width: int, height: int) -> tuple[list[str], int]:
    """(lines, font size in pixels): wrapped to fit 80% of the width, the block at most 70% of the height."""
    size = max(8, round(height / 10))
    while True:
        per_line = max(4, int(width * 0.8 / (size * CHAR_EM)))
        lines = textwrap.wrap(text, per_line, break_long_words=True) or [text]
        if size <= 8 or (len(lines) * size * 1.25 <= height * 0.7 and all(len(x) <= per_line for x in lines)):
            return lines, size
        size = max(8, int(size * 0.9))


def render_title_card(spec: TitleCardSpec, out: Path, font: Path | None = None) -> Path:
    """Render ``spec`` to ``out`` (a ``.mov``), atomically; returns ``out``.

    Raises :class:`TitleCardError` when no font can be found or ffmpeg fails (no file is left)."""
    font = font or find_title_font()
    if font is None:
        raise TitleCardError(
            "no font for the title card's text: install DejaVu fonts (e.g. apt install fonts-dejavu-core) "
            f"or set {FONT_ENV} to a .ttf file"
        )
    lines, size = layout_text(spec.text, spec.width, spec.height)
    rate = Fraction(spec.rate)
    seconds = float(spec.seconds)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, part_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".part.mov", dir=out.parent)
    os.close(fd)
    part = Path(part_name)
    with tempfile.TemporaryDirectory(prefix="mb-title-") as scratch:
        # One drawtext per line (each centred on its own: older ffmpegs have no text_align), the block
        # centred as a whole; the lines' box is the font's ascent+descent so every line has the same height.
        step = round(size * 1.25)
        top = f"(h-{step * len(lines)})/2"
        draws = []
        for k, line in enumerate(lines):
            text_file = Path(scratch) / f"line{k}.txt"
            text_file.write_text(line, encoding="utf-8")
            draws.append(
                f"drawtext=fontfile={_filter_path(font)}:textfile={_filter_path(text_file)}:expansion=none"
                f":fontsize={size}:fontcolor={spec.color}:x=(w-text_w)/2:y={top}+{k * step}+({step}-{size})/2"
            )
        draw = ",".join(draws)
        args = [
            "-f",
            "lavfi",
            "-i",
            f"color=c={spec.background}:s={spec.width}x{spec.height}:r={rate.numerator}/{rate.denominator}",
        ]
        maps = ["-map", "0:v"]
        if spec.audio_channels > 0:
            args += [
                "-f",
                "lavfi",
                "-i",
                f"anullsrc=channel_layout={_LAYOUTS.get(spec.audio_channels, f'{spec.audio_channels}c')}"
                f":sample_rate={spec.audio_sample_rate}",
            ]
            samples = round(spec.seconds * spec.audio_sample_rate)
            maps += ["-map", "1:a", "-af", f"atrim=end_sample={samples}", "-c:a", "pcm_s16le"]
        args += [
            "-vf",
            f"{draw},format=yuv420p",
            *maps,
            "-frames:v",
            str(spec.frames),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "18",
            "-r",
            f"{rate.numerator}/{rate.denominator}",
            "-metadata",
            f"title={spec.text}",
            "-f",
            "mov",
            str(part),
        ]
        try:
            run_ffmpeg(args, timeout=max(60.0, seconds * 10))
            os.replace(part, out)
        except FFmpegError as exc:
            part.unlink(missing_ok=True)
            raise TitleCardError(f"title card {spec.text[:40]!r}: ffmpeg could not render it: {exc}") from exc
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    return out


__all__ = ["FONT_ENV", "TitleCardError", "TitleCardSpec", "find_title_font", "layout_text", "render_title_card"]
