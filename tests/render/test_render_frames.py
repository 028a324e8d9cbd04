"""The render shows the exact source frames the timeline names, and plays the sound it names.

A 24 fps timeline cuts 25 fps media (start TC 10:00:00:00), 29.97 DF media (start TC 00:59:59;28)
and 24 fps media (no TC), with a dissolve, a gap, and J/L audio. Each rendered frame is decoded by
its content (tests/render/media.py) and compared with the frame the timeline names; the expected
frame is computed here from the documented conform rule (docs/render.md), not by the code under test.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from kernel.timebase import timecode_to_frames
from render import RenderOptions, render_timeline
from tests.render.conftest import R24, R25, R2997
from tests.render.media import (
    clip,
    decode_audio,
    decode_code,
    decode_video,
    dissolve,
    dominant_hz,
    gap,
    reference,
    timeline,
)

FILE_ID = {"a": 1, "b": 2, "c": 3}
RATE = {"a": R25, "b": R2997, "c": R24}
HZ = {"a": 440.0, "b": 660.0, "c": 880.0}

# Picture: (media, 0-based source in, record in, record out); dissolve b -> c at 44, 4 + 4 frames.
PICTURE = [("a", 10, 0, 20), ("b", 30, 20, 44), ("c", 20, 44, 64), ("a", 60, 76, 91)]
DISSOLVE = (44, 4, 4)  # cut frame, frames before (incoming head), frames after (outgoing tail)
# Sound: a runs 6 frames past its picture (L cut); c starts 4 frames before its picture (J cut).
SOUND = [("a", 10, 0, 26), ("b", 37, 26, 40), ("c", 16, 40, 64), ("a", 60, 76, 91)]
LENGTH = 91


def _refs(coded: dict[str, Path]) -> dict[str, otio.schema.ExternalReference]:
    return {
        "a": reference(coded["a"], timecode_to_frames("10:00:00:00", R25), 150, R25, has_video=True, has_audio=True),
        "b": reference(
            coded["b"],
            timecode_to_frames("00:59:59;28", R2997),
            180,
            R2997,
            has_video=True,
            has_audio=True,
            drop_frame=True,
        ),
        "c": reference(coded["c"], 0, 144, R24, has_video=True, has_audio=True),
    }


def _track(kind: str, name: str, spans, refs, with_dissolve: bool) -> otio.schema.Track:
    track = otio.schema.Track(name=name, kind=kind)
    position = 0
    for media, src, rec_in, rec_out in spans:
        if rec_in > position:
            track.append(gap(rec_in - position, R24))
        if with_dissolve and rec_in == DISSOLVE[0]:
            track.append(dissolve(DISSOLVE[1], DISSOLVE[2], R24))
        track.append(clip(media, refs[media], RATE[media], src, rec_out - rec_in, R24))
        position = rec_out
    return track


def expected_frame(record: int) -> tuple[int, int] | None:
    """(file id, media frame) the rule says record frame ``record`` shows; None in a gap."""
    for media, src, rec_in, rec_out in PICTURE:
        if rec_in <= record < rec_out:
            frame = src + int(Fraction(record - rec_in) * RATE[media] / R24 // 1)
            return FILE_ID[media], frame
    return None


@pytest.fixture(scope="module")
def rendered(coded, tmp_path_factory) -> tuple[Path, object]:
    refs = _refs(coded)
    tl = timeline(
        "mixed",
        R24,
        [_track("Video", "V1", PICTURE, refs, True), _track("Audio", "A1", SOUND, refs, False)],
        width=160,
        height=90,
    )
    out = tmp_path_factory.mktemp("render") / "mixed.mp4"
    report = render_timeline(tl, out, RenderOptions(crf=10, preset="ultrafast"))
    return out, report


def test_every_frame_outside_the_dissolve_is_the_named_source_frame(rendered):
    out, report = rendered
    frames = decode_video(out)
    assert len(frames) == LENGTH == report.frames
    cut, head, tail = DISSOLVE
    wrong = []
    for record, luma in enumerate(frames):
        if cut - head <= record < cut + tail:
            continue
        want = expected_frame(record)
        got = decode_code(luma)
        if want is None:
            assert float(luma.mean()) < 20, f"record frame {record} should be black (gap)"
        elif got != want:
            wrong.append((record, want, got))
    assert not wrong, f"frames not from the named source frame (record, want, got): {wrong[:8]}"


def test_frames_at_each_cut(rendered):
    """The frames either side of each hard cut, spelled out (a regression here is an off-by-one)."""
    out, _ = rendered
    codes = [decode_code(f) for f in decode_video(out)]
    # a (25 fps, in 10) -> b (29.97 DF, in 30) at record 20
    assert codes[19] == (1, 29) and codes[20] == (2, 30)
    # b's 6th record frame: 30 + floor(5 * 29.97 / 24) = 36
    assert codes[25] == (2, 36)
    # c (24 fps) -> gap at 64 -> a (in 60) at 76
    assert codes[63] == (3, 39) and codes[76] == (1, 60) and codes[90] == (1, 74)


def test_dissolve_is_a_blend_of_the_two_named_frames(rendered, coded):
    out, _ = rendered
    frames = decode_video(out)
    cut, head, tail = DISSOLVE
    # The frame just before and just after the dissolve are clean.
    assert decode_code(frames[cut - head - 1]) == (2, 30 + int(Fraction(cut - head - 1 - 20) * R2997 / R24 // 1))
    assert decode_code(frames[cut + tail]) == (3, 20 + (cut + tail - 44))
    # Its middle frame (progress 1/2) is the average of b's and c's frames named for that record frame.
    src_b = decode_video(coded["b"])[30 + int(Fraction(cut - 20) * R2997 / R24 // 1)].astype(float)
    src_c = decode_video(coded["c"])[20].astype(float)
    mid = frames[cut].astype(float)
    assert np.abs(mid - (src_b + src_c) / 2).mean() < 8
    assert np.abs(mid - src_b).mean() > 30 and np.abs(mid - src_c).mean() > 30


def test_sound_follows_the_audio_track_with_j_and_l_cuts(rendered):
    out, _ = rendered
    sound = decode_audio(out)
    per_frame = 48000 // 24
    assert abs(len(sound) - LENGTH * per_frame) <= per_frame // 2
    for media, _, rec_in, rec_out in SOUND:
        for record in (rec_in + 1, (rec_in + rec_out) // 2, rec_out - 2):
            window = sound[record * per_frame : (record + 1) * per_frame]
            assert abs(dominant_hz(window) - HZ[media]) < 30, f"record frame {record} should sound like {media}"
    # L cut: picture b from 20, sound still a until 26. J cut: sound c from 40, picture c from 44.
    assert abs(dominant_hz(sound[22 * per_frame : 25 * per_frame]) - HZ["a"]) < 30
    assert abs(dominant_hz(sound[40 * per_frame + 100 : 43 * per_frame]) - HZ["c"]) < 30
    # The gap is silent; sound resumes where the clip starts (within the 5 ms micro-fade + 2 ms).
    gap_part = sound[65 * per_frame : 75 * per_frame]
    assert np.sqrt(np.mean(gap_part**2)) < 1e-3
    onset = 64 * per_frame + int(np.argmax(np.abs(sound[64 * per_frame :]) > 0.02))
    assert abs(onset - 76 * per_frame) <= 48 * 7


def test_report_and_quality_check_pass(rendered):
    out, report = rendered
    assert report.ok, report.failures
    assert report.quality.frames == LENGTH
    assert report.output == out and out.is_file()
    assert not list(out.parent.glob(".*partial*")), "the temporary file must be gone"
