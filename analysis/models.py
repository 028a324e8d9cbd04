"""Pydantic models for what analysis produces: media facts, shots, beats.

Frame numbers here are *frame indexes into the file* (0 = first decoded frame) at the media's
own rate. The embedded start timecode is kept separately (``MediaItem.start_frame``) and is added
only when a timeline is built, so it is applied exactly once.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from analysis.timebase import format_rate, frames_to_timecode, parse_rate


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


class Shot(Model):
    """One shot inside a clip: frame indexes ``[start, end)`` at the clip's rate."""

    start: int = Field(ge=0)
    end: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Shot:
        if self.end <= self.start:
            raise ValueError(f"shot end {self.end} must be after start {self.start}")
        return self

    @property
    def length(self) -> int:
        return self.end - self.start


class ClipAnalysis(Model):
    """Per-clip analysis result: the media facts and the shots found inside it."""

    id: str = Field(description="stable clip id used by plans (the file stem, made unique)")
    media: MediaItem
    shots: list[Shot]

    @property
    def cut_frames(self) -> list[int]:
        """Frame indexes where a hard cut starts a new shot (excludes frame 0)."""
        return [s.start for s in self.shots[1:]]


class BeatGrid(Model):
    """Beats of a music track, in seconds from the start of the file."""

    tempo_bpm: float = Field(gt=0)
    beats: list[float] = Field(description="beat times in seconds, ascending")
    downbeats: list[float] = Field(default_factory=list)
    beats_per_bar: int = 4


class MusicAnalysis(Model):
    """A music track and its beat grid."""

    path: Path
    name: str
    duration_seconds: float = Field(gt=0)
    sample_rate: int
    channels: int
    beat_grid: BeatGrid


class AnalysisResult(Model):
    """Everything the planner needs: every clip and (optionally) the music."""

    clips: list[ClipAnalysis]
    music: MusicAnalysis | None = None

    def clip(self, clip_id: str) -> ClipAnalysis:
        for clip in self.clips:
            if clip.id == clip_id:
                return clip
        raise KeyError(clip_id)
