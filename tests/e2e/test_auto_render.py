"""`auto --render --captions` end to end: sample footage whose interview really speaks → timeline
files with the mix and captions, a checked MP4 and .srt/.vtt sidecars (what `make demo` runs).

Oracles: ffprobe (frames of the MP4), Apple's FCPXML DTD (lxml), the speech file's own words.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from kernel.ffmpeg_tools import ffmpeg_path
from montage_bridge.cli import app
from nle_adapters.fcpxml.dtd import validate

REPO = Path(__file__).resolve().parents[2]
SPEECH = REPO / "tests" / "data" / "speech" / "hello_fox.opus"
WORDS = set("hello and welcome to the montage bridge the quick brown fox jumps over the lazy dog".split())


@pytest.fixture(scope="module")
def speaking_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("speaking-media")
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_sample_media.py"), str(out), "--speech", str(SPEECH)],
        check=True,
        capture_output=True,
    )
    return out


def test_sample_media_speech_spans_come_from_the_recording(speaking_media: Path) -> None:
    facts = json.loads((speaking_media / "facts.json").read_text())["clips"]["interview_2997.mp4"]
    assert facts["speech_file"] == "hello_fox.opus"
    # hello_fox.opus: 0.7 s of silence, ~6 s of speech, put 0.5 s into the clip.
    first, last = facts["speech"][0][0], facts["speech"][-1][1]
    assert 1.0 < first < 1.5 and 6.0 < last < 7.5


def test_auto_render_and_captions(speaking_media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "auto", str(speaking_media / "footage"), "--music", str(speaking_media / "music.wav"),
            "--duration", "12", "--output", str(out), "--render", "--captions",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "check" in result.output and "passed" in result.output
    video = out / "footage.mp4"
    probe = subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-i", str(video), "-map", "0:v:0", "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    frames = int(re.findall(r"frame=\s*(\d+)", probe.stderr)[-1])
    timeline = etree.parse(str(out / "footage.fcpxml")).getroot()
    sequence = timeline.find(".//sequence")
    duration = Fraction(sequence.get("duration").rstrip("s"))
    frame = Fraction(timeline.find(f".//format[@id='{sequence.get('format')}']").get("frameDuration").rstrip("s"))
    assert frames == duration / frame  # the render's length is the timeline's, to the frame
    srt = (out / "footage.srt").read_text()
    said = {w.strip(".,").lower() for line in srt.splitlines() if line and not line[0].isdigit() for w in line.split()}
    # Whisper tiny may mishear a word ("jump"): most words, and several of them, are the recording's.
    assert len(said & WORDS) >= 3 and len(said & WORDS) >= 0.75 * len(said), said
    assert (out / "footage.vtt").read_text().startswith("WEBVTT")
    # The FCPXML holds the same cues as captions, valid against Apple's DTD, and the mix.
    text = (out / "footage.fcpxml").read_text()
    assert validate(text, REPO / "tests" / "data" / "fcpxml" / "dtd") == []
    assert len(timeline.findall(".//caption")) == srt.count(" --> ")
    assert timeline.findall(".//asset-clip[@name='music.wav']/adjust-volume/param/fadeIn")
