"""What the LLM must answer, as pydantic models (their JSON schema goes into the request).

Replies are untrusted: extra keys are ignored, every number is range-checked, and the planner
checks every clip id and time against the analysis before anything reaches a plan.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StoryBeat(Reply):
    """One story beat: a stretch of the edit with a purpose and a length in seconds."""

    title: str = Field(max_length=200)
    purpose: str = Field("", max_length=1000)
    target_seconds: float = Field(gt=0, le=4 * 3600)


class BeatSheet(Reply):
    beats: list[StoryBeat] = Field(min_length=1, max_length=60)


class ShotPick(Reply):
    """One shot: a clip id from the summary and a range in seconds from the start of that file."""

    clip_id: str = Field(max_length=500)
    source_in_seconds: float = Field(ge=0)
    source_out_seconds: float = Field(gt=0)
    reason: str = Field("", max_length=1000)


class ShotList(Reply):
    shots: list[ShotPick] = Field(min_length=1, max_length=500)


def schema_of(model: type[Reply]) -> dict:
    """A JSON schema servers accept in ``response_format`` (no titles, closed objects)."""
    schema = model.model_json_schema()

    def tidy(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("title"), str):  # a schema title, not a property named "title"
                node.pop("title")
            if node.get("type") == "object":
                node.setdefault("additionalProperties", False)
            for value in node.values():
                tidy(value)
        elif isinstance(node, list):
            for value in node:
                tidy(value)

    tidy(schema)
    return schema
