"""Speech: a few seconds of real (espeak-ng) speech through the bundled tiny.en model."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.models import Transcript
from analysis.speech import SpeechError, resolve_model, transcribe_file, transcript_to_srt

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech" / "hello_fox.opus"


@pytest.fixture(scope="module")
def transcript() -> Transcript:
    result = transcribe_file(SPEECH)
    assert result is not None
    return result


def test_transcript_contains_the_words(transcript: Transcript) -> None:
    text = " ".join(seg.text for seg in transcript.segments).lower()
    for word in ["hello", "welcome", "montage", "bridge", "quick", "brown", "fox", "lazy"]:
        assert word in text, text
    assert transcript.language == "en" and "tiny.en" in transcript.model


def test_word_timestamps_follow_the_audio(transcript: Transcript) -> None:
    words = [w for seg in transcript.segments for w in seg.words]
    assert len(words) >= 14
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    # The file starts with 0.7 s of silence and the speech lasts about 5.6 s.
    assert 0.2 <= words[0].start <= 1.2  # Whisper word times are good to a few tenths
    assert words[-1].end <= 7.2


def test_srt_output(transcript: Transcript) -> None:
    srt = transcript_to_srt(transcript)
    first = srt.splitlines()
    assert first[0] == "1"
    assert " --> " in first[1] and first[1].startswith("00:00:0")
    assert first[2] == transcript.segments[0].text


def test_model_choice_errors(tmp_path: Path) -> None:
    path, label = resolve_model(None)
    assert (Path(path) / "model.bin").is_file() and "tiny.en" in label
    with pytest.raises(SpeechError, match="no model.bin"):
        resolve_model(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(SpeechError, match="must be a folder"):
        resolve_model(tmp_path / "weights.bin")
