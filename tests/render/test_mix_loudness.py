"""The mix: loudness normalised to the target (measured by ffmpeg's ebur128, not by the code under
test), music ducked under speech by the style's depth, micro-fades at audio cuts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from kernel.ffmpeg_tools import ffmpeg_path
from render import RenderError, RenderOptions, render_timeline
from render.loudness import parse_target
from render.mix import Ducking, duck_gain_db
from tests.render.conftest import R24, R25
from tests.render.media import clip, decode_audio, gap, reference, timeline

SPEECH = (48, 96)  # record frames of the dialogue clip: 2.0 s - 4.0 s
LENGTH = 144  # 6 s


def ebur128(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of ``path`` by ffmpeg's EBU R128 meter, parsed here."""
    proc = subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true:framelog=verbose",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = proc.stderr[proc.stderr.rfind("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))
    return integrated, peak


def music_and_speech(coded: dict[str, Path]) -> otio.schema.Timeline:
    """A1: the 220 Hz music bed for 6 s; A2: 2 s of dialogue (a's 440 Hz tone); V1: a's picture."""
    music_ref = reference(coded["music"], 0, 8 * 24, R24, has_video=False, has_audio=True)
    a_ref = reference(coded["a"], 0, 150, R25, has_video=True, has_audio=True)
    video = otio.schema.Track(name="V1", kind="Video")
    video.append(clip("a", a_ref, R25, 0, LENGTH, R24))
    music = otio.schema.Track(name="A1", kind="Audio")
    music.append(clip("music", music_ref, R24, 0, LENGTH, R24))
    speech = otio.schema.Track(name="A2", kind="Audio")
    speech.append(gap(SPEECH[0], R24))
    speech.append(clip("a", a_ref, R25, 10, SPEECH[1] - SPEECH[0], R24))
    speech.append(gap(LENGTH - SPEECH[1], R24))
    return timeline("mix", R24, [video, music, speech], width=160, height=90, style="documentary")


def band_level_db(sound: np.ndarray, hz: float, start: float, end: float, rate: int = 48000) -> float:
    """Level (dB, relative) of the ``hz`` component between ``start`` and ``end`` seconds."""
    part = sound[int(start * rate) : int(end * rate)]
    window = np.hanning(len(part))
    spectrum = np.abs(np.fft.rfft(part * window)) / window.sum()  # amplitude, whatever the window length
    k = int(round(hz * len(part) / rate))
    return 20 * np.log10(spectrum[k - 2 : k + 3].max() + 1e-12)


@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_loudness_hits_the_target_under_the_true_peak_ceiling(coded, tmp_path, target):
    out = tmp_path / "loud.mp4"
    report = render_timeline(
        music_and_speech(coded), out, RenderOptions(loudness=target, preset="ultrafast", duck=False)
    )
    integrated, peak = ebur128(out)
    assert abs(integrated - target) <= 1.0
    assert peak <= -1.0
    # The mix before normalisation was well away from the target (so the pass did the work).
    assert report.measured is not None and abs(report.measured.integrated - target) > 2
    assert report.normalization in ("linear", "linear+limiter")
    assert report.ok, report.failures


def test_presets():
    assert [parse_target(x) for x in ("-16", "14", "ebu", "atsc", "streaming")] == [-16, -14, -23, -24, -14]
    with pytest.raises(RenderError, match="loudness target"):
        parse_target("loud")


def test_music_ducks_under_speech_by_the_style_depth(coded, tmp_path):
    out = tmp_path / "duck.mp4"
    ducking = Ducking(depth_db=-12.0, attack=0.25, release=0.5)
    render_timeline(music_and_speech(coded), out, RenderOptions(ducking=ducking, preset="ultrafast"))
    sound = decode_audio(out)
    before = band_level_db(sound, 220, 0.5, 1.5)
    during = band_level_db(sound, 220, 2.4, 3.6)
    after = band_level_db(sound, 220, 5.0, 5.9)
    assert during - before == pytest.approx(-12.0, abs=1.0)
    assert after - before == pytest.approx(0.0, abs=1.0)
    # Attack starts before the speech: half way down the ramp 0.125 s before it.
    ramp = band_level_db(sound, 220, 2.0 - 0.125 - 0.02, 2.0 - 0.125 + 0.02) - before
    assert ramp == pytest.approx(duck_gain_db(1.875, [(2.0, 4.0)], ducking), abs=2.0)
    # The speech itself is not ducked.
    assert band_level_db(sound, 440, 2.4, 3.6) > before - 3


def test_style_sets_the_depth(coded, tmp_path):
    """No explicit ducking: the timeline's style (documentary: -15 dB) decides."""
    out = tmp_path / "style.mp4"
    render_timeline(music_and_speech(coded), out, RenderOptions(preset="ultrafast"))
    sound = decode_audio(out)
    depth = band_level_db(sound, 220, 2.6, 3.6) - band_level_db(sound, 220, 0.5, 1.5)
    assert depth == pytest.approx(-15.0, abs=1.0)


def test_micro_fades_at_audio_cuts(coded, tmp_path):
    """The dialogue starts and stops with a 5 ms fade, not a click: its first and last millisecond are quiet."""
    out = tmp_path / "fade.mov"  # ProRes with PCM sound: the samples as mixed, no codec pre-echo
    tl = music_and_speech(coded)
    del tl.tracks[1]  # dialogue only
    render_timeline(tl, out, RenderOptions(codec="prores"))
    sound = decode_audio(out)
    steady = np.abs(sound[int(2.5 * 48000) : int(3.5 * 48000)]).max()
    start, end = SPEECH[0] * 2000, SPEECH[1] * 2000
    assert np.abs(sound[start : start + 48]).max() < 0.3 * steady
    assert np.abs(sound[end - 48 : end]).max() < 0.3 * steady
    assert np.abs(sound[start + 480 : start + 960]).max() > 0.8 * steady


def test_a_transition_at_the_end_of_the_music_is_a_fade_out(coded, tmp_path):
    """planner music beds end with a Transition and no clip after it: a fade to silence over in_offset."""
    tl = music_and_speech(coded)
    del tl.tracks[2]
    fade = otio.schema.Transition(
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=otio.opentime.RationalTime(48, 24),
        out_offset=otio.opentime.RationalTime(0, 24),
    )
    tl.tracks[1].append(fade)
    out = tmp_path / "fade_out.mov"
    report = render_timeline(tl, out, RenderOptions(codec="prores", check=False))
    assert not report.warnings
    sound = decode_audio(out)
    full = band_level_db(sound, 220, 1.0, 2.0)
    assert band_level_db(sound, 220, 4.0, 4.2) == pytest.approx(full, abs=1.0)  # the fade starts at 4 s
    assert band_level_db(sound, 220, 4.9, 5.1) == pytest.approx(full - 6.0, abs=1.5)  # half way: gain 1/2
    assert band_level_db(sound, 220, 5.85, 5.99) < full - 20
