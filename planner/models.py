"""The EditPlan: what goes where on the timeline, in exact frames.

Units, so that no writer has to guess:
- ``Cut.source_in``/``source_out``: frame indexes into the clip's file at the *clip's* rate,
  half-open, without the embedded start timecode (the timeline builder adds it once).
- ``Cut.record_in``/``record_out``: timeline frames at ``EditPlan.rate``, counted from the
  timeline start (0 = ``start_timecode``), half-open.
- Mixed rates: the source duration is the record duration rescaled to the source rate with
  half-up rounding (``kernel.timebase.rescale_frames``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from kernel.media import Model, Rate
from kernel.timebase import frames_to_timecode, supports_drop_frame, timecode_to_frames

TrackKind = Literal["video", "audio"]
RemoteOpName = Literal["stabilize", "upscale", "denoise", "transcribe"]


class Transition(Model):
    """How a cut is entered: a hard cut, or a dissolve centred on the cut point.

    A dissolve of ``frames`` timeline frames needs handles: ``frames // 2`` source frames before
    this cut's ``source_in`` and ``frames - frames // 2`` after the previous cut's ``source_out``
    (rescaled to each clip's rate). The validator checks the handles lie inside the clip and shot.
    """

    kind: Literal["cut", "dissolve"] = "cut"
    frames: int = Field(0, ge=0, description="dissolve length in timeline frames (0 for a cut)")

    @model_validator(mode="after")
    def _sized(self) -> Transition:
        if self.kind == "dissolve" and self.frames < 2:
            raise ValueError("a dissolve needs at least 2 frames")
        if self.kind == "cut" and self.frames:
            raise ValueError("a hard cut has no length")
        return self


class RemoteOp(Model):
    """Work the planner asks the remote GPU worker to do on one clip before it is used."""

    clip_id: str
    op: RemoteOpName
    reason: str = ""


class Cut(Model):
    """One clip placed on a track."""

    clip_id: str
    track: int = Field(1, ge=1, description="1-based track index within its kind")
    kind: TrackKind = "video"
    source_in: int = Field(ge=0)
    source_out: int
    record_in: int = Field(ge=0)
    record_out: int
    reason: str = ""
    transition_in: Transition | None = Field(None, description="how this cut is entered (None = hard cut)")

    @model_validator(mode="after")
    def _ordered(self) -> Cut:
        if self.source_out <= self.source_in:
            raise ValueError(f"cut of {self.clip_id}: source_out {self.source_out} <= source_in {self.source_in}")
        if self.record_out <= self.record_in:
            raise ValueError(f"cut of {self.clip_id}: record_out {self.record_out} <= record_in {self.record_in}")
        return self

    @property
    def record_duration(self) -> int:
        return self.record_out - self.record_in


class MusicBed(Model):
    """The music placed under the edit: the file from ``source_in_seconds`` at record frame ``record_in``.

    Record frames are timeline frames at ``EditPlan.rate``; source times are seconds in the music
    file. The music's frame ``f`` (timeline rate, from the file's start) plays at record frame
    ``record_in + f - seconds_to_frames(source_in_seconds)``. Fades are the music clip's own:
    ``fade_in_frames`` from silence at ``record_in``, ``fade_out_frames`` to silence ending at
    ``record_out`` (timeline frames, 0 = none). ``reason`` says why this part of the song was
    chosen (a planner's note for the editor).
    """

    path: str
    record_in: int = 0
    record_out: int
    source_in_seconds: float = Field(0.0, ge=0, description="music in: seconds into the file at record_in")
    source_out_seconds: float | None = Field(None, description="music out: seconds into the file at record_out")
    fade_in_frames: int = Field(0, ge=0, description="fade from silence at the start, timeline frames")
    fade_out_frames: int = Field(0, ge=0, description="fade to silence at the end, timeline frames")
    reason: str = Field("", description="why the music starts and ends where it does")

    @model_validator(mode="after")
    def _fades_fit(self) -> MusicBed:
        length = self.record_out - self.record_in
        if length <= 0:
            raise ValueError(f"music bed: record_out {self.record_out} <= record_in {self.record_in}")
        if self.fade_in_frames + self.fade_out_frames > length:
            raise ValueError(
                f"music bed: fades of {self.fade_in_frames} + {self.fade_out_frames} frames are longer "
                f"than the {length}-frame bed"
            )
        return self


class PlanMarker(Model):
    """A marker at a timeline frame (from the timeline start)."""

    frame: int = Field(ge=0)
    duration: int = Field(0, ge=0)
    name: str
    color: str = "BLUE"
    kind: Literal["beat", "downbeat", "section", "chapter", "note"] = "beat"


class SetAsideShot(Model):
    """A shot the planner left out while better material existed, and why."""

    clip_id: str
    shot: int = Field(ge=0, description="0-based index into the clip's shots")
    reason: str
    used: bool = Field(False, description="used anyway: nothing else could fill the time")


class ShotLengths(Model):
    """The distribution of video cut lengths in seconds, against the style's bounds."""

    count: int = 0
    minimum: float = 0.0
    p10: float = 0.0
    median: float = 0.0
    p90: float = 0.0
    maximum: float = 0.0
    style_bounds: tuple[float, float] | None = Field(None, description="the style's [min, max]_shot_seconds")
    inside_bounds: float = Field(0.0, ge=0, le=1, description="share of cuts whose length is inside the bounds")


class EditQuality(Model):
    """Measures of how an editor would judge the plan's choices (planner.edit_quality); all 0..1
    unless stated. Reported with every plan and tracked in bench/bench_edit_quality.py."""

    used_quality: float | None = Field(None, description="mean quality of the used shots, weighted by screen time")
    available_quality: float | None = Field(None, description="mean quality of every shot in the analysis")
    set_aside_share: float = Field(0.0, description="share of the duration on set-aside shots (target 0)")
    shot_seconds: ShotLengths = Field(default_factory=ShotLengths)
    sequence_entropy_bits: float = Field(
        0.0, ge=0, description="entropy of the next clip given the current one, bits: 0 for a fixed rotation"
    )
    periodicity: float = Field(
        0.0,
        description="largest share of cuts whose clip equals the clip p cuts earlier, over periods p = 2..16 "
        "that fit twice: 1 for a rotation",
    )
    in_point_interest: float | None = Field(None, description="mean picture interest of the used ranges")
    first_frames_interest: float | None = Field(
        None,
        description="the same for the naive in-points: each shot played front to back from its first frame",
    )


class EditPlan(Model):
    """A complete, validated edit: the planner's output and every writer's input."""

    name: str = "Montage"
    rate: Rate
    start_timecode: str = "01:00:00:00"
    drop_frame: bool = Field(  # type: ignore[assignment]  # None is resolved by _drop_frame_rule
        None,
        validate_default=True,
        description="drop-frame timecode; null or absent: not stated, so the one rule decides "
        "(nle_adapters.timeline_facts.drop_frame_rule: DF at 29.97/59.94, NDF elsewhere)",
    )
    width: int = 1920
    height: int = 1080
    cuts: list[Cut]
    music: MusicBed | None = None
    markers: list[PlanMarker] = Field(default_factory=list)
    planner: str
    warnings: list[str] = Field(default_factory=list)
    aspect: Literal["16:9", "9:16", "1:1", "4:5"] = "16:9"
    mode: str = Field("music_montage", description="music_montage, talking_head or highlights")
    style: str | None = Field(None, description="name of the style the plan was made in")
    remote_ops: list[RemoteOp] = Field(default_factory=list, description="per-clip GPU work to request")
    set_aside: list[SetAsideShot] = Field(
        default_factory=list, description="shots left out while better material existed (weaker duplicates, damage)"
    )
    edit_quality: EditQuality | None = Field(
        None, description="how the plan's choices measure up (planner.edit_quality)"
    )

    @field_validator("drop_frame", mode="before")
    @classmethod
    def _drop_frame_rule(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            rate = info.data.get("rate")
            return rate is not None and supports_drop_frame(rate)
        return value

    @property
    def start_frame(self) -> int:
        """The timeline start as an absolute frame count at ``rate``."""
        return timecode_to_frames(self.start_timecode, self.rate, self.drop_frame)

    @property
    def duration_frames(self) -> int:
        return max((c.record_out for c in self.cuts), default=0)

    @property
    def tracks(self) -> list[tuple[TrackKind, int]]:
        """Every (kind, index) track the cuts use, video first."""
        return sorted({(c.kind, c.track) for c in self.cuts}, key=lambda t: (t[0] != "video", t[1]))

    def timecode(self, frame: int) -> str:
        """Timecode of a timeline frame counted from the start."""
        return frames_to_timecode(self.start_frame + frame, self.rate, self.drop_frame)
