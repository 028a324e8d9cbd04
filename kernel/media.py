"""Media facts: what probing a file tells us (``MediaItem``), and the exact frame-rate type every
model uses.

Frame numbers are *frame indexes into the file* (0 = first decoded frame) at the media's own rate.
The embedded start timecode is kept separately (``MediaItem.start_frame``) and is added only when a
timeline is built, so it is applied exactly once.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from kernel.timebase import format_rate, frames_to_timecode, parse_rate, parse_timeline_rate


def _to_rate(value: object) -> Fraction:
    if isinstance(value, (str, int, float, Fraction)):
        return parse_rate(value)  # type: ignore[arg-type]
    raise ValueError(f"not a frame rate: {value!r}")


Rate = Annotated[
    Fraction,
    BeforeValidator(_to_rate),
    PlainSerializer(format_rate, return_type=str),
]
"""An exact frame rate; serialized as ``"24000/1001"``."""


def _to_timeline_rate(value: object) -> Fraction:
    if isinstance(value, (str, int, float, Fraction)):
        return parse_timeline_rate(value)
    raise ValueError(f"not a frame rate: {value!r}")


TimelineRate = Annotated[
    Fraction,
    BeforeValidator(_to_timeline_rate),
    PlainSerializer(format_rate, return_type=str),
]
"""A rate a video timeline can run at (<= 300 fps); serialized as ``"30000/1001"``."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class MediaItem(Model):
    """What probing a media file tells us. Durations in frames at ``rate``."""

    path: Path
    name: str
    rate: Rate = Field(description="exact video frame rate (audio-only: 1/1 is never used; see has_video)")
    frames: int = Field(ge=0, description="number of video frames")
    start_frame: int = Field(0, description="embedded start timecode as a frame count at `rate`")
    drop_frame: bool = False
    width: int = 0
    height: int = 0
    rotation: int = 0
    has_video: bool = True
    audio_channels: int = 0
    audio_sample_rate: int = 0
    duration_seconds: float = 0.0
    variable_frame_rate: bool = False

    @property
    def start_timecode(self) -> str:
        return frames_to_timecode(self.start_frame, self.rate, self.drop_frame)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) in pixels as shown upright: swapped for 90°/270° rotation."""
        return (self.height, self.width) if self.rotation % 180 == 90 else (self.width, self.height)
