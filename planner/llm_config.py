"""Where the LLM planner talks to: any OpenAI-compatible chat-completions endpoint.

Settings come from (later wins): defaults → a TOML/JSON config file's ``[llm]`` table →
environment (``MONTAGE_LLM_BASE_URL``/``OPENAI_BASE_URL``, ``MONTAGE_LLM_MODEL``,
``MONTAGE_LLM_API_KEY``/``OPENAI_API_KEY``, ``MONTAGE_LLM_TIMEOUT``, ``MONTAGE_LLM_RETRIES``,
``MONTAGE_LLM_RESPONSE_FORMAT``, ``MONTAGE_LLM_VISION_MODEL``: the vision model that describes
shots, see :mod:`analysis.describe`) → explicit arguments. Examples of base URLs: OpenAI (unset),
Ollama ``http://localhost:11434/v1``, LM Studio ``http://localhost:1234/v1``, vLLM
``http://localhost:8000/v1``, llama.cpp server ``http://localhost:8080/v1``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from analysis.describe import VisionSettings
from kernel.errors import MontageError
from kernel.media import Model
from planner.toml_compat import TOMLDecodeError, loads

ResponseFormat = Literal["auto", "json_schema", "json_object", "none"]


class LLMConfigError(MontageError):
    """LLM settings that cannot be used."""


class LLMConfig(Model):
    """Connection and limits for the LLM planner. Times in seconds."""

    base_url: str | None = Field(None, description="OpenAI-compatible base URL ending in /v1 (None = OpenAI)")
    model: str = "gpt-4o-mini"
    api_key: str | None = Field(None, repr=False)
    timeout_seconds: float = Field(60.0, gt=0, le=3600, description="per request")
    total_timeout_seconds: float = Field(300.0, gt=0, le=7200, description="for the whole plan, all requests")
    max_retries: int = Field(1, ge=0, le=5, description="client retries on timeouts, 429 and 5xx")
    response_format: ResponseFormat = "auto"
    token_budget: int = Field(6000, ge=500, le=200_000, description="estimated tokens for the analysis summary")
    max_beats: int = Field(8, ge=1, le=30)
    temperature: float = Field(0.2, ge=0, le=2)
    # Shot descriptions (analysis.describe): a vision-capable model at the same endpoint; None = none.
    vision_model: str | None = Field(None, max_length=200, description="vision model for shot descriptions")
    vision_frames: int = Field(1, ge=1, le=4, description="frames sent per shot to the vision model")

    def client_key(self) -> str:
        """Local servers ignore the key but the client needs one; OpenAI itself needs a real one."""
        if self.api_key:
            return self.api_key
        if self.base_url:
            return "not-needed"
        raise LLMConfigError(
            "no API key for the LLM planner: set MONTAGE_LLM_API_KEY (or OPENAI_API_KEY), "
            "or point MONTAGE_LLM_BASE_URL at a local server"
        )

    def vision_settings(self) -> VisionSettings | None:
        """Settings for :func:`analysis.describe.describe_shots`, or None when no vision model is set."""
        if not self.vision_model:
            return None
        return VisionSettings(
            model=self.vision_model,
            base_url=self.base_url,
            api_key=self.api_key,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            frames_per_shot=self.vision_frames,
        )


_ENV = {
    "base_url": ("MONTAGE_LLM_BASE_URL", "OPENAI_BASE_URL"),
    "model": ("MONTAGE_LLM_MODEL", "OPENAI_MODEL"),
    "api_key": ("MONTAGE_LLM_API_KEY", "OPENAI_API_KEY"),
    "timeout_seconds": ("MONTAGE_LLM_TIMEOUT",),
    "max_retries": ("MONTAGE_LLM_RETRIES",),
    "response_format": ("MONTAGE_LLM_RESPONSE_FORMAT",),
    "vision_model": ("MONTAGE_LLM_VISION_MODEL",),
}


def load_llm_config(path: Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any) -> LLMConfig:
    """Merge defaults, the ``[llm]`` table of ``path``, the environment and ``overrides``."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            table = json.loads(text) if path.suffix.lower() == ".json" else loads(text)
        except OSError as exc:
            raise LLMConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from exc
        except (TOMLDecodeError, json.JSONDecodeError) as exc:
            raise LLMConfigError(f"{path}: not valid config: {exc}") from exc
        section = table.get("llm", {}) if isinstance(table, dict) else {}
        if not isinstance(section, dict):
            raise LLMConfigError(f"{path}: [llm] must be a table")
        data.update(section)
    for field, names in _ENV.items():
        for name in names:
            if env.get(name):
                data[field] = env[name]
                break
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return LLMConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise LLMConfigError(f"LLM settings: {where}: {err['msg']}") from exc
