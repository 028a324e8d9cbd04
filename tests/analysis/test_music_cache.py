"""Music analysis through the cache: keyed by content like footage, so `auto` re-run with the same
song reads one row instead of decoding and beat-tracking it again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import analysis.beats as beats
from analysis.beats import analyze_music_cached
from tests.planner.songs import intro_song


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    generated = intro_song(seconds=12.0, intro=2.0)
    return generated.write(tmp_path_factory.mktemp("song"))


def test_second_use_of_a_song_is_read_from_the_cache_even_renamed(
    song: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = analyze_music_cached(song, cache)
    moved = tmp_path / "renamed.wav"
    shutil.copy(song, moved)

    def no_analysis(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("analyzed again despite a cached result")

    monkeypatch.setattr(beats, "analyze_music", no_analysis)
    again = analyze_music_cached(moved, cache)
    assert again.beat_grid == first.beat_grid
    assert again.energy == first.energy and again.loudness_lufs == first.loudness_lufs
    assert (again.path, again.name) == (moved.resolve(), "renamed.wav")


def test_changed_content_or_no_cache_analyzes(song: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    analyze_music_cached(song, cache)
    edited = tmp_path / "edited.wav"
    data = bytearray(song.read_bytes())
    data[-2000:] = bytes(2000)  # the last samples silenced: same length, different content
    edited.write_bytes(bytes(data))
    calls: list[Path] = []
    real = beats.analyze_music

    def counting(path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(Path(path))
        return real(path, **kwargs)

    monkeypatch.setattr(beats, "analyze_music", counting)
    analyze_music_cached(edited, cache)
    analyze_music_cached(song, None)
    assert calls == [edited, song]
