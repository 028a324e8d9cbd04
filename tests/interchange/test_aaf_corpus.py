"""Avid AAF input (read-only, through the otio-aaf-adapter plugin): the corpus files read, with the
rate, start timecode, tracks and transitions that pyaaf2 finds in the file itself."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import aaf2
import opentimelineio as otio
import pytest

from kernel.timebase import rate_from_float, timecode_to_frames
from nle_adapters.convert import read_timelines
from nle_adapters.errors import TimelineParseError
from tests.conftest import TEST_DATA, run_cli

AAF_DIR = TEST_DATA / "aaf"


def _picture_facts(path: Path) -> tuple[Fraction, dict[str, int]]:
    """Edit rate and component counts of the top-level composition's picture slot, read with pyaaf2."""
    with aaf2.open(str(path), "r") as f:
        comp = next(iter(f.content.toplevel()))
        slot = next(s for s in comp.slots if s.segment.media_kind == "Picture")
        names = [type(c).__name__ for c in getattr(slot.segment, "components", [slot.segment])]
        return Fraction(str(slot.edit_rate)), {n: names.count(n) for n in set(names)}


def test_drop_frame_avid_export() -> None:
    path = AAF_DIR / "otio-aaf-adapter__2997fps-DFTC.aaf"
    fmt, (timeline,) = read_timelines(path)
    rate, _ = _picture_facts(path)
    assert fmt == "aaf" and rate == Fraction(30000, 1001)
    assert rate_from_float(timeline.global_start_time.rate) == rate
    # Composition name says "hour5-DFTC": the sequence starts at 05:00:00;00 drop-frame.
    assert timeline.global_start_time.value == timecode_to_frames("05:00:00;00", rate)
    assert len(timeline.video_tracks()) == 1 and len(timeline.audio_tracks()) == 6
    clip = next(iter(timeline.video_tracks()[0].find_clips()))
    assert isinstance(clip.media_reference, otio.schema.ExternalReference)


def test_transitions_avid_export() -> None:
    path = AAF_DIR / "otio-aaf-adapter__transitions.aaf"
    _, (timeline,) = read_timelines(path)
    rate, counts = _picture_facts(path)
    assert rate == 24 and rate_from_float(timeline.global_start_time.rate) == 24
    video = timeline.video_tracks()[0]
    transitions = [i for i in video if isinstance(i, otio.schema.Transition)]
    assert len(transitions) == counts["Transition"]
    assert len(list(video.find_clips())) == counts["SourceClip"]


def test_convert_aaf_to_every_format(tmp_path: Path) -> None:
    proc = run_cli(
        "convert", str(AAF_DIR / "otio-aaf-adapter__transitions.aaf"), str(tmp_path / "cut.fcpxml"), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cut.fcpxml").is_file()
    assert json.loads(proc.stdout)["result"]["conversions"]  # the loss report is machine-readable
    back = otio.adapters.read_from_file(str(tmp_path / "cut.fcpxml"), adapter_name="mb_fcpxml")
    assert len([i for i in back.video_tracks()[0] if isinstance(i, otio.schema.Transition)]) == 5


def test_damaged_aaf_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.aaf"
    broken.write_bytes((AAF_DIR / "otio-aaf-adapter__transitions.aaf").read_bytes()[:5000])
    with pytest.raises(TimelineParseError, match="broken.aaf: cannot read as AAF"):
        read_timelines(broken)


def test_every_shared_corpus_aaf_reads(shared_corpus: Path) -> None:
    for path in sorted((shared_corpus / "aaf").glob("*.aaf")):
        _, timelines = read_timelines(path)
        assert timelines and all(len(t.tracks) > 0 for t in timelines), path.name
