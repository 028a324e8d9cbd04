"""Pydantic models for what analysis produces: media facts, shots, beats.

Frame numbers here are *frame indexes into the file* (0 = first decoded frame) at the media's
own rate. The embedded start timecode is kept separately (``MediaItem.start_frame``) and is added
only when a timeline is built, so it is applied exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from analysis.near_duplicates import NearDuplicateGroup, near_duplicate_groups
from kernel.media import MediaItem, Model


class TimeSpan(Model):
    """A span of a file in seconds, half-open ``[start, end)``."""

    start: float = Field(ge=0)
    end: float

    @model_validator(mode="after")
    def _ordered(self) -> TimeSpan:
        if self.end < self.start:
            raise ValueError(f"span end {self.end} is before start {self.start}")
        return self


class ShotQuality(Model):
    """Per-shot picture measures (all 0..1 unless stated), filled by the analysis engine."""

    sharpness: float = Field(0.0, ge=0, le=1, description="normalised Laplacian variance")
    brightness: float = Field(0.0, ge=0, le=1, description="mean luma")
    clipped: float = Field(0.0, ge=0, le=1, description="fraction of pixels crushed or blown out")
    colorfulness: float = Field(0.0, ge=0, le=1, description="Hasler–Süsstrunk, normalised")
    motion: float = Field(0.0, ge=0, le=1, description="mean frame-to-frame change, normalised")
    shake: float = Field(
        0.0,
        ge=0,
        le=1,
        description="camera shake: RMS distance of the camera path from its 0.5 s running mean; "
        "1.0 = 3% of the frame width or more, 0 when the shot is too short or too flat to tell",
    )
    faces: int = Field(0, ge=0, description="most faces seen in one sampled frame")
    score: float = Field(0.0, ge=0, le=1, description="overall usability, higher is better")
    # No-reference picture quality (analysis.picture_quality), measured on source pixels of sampled
    # frames; None in analyses made before it existed.
    technical: float | None = Field(
        None, ge=0, le=1, description="technical picture quality: 1 = no blocking, banding, noise or blur seen"
    )
    blocking: float | None = Field(None, ge=0, le=1, description="compression blocking on the 8/16 px grid")
    banding: float | None = Field(None, ge=0, le=1, description="flat plateaus with small steps (quantised gradients)")
    noise: float | None = Field(None, ge=0, le=1, description="noise; 1 = a standard deviation of 12 levels or more")
    blur: float | None = Field(
        None, ge=0, le=1, description="blur (Crete-Roffet re-blur); 1 for a picture without detail"
    )


class Shot(Model):
    """One shot inside a clip: frame indexes ``[start, end)`` at the clip's rate."""

    start: int = Field(ge=0)
    end: int = Field(gt=0)
    quality: ShotQuality | None = None
    thumbnail: Path | None = None
    phash: list[str] = Field(
        default_factory=list,
        description="64-bit DCT perceptual hashes (16 hex digits) of up to 4 frames spread over the shot, "
        "for near-duplicate detection (analysis.near_duplicates)",
    )
    interest: list[float] = Field(
        default_factory=list,
        description="how interesting the picture is over the shot, 0..1: up to 16 values, each the mean "
        "over an equal slice of [start, end) of motion, detail, colour and faces (analysis.frame_pass), "
        "for choosing in-points; empty in analyses made before it existed",
    )
    description: str | None = Field(
        None,
        max_length=600,
        description="what the shot shows, in words, from a vision model (analysis.describe); "
        "None when no vision model is configured",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Shot:
        if self.end <= self.start:
            raise ValueError(f"shot end {self.end} must be after start {self.start}")
        return self

    @property
    def length(self) -> int:
        return self.end - self.start


class Word(Model):
    """One transcribed word; times in seconds from the start of the file."""

    start: float
    end: float
    text: str
    probability: float = 1.0


class TranscriptSegment(Model):
    start: float
    end: float
    text: str
    words: list[Word] = Field(default_factory=list)


class Transcript(Model):
    """Speech in a clip (faster-whisper with VAD); times in seconds from the start of the file."""

    language: str
    model: str
    segments: list[TranscriptSegment] = Field(default_factory=list)


class ClipAnalysis(Model):
    """Per-clip analysis result: the media facts and the shots found inside it."""

    id: str = Field(description="stable clip id used by plans (the file stem, made unique)")
    media: MediaItem
    shots: list[Shot]
    silences: list[TimeSpan] = Field(default_factory=list, description="quiet spans of the clip's audio, seconds")
    loudness_lufs: float | None = None
    transcript: Transcript | None = None

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
    pulse: Literal["steady", "variable", "none"] = Field(
        "steady",
        description="steady: one tempo; variable: the tempo drifts or ramps (beats as tracked); "
        "none: no clear beat, and ``beats`` are the music's strongest onsets (chord changes, phrases)",
    )


class MusicSection(Model):
    """A stretch of the music with a role in the arc; seconds from the start of the file."""

    start: float = Field(ge=0)
    end: float
    label: Literal["intro", "build", "peak", "outro", "break"]
    energy: float = Field(ge=0, le=1, description="mean normalised energy of the section")


class MusicAnalysis(Model):
    """A music track, its beat grid, and (when analyzed) its energy curve and sections."""

    path: Path
    name: str
    duration_seconds: float = Field(gt=0)
    sample_rate: int
    channels: int
    beat_grid: BeatGrid
    energy: list[float] = Field(default_factory=list, description="normalised RMS, 0..1, one per energy_hop")
    energy_hop: float = Field(0.5, gt=0, description="seconds between energy values")
    sections: list[MusicSection] = Field(default_factory=list)
    silences: list[TimeSpan] = Field(default_factory=list)
    loudness_lufs: float | None = None

    def energy_at(self, seconds: float) -> float:
        """Energy at a time (0.5 when the curve is unknown)."""
        if not self.energy:
            return 0.5
        i = min(len(self.energy) - 1, max(0, int(seconds / self.energy_hop)))
        return self.energy[i]


class AnalysisResult(Model):
    """Everything the planner needs: every clip and (optionally) the music."""

    clips: list[ClipAnalysis]
    music: MusicAnalysis | None = None
    near_duplicates: list[NearDuplicateGroup] | None = Field(
        None,
        description="shots of different clips that show the same content, with the best of each group "
        "(analysis.near_duplicates); filled from the shots' hashes when not given",
    )

    @model_validator(mode="after")
    def _find_near_duplicates(self) -> AnalysisResult:
        if self.near_duplicates is None:
            self.near_duplicates = near_duplicate_groups(self)
        return self

    def clip(self, clip_id: str) -> ClipAnalysis:
        for clip in self.clips:
            if clip.id == clip_id:
                return clip
        raise KeyError(clip_id)
