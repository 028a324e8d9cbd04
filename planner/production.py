"""From shot list to production plan: where every shot comes from, and what it costs before anything
is spent.

The LLM planner goes brief → beat sheet → shot list (:mod:`planner.llm_schemas`). A *production plan*
goes one step further: for every shot it picks a **source** — existing footage (the best match from the
analysis), generation on the GPU worker (text-to-video, image-to-video from a frame of the footage,
first/last-frame for a bridge between two shots), or a title card — says why, and estimates GPU seconds,
money and wall time from the tool catalogue's *measured* figures.

These models are the contract between the parts that fill them:

* :mod:`planner.tool_catalogue` — the tools (worker ops and their models) with measured speed and cost;
* :mod:`planner.sourcing` — :class:`ShotNeed` → :class:`ShotSource` (search, catalogue, budget);
* :mod:`planner.estimate` — per-shot and total :class:`Estimate`, against the brief's budget/deadline;
* the app (``auto --generate-missing``, the dashboard's production endpoints) — runs the plan.

Units: seconds are wall-clock seconds of output or of work as named; money is in the catalogue's
currency (``ProductionPlan.currency``); frames never appear here (placement uses the edit plan's rules).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from kernel.errors import MontageError
from kernel.media import Model

SourceKind = Literal["footage", "generate", "title"]
GenerateMode = Literal["text_to_video", "image_to_video", "first_last_frame"]
PRODUCTION_VERSION = 1


class ShotNeed(Model):
    """One shot the edit needs: what it must show and for how long (from the shot list or a brief)."""

    index: int = Field(ge=0, description="position in the shot list, 0-based")
    description: str = Field(max_length=2000, description="what the shot shows, in words")
    seconds: float = Field(gt=0, le=600, description="length on the timeline, seconds")
    beat: str | None = Field(None, max_length=200, description="the story beat it belongs to")


class ImageRef(Model):
    """A frame of existing footage that conditions generation (image-to-video, first/last frame)."""

    clip_id: str = Field(max_length=500)
    seconds: float = Field(ge=0, description="time in the file, seconds from its first frame")


class ShotSource(Model):
    """Where one shot comes from, and why. Exactly the fields of its ``kind`` are set."""

    kind: SourceKind
    reason: str = Field(max_length=2000, description="why this source: shown to the editor")
    # footage
    clip_id: str | None = Field(None, max_length=500)
    source_in_seconds: float | None = Field(None, ge=0)
    source_out_seconds: float | None = Field(None, gt=0)
    match_score: float | None = Field(None, ge=0, le=1, description="how well the footage matches, 0..1")
    # generate
    tool: str | None = Field(None, max_length=200, description="tool id in the catalogue")
    mode: GenerateMode | None = None
    prompt: str | None = Field(None, max_length=4000)
    image: ImageRef | None = None
    last_image: ImageRef | None = None
    # title
    text: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> ShotSource:
        if self.kind == "footage":
            if self.clip_id is None or self.source_in_seconds is None or self.source_out_seconds is None:
                raise ValueError("a footage source needs clip_id, source_in_seconds and source_out_seconds")
            if self.source_out_seconds <= self.source_in_seconds:
                raise ValueError("source_out_seconds must be after source_in_seconds")
        elif self.kind == "generate":
            if not self.tool or self.mode is None or not self.prompt:
                raise ValueError("a generate source needs tool, mode and prompt")
            if self.mode != "text_to_video" and self.image is None:
                raise ValueError(f"{self.mode} needs an image")
            if self.mode == "first_last_frame" and self.last_image is None:
                raise ValueError("first_last_frame needs last_image")
        elif not self.text:
            raise ValueError("a title source needs text")
        return self


class Estimate(Model):
    """What a shot (or the whole plan) costs: GPU seconds, money and wall time, before spending."""

    gpu_seconds: float = Field(0.0, ge=0)
    cost: float = Field(0.0, ge=0, description="money, in the plan's currency")
    wall_seconds: float = Field(0.0, ge=0, description="until the result is back, queue wait included")
    queue_wait_seconds: float = Field(0.0, ge=0)
    measured: bool = Field(True, description="False when a figure is the catalogue's default, not a measurement")


class ProductionShot(Model):
    need: ShotNeed
    source: ShotSource
    estimate: Estimate = Field(default_factory=Estimate)
    alternatives: list[ShotSource] = Field(default_factory=list, description="next-best sources, best first")


class LLMUsage(Model):
    """Tokens the planner's LLM calls used, and what they cost (capped by the brief's budget)."""

    calls: int = Field(0, ge=0)
    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)
    cost: float = Field(0.0, ge=0)


class ProductionPlan(Model):
    """Every shot with its source and estimate; the totals against the brief's budget and deadline."""

    version: int = PRODUCTION_VERSION
    name: str = "Montage"
    currency: str = Field("USD", max_length=8)
    shots: list[ProductionShot] = Field(default_factory=list)
    total: Estimate = Field(default_factory=Estimate)
    budget: float | None = Field(None, ge=0, description="the brief's money cap (GPU + LLM), if any")
    deadline_seconds: float | None = Field(None, gt=0, description="the brief's wall-time cap, if any")
    llm: LLMUsage = Field(default_factory=LLMUsage)
    notes: list[str] = Field(default_factory=list, description="what the planner changed to fit, and warnings")

    @property
    def within_budget(self) -> bool:
        return self.budget is None or self.total.cost + self.llm.cost <= self.budget + 1e-9

    @property
    def within_deadline(self) -> bool:
        return self.deadline_seconds is None or self.total.wall_seconds <= self.deadline_seconds + 1e-9


class ProductionPlanError(MontageError):
    """A production plan file that cannot be read or is not a production plan."""


def read_production_plan(path: Path, flag: str = "production plan") -> ProductionPlan:
    """A production plan JSON file, validated; the error names ``flag`` (the option that gave it),
    the file and the first wrong field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProductionPlanError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from exc
    try:
        return ProductionPlan.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "plan"
        raise ProductionPlanError(f"{flag} {path}: not a production plan: {where}: {first['msg']}") from exc
