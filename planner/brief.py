"""The Brief: what the editor asks for. From CLI flags or a TOML/JSON file.

Durations are seconds. ``pace`` multiplies the style's cuts per bar (0.5 = half as many cuts,
2 = twice as many); the words ``slow``, ``normal``, ``fast`` and ``frantic`` are accepted too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError

from kernel.errors import MontageError
from kernel.media import Model, TimelineRate
from planner.style import Aspect, Mode
from planner.toml_compat import TOMLDecodeError, loads

DEFAULT_FILLERS = ["um", "umm", "uh", "uhh", "uhm", "erm", "er", "ah", "ahh", "hmm", "mm", "mhm"]
_PACE_WORDS = {"slow": 0.5, "relaxed": 0.75, "normal": 1.0, "medium": 1.0, "fast": 1.5, "frantic": 2.0}
_MODE_WORDS = {
    "music_montage": "music_montage",
    "montage": "music_montage",
    "music": "music_montage",
    "talking_head": "talking_head",
    "interview": "talking_head",
    "speech": "talking_head",
    "highlights": "highlights",
    "highlight": "highlights",
}


class BriefError(MontageError):
    """A brief file or flag that cannot be used."""


def _pace(value: Any) -> Any:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _PACE_WORDS:
            return _PACE_WORDS[word]
        try:
            return float(word)
        except ValueError as exc:
            raise ValueError(f"pace must be a number or one of {', '.join(_PACE_WORDS)}") from exc
    return value


def _mode(value: Any) -> Any:
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_").replace(" ", "_")
        return _MODE_WORDS.get(key, key)
    return value


def _aspect(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().replace("x", ":").replace("/", ":")
        return {"horizontal": "16:9", "landscape": "16:9", "vertical": "9:16", "portrait": "9:16", "square": "1:1"}.get(
            text.lower(), text
        )
    return value


class Brief(Model):
    """What to make. Every field is optional; the planner fills gaps from the style and footage."""

    name: str = "Montage"
    mode: Annotated[Mode, BeforeValidator(_mode)] = "music_montage"
    style: str | None = Field(None, description="style name, alias or .toml path (default: per mode)")
    target_duration_seconds: float | None = Field(None, gt=0, le=4 * 3600)
    aspect: Annotated[Aspect | None, BeforeValidator(_aspect)] = Field(None, description="default: the style's")
    pace: Annotated[float, BeforeValidator(_pace)] = Field(1.0, gt=0, le=4)
    must_include: list[str] = Field(default_factory=list, description="clip ids (or file names) that must appear")
    key_messages: list[str] = Field(default_factory=list, description="points the edit must make (talking head/LLM)")
    language: str | None = None
    music: Path | None = None
    rate: TimelineRate | None = Field(None, description="timeline rate (default: the clips' most common)")
    # Talking head: seconds of room kept around speech, pauses longer than this are cut.
    padding_seconds: float = Field(0.12, ge=0, le=2)
    min_silence_seconds: float = Field(0.45, gt=0, le=10)
    filler_words: list[str] = Field(default_factory=lambda: list(DEFAULT_FILLERS))
    jl_cut_frames: int = Field(0, ge=0, le=120, description="J/L cut offset in timeline frames (0 = straight cuts)")
    # Production (generation and LLM calls): caps the planner must respect, choosing cheaper tools or
    # existing footage when over.
    budget: float | None = Field(None, ge=0, description="money cap for GPU work and LLM calls (catalogue currency)")
    deadline_seconds: float | None = Field(None, gt=0, description="wall-time cap for production work, seconds")
    # The shots the edit needs, in words (``shots = ["a dog on the beach", "title: Summer"]``): the
    # production planner (planner.sourcing) finds footage for each or generates it.
    shots: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=500, description="shots the edit needs, described in words, in order"
    )


_ALIASES = {
    "duration": "target_duration_seconds",
    "target_duration": "target_duration_seconds",
    "deadline": "deadline_seconds",
}


def brief_from_mapping(data: Any, source: str = "brief") -> Brief:
    """Validate a dict (file contents or flags) into a Brief; the error names the field."""
    if not isinstance(data, dict):
        raise BriefError(f"{source}: expected a table of brief fields, got {type(data).__name__}")
    if isinstance(data.get("brief"), dict) and len(data) == 1:
        data = data["brief"]  # a file may nest everything under [brief]
    cleaned = {_ALIASES.get(k.replace("-", "_"), k.replace("-", "_")): v for k, v in data.items()}
    try:
        return Brief.model_validate(cleaned)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "brief"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise BriefError(f"{source}: {where}: {err['msg']}{more}") from exc


def load_brief(path: Path) -> Brief:
    """Read a brief from a ``.toml`` or ``.json`` file. Relative music paths are from the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BriefError(f"{path}: cannot read brief ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else loads(text)
    except json.JSONDecodeError as exc:
        raise BriefError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    except TOMLDecodeError as exc:
        raise BriefError(f"{path}: not valid TOML: {exc}") from exc
    brief = brief_from_mapping(data, str(path))
    if brief.music is not None and not brief.music.is_absolute():
        brief.music = (path.parent / brief.music).resolve()
    return brief
