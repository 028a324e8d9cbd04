"""Shot descriptions in words, from any vision-capable OpenAI-compatible model, cached with the analysis.

For every shot the model sees one or more frames (the shot's thumbnail, or frames taken from the
file) sent as ``image_url`` data URIs, and answers a JSON object ``{"description": "..."}``. The
description lands on :attr:`analysis.models.Shot.description`, where the shot search
(:mod:`planner.shot_search`) reads it beside the transcript words.

* **Cached**: in the analysis cache (kind ``"describe"``) keyed by the file's content fingerprint,
  the shot's frame span, the model name and the prompt version, so a re-run makes no request.
  Only good answers are stored: a failed shot is asked again next time.
* **Untrusted replies**: a reply over :data:`MAX_REPLY_CHARS` is refused unread, anything but a JSON
  object with a string ``description`` is refused, control and format characters are removed,
  whitespace collapsed and the text cut to :data:`MAX_DESCRIPTION_CHARS` at a word boundary.
* **Bounded**: each request has a timeout that holds even against a server that drips its reply, the
  whole run has a deadline, and after :data:`GIVE_UP_AFTER` failures in a row (a server that is down)
  the remaining shots are left undescribed with one warning.
* **Optional**: with no vision model configured (``settings`` None) nothing is asked and every shot
  keeps ``description = None``; search and planning work from the words and file names alone.

This module is in the analysis layer: it knows nothing of the planner's LLM settings. The app turns
those into :class:`VisionSettings` (``planner.llm_config.LLMConfig.vision_settings``).
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from analysis.cache import AnalysisCache, fingerprint, params_key
from analysis.models import AnalysisResult, ClipAnalysis, Shot
from kernel.deadline import call_before
from kernel.errors import MontageError
from kernel.ffmpeg_tools import FFmpegError, run_ffmpeg
from kernel.media import Model

DESCRIBE_VERSION = "1"
PROMPT_VERSION = 1  # in the cache key: a new prompt describes again
CACHE_KIND = "describe"
MAX_REPLY_CHARS = 20_000  # a reply longer than this is refused without parsing
MAX_DESCRIPTION_CHARS = 400
MAX_IMAGE_SIDE = 512  # pixels: frames are scaled to fit before sending
GIVE_UP_AFTER = 3  # failures in a row that stop the run (the server is down or useless)

SYSTEM_PROMPT = (
    "You describe shots of video footage for an editor's search index. You are shown one or more "
    "frames from a single shot. Answer with one JSON object and nothing else: "
    '{"description": "..."} where the description is one or two plain sentences (at most 60 words) '
    "naming the main subjects, the setting, what happens, and the kind of shot (close-up, wide, "
    "aerial, handheld, ...). Do not guess people's names; text visible in the picture may be quoted."
)


class DescribeError(MontageError):
    """Vision settings that cannot be used."""


class VisionSettings(Model):
    """Where shot descriptions come from: an OpenAI-compatible endpoint and a vision-capable model."""

    model: str = Field(min_length=1, max_length=200, description="a vision-capable model name")
    base_url: str | None = Field(None, description="OpenAI-compatible base URL ending in /v1 (None = OpenAI)")
    api_key: str | None = Field(None, repr=False)
    timeout_seconds: float = Field(60.0, gt=0, le=3600, description="per request, however the server answers")
    total_timeout_seconds: float = Field(900.0, gt=0, le=24 * 3600, description="for all shots together")
    max_retries: int = Field(1, ge=0, le=5)
    frames_per_shot: int = Field(1, ge=1, le=4, description="frames sent per shot (1 = the thumbnail)")
    max_tokens: int = Field(200, ge=16, le=4000)

    def client_key(self) -> str:
        if self.api_key:
            return self.api_key
        if self.base_url:
            return "not-needed"  # local servers ignore the key, the client wants one
        raise DescribeError(
            "no API key for shot descriptions: set MONTAGE_LLM_API_KEY (or OPENAI_API_KEY), "
            "or point MONTAGE_LLM_BASE_URL at a local server"
        )


_CONTROL = {"Cc", "Cf", "Cs", "Co", "Cn"}


def clean_text(value: str, limit: int = MAX_DESCRIPTION_CHARS) -> str:
    """``value`` without control/format characters, whitespace collapsed, cut at a word to ``limit``."""
    text = "".join(
        " " if ch.isspace() else ch for ch in value if ch.isspace() or unicodedata.category(ch) not in _CONTROL
    )
    text = " ".join(text.split())
    if len(text) > limit:
        cut = text[: limit - 1]
        space = cut.rfind(" ")
        text = (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"
    return text


def _clean_description(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


class DescriptionReply(BaseModel):
    """What the model must answer. Extra keys are ignored; the description is cleaned and bounded."""

    model_config = ConfigDict(extra="ignore")
    description: Annotated[str, BeforeValidator(_clean_description), Field(min_length=3, max_length=600)]


def parse_reply(content: str | None) -> str:
    """The cleaned description in a reply, or ``ValueError`` saying what was wrong with it."""
    if content is None:
        raise ValueError("the reply has no text")
    if len(content) > MAX_REPLY_CHARS:
        raise ValueError(f"the reply is {len(content)} characters long (at most {MAX_REPLY_CHARS} are read)")
    text = content.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("the reply is not a JSON object")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the reply is not valid JSON ({exc.msg})") from exc
    try:
        return DescriptionReply.model_validate(data).description
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "reply"
        raise ValueError(f"the reply does not fit the schema ({where}: {first['msg']})") from exc


# ---------------------------------------------------------------------------------------------- frames


def _shot_seconds(clip: ClipAnalysis, shot: Shot) -> tuple[float, float]:
    fps = float(clip.media.rate)
    return shot.start / fps, shot.end / fps


def _fit(picture: Any) -> bytes:
    """JPEG bytes of ``picture`` (BGR) scaled to fit :data:`MAX_IMAGE_SIDE`."""
    import cv2

    h, w = picture.shape[:2]
    scale = MAX_IMAGE_SIDE / max(h, w)
    if scale < 1:
        picture = cv2.resize(
            picture, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    ok, data = cv2.imencode(".jpg", picture, [int(cv2.IMWRITE_JPEG_QUALITY), 82])
    if not ok:
        raise ValueError("could not encode a frame as JPEG")
    return bytes(data.tobytes())


def _read_image(path: Path) -> bytes | None:
    import cv2

    picture = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if picture is None or picture.size == 0:
        return None
    return _fit(picture)


def _frame_at(path: Path, seconds: float) -> bytes | None:
    """One frame of ``path`` at ``seconds`` as JPEG (upright, scaled), or None when ffmpeg cannot."""
    with tempfile.TemporaryDirectory(prefix="montage-frame-") as tmp:
        target = Path(tmp) / "frame.jpg"
        try:
            run_ffmpeg(
                ["-ss", f"{max(0.0, seconds):.3f}", "-i", str(path), "-map", "0:v:0", "-frames:v", "1", str(target)],
                timeout=60,
            )
        except FFmpegError:
            return None
        return _read_image(target) if target.is_file() else None


def shot_images(clip: ClipAnalysis, shot: Shot, frames: int = 1) -> list[bytes]:
    """JPEG frames of ``shot``: its thumbnail when one frame is asked and it exists, else ``frames``
    frames spread evenly over the shot, taken from the file."""
    if frames == 1 and shot.thumbnail is not None and Path(shot.thumbnail).is_file():
        image = _read_image(Path(shot.thumbnail))
        if image is not None:
            return [image]
    start, end = _shot_seconds(clip, shot)
    images = []
    for i in range(frames):
        image = _frame_at(clip.media.path, start + (end - start) * (i + 0.5) / frames)
        if image is not None:
            images.append(image)
    return images


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


# ---------------------------------------------------------------------------------------------- run


@dataclass
class DescribeReport:
    """What a run did. ``calls`` counts requests sent (0 when everything came from the cache)."""

    described: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0
    calls: int = 0
    warnings: list[str] = field(default_factory=list)


DescribeProgress = Callable[[int, int], None]  # (shots done, shots in all)


def cache_params(settings: VisionSettings, clip: ClipAnalysis, shot: Shot) -> str:
    """The cache key's parameters: the shot's span, the model, the frames sent and the prompt."""
    return params_key(
        {
            "model": settings.model,
            "start": shot.start,
            "end": shot.end,
            "frames": settings.frames_per_shot,
            "prompt": PROMPT_VERSION,
        }
    )


class _Describer:
    def __init__(self, settings: VisionSettings, client: Any | None) -> None:
        self.settings = settings
        self._client = client

    def client(self) -> Any:
        if self._client is None:
            import openai

            s = self.settings
            self._client = openai.OpenAI(
                base_url=s.base_url, api_key=s.client_key(), timeout=s.timeout_seconds, max_retries=s.max_retries
            )
        return self._client

    def ask(self, clip: ClipAnalysis, index: int, images: list[bytes], deadline: float) -> str:
        """The model's cleaned description of shot ``index``; ``ValueError`` with the reason otherwise."""
        import openai

        shot = clip.shots[index]
        start, end = _shot_seconds(clip, shot)
        name = clean_text(clip.media.name, 200)
        content: list[dict[str, Any]] = [
            {
                "type": "text",
                "text": f"Task: describe shot\nFile {name}, shot {index + 1} of {len(clip.shots)}, "
                f"{end - start:.1f} s long, {len(images)} frame(s) from it follow.",
            }
        ]
        content += [{"type": "image_url", "image_url": {"url": data_uri(image)}} for image in images]
        request_deadline = min(
            deadline, time.monotonic() + self.settings.timeout_seconds * (self.settings.max_retries + 1)
        )
        try:
            response = call_before(
                request_deadline,
                self.client().chat.completions.create,
                thread_name="describe-request",
                model=self.settings.model,
                messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}],
                max_tokens=self.settings.max_tokens,
                temperature=0.2,
            )
        except TimeoutError as exc:
            raise ValueError("no answer in time") from exc
        except openai.APIStatusError as exc:
            raise ValueError(f"the server answered HTTP {exc.status_code}") from exc
        except openai.APIConnectionError as exc:
            raise ValueError(f"cannot reach the server ({exc.__class__.__name__})") from exc
        except openai.OpenAIError as exc:
            raise ValueError(f"{exc.__class__.__name__}: {clean_text(str(exc), 200)}") from exc
        choices = getattr(response, "choices", None)
        if not choices:
            raise ValueError("the reply has no choices")
        message = getattr(choices[0], "message", None)
        return parse_reply(getattr(message, "content", None))


def describe_shots(
    analysis: AnalysisResult,
    settings: VisionSettings | None,
    cache: AnalysisCache | None = None,
    *,
    client: Any | None = None,
    progress: DescribeProgress | None = None,
    redo: bool = False,
) -> DescribeReport:
    """Fill ``Shot.description`` for every shot of every clip with video (in place); see the module
    docstring. ``client``: an ``openai.OpenAI``-like client (tests, custom transports); ``redo``:
    ask again even for shots that have a description or a cached one."""
    report = DescribeReport()
    if settings is None:
        return report
    clips = [c for c in analysis.clips if c.media.has_video and c.shots]
    total = sum(len(c.shots) for c in clips)
    describer = _Describer(settings, client)
    deadline = time.monotonic() + settings.total_timeout_seconds
    failures_in_a_row = 0
    done = 0
    stopped: str | None = None
    for clip in clips:
        try:
            fp: str | None = fingerprint(clip.media.path) if cache is not None else None
        except OSError as exc:
            report.warnings.append(f"{clip.id}: cannot read {clip.media.path} to describe it ({exc.strerror or exc})")
            report.skipped += len(clip.shots)
            done += len(clip.shots)
            continue
        for index, shot in enumerate(clip.shots):
            done += 1
            if progress is not None:
                progress(done, total)
            if shot.description and not redo:
                report.cached += 1
                continue
            key = cache_params(settings, clip, shot)
            if cache is not None and fp is not None and not redo:
                hit = cache.get(fp, CACHE_KIND, DESCRIBE_VERSION, key)
                if hit is not None and isinstance(hit.get("description"), str):
                    try:
                        shot.description = DescriptionReply.model_validate(hit).description
                    except ValidationError:
                        pass
                    else:
                        report.cached += 1
                        continue
            if stopped is not None:
                report.skipped += 1
                continue
            if time.monotonic() >= deadline:
                stopped = f"the {settings.total_timeout_seconds:g} s limit for all descriptions ran out"
                report.skipped += 1
                continue
            images = shot_images(clip, shot, settings.frames_per_shot)
            if not images:
                report.warnings.append(f"{clip.id} shot {index + 1}: no frame could be read to describe it")
                report.skipped += 1
                continue
            report.calls += 1
            try:
                text = describer.ask(clip, index, images, deadline)
            except ValueError as exc:  # DescribeError (no key) is the user's to fix: it propagates
                report.failed += 1
                failures_in_a_row += 1
                report.warnings.append(f"{clip.id} shot {index + 1}: no description ({exc})")
                if failures_in_a_row >= GIVE_UP_AFTER:
                    stopped = f"{GIVE_UP_AFTER} requests in a row failed"
                continue
            failures_in_a_row = 0
            shot.description = text
            report.described += 1
            if cache is not None and fp is not None:
                cache.put(fp, CACHE_KIND, DESCRIBE_VERSION, key, {"description": text, "model": settings.model})
    if stopped is not None and report.skipped:
        report.warnings.append(
            f"shot descriptions ({settings.model}) stopped: {stopped}; {report.skipped} shot(s) left undescribed"
        )
    return report
