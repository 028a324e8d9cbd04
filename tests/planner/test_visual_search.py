"""Search by what the analysis measured in the picture (#20): clips made with ffmpeg, analysed for real
(analysis.engine through the CLI), then searched with words that name a look ("dark static shot",
"people talking") — the clips have no speech, no descriptions and file names that say nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kernel.ffmpeg_tools import ffmpeg_path
from planner.brief import Brief
from planner.plan_io import load_analysis
from planner.production import ShotNeed
from planner.shot_search import VISUAL_WORDS, stem
from planner.sourcing import chooser_from_tools, source_shots
from tests.analysis.test_faces import draw_face
from tests.conftest import run_cli

LOOKS = {
    # clip name → lavfi source (2 s, 320x180, 25 fps)
    "clip_a": "color=c=0x1a1a20:s=320x180:r=25:d=2,noise=alls=3:allf=t",  # dark, still, grey
    # dark, moving: a grey square crossing a near-black frame
    "clip_b": "color=c=0x141418:s=320x180:r=25:d=2,noise=alls=3:allf=t[bg];color=c=0xb0b0b0:s=90x90:r=25:d=2[box];"
    "[bg][box]overlay=x='t*110':y=45:shortest=1[out0]",
    "clip_c": "color=c=0xd8d8d0:s=320x180:r=25:d=2,noise=alls=3:allf=t",  # bright, still, grey
    "clip_d": "testsrc2=s=320x180:r=25:d=2",  # colourful, moving
}


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    import cv2

    folder = tmp_path_factory.mktemp("looks")
    ff = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y"]
    for name, source in LOOKS.items():
        subprocess.run(
            ff + ["-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", "-c:v", "libx264", str(folder / f"{name}.mp4")],
            check=True,
        )
    portrait = np.full((180, 320, 3), (90, 100, 80), np.uint8)  # a face (the analysis's cascade finds it)
    draw_face(portrait, 160, 90, 55)
    still = folder.parent / "portrait.png"
    cv2.imwrite(str(still), cv2.GaussianBlur(portrait, (5, 5), 0))
    subprocess.run(
        ff
        + ["-loop", "1", "-i", str(still), "-vf", "fps=25,noise=alls=6:allf=t", "-t", "2", "-pix_fmt", "yuv420p"]
        + ["-c:v", "libx264", str(folder / "clip_e.mp4")],
        check=True,
    )
    env = {"MONTAGE_CACHE_DIR": str(tmp_path_factory.mktemp("looks-cache"))}
    saved = folder.parent / "looks.analysis.json"
    proc = run_cli("analyze", str(folder), "--output", str(saved), env=env)
    assert proc.returncode == 0, proc.stderr
    return folder, env


def search(footage: tuple[Path, dict[str, str]], query: str) -> list[dict]:
    folder, env = footage
    proc = run_cli("search", query, str(folder), "--json", "--no-speech", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"], doc
    return doc["result"]["hits"]


def test_the_analysis_measured_what_the_clips_look_like(footage: tuple[Path, dict[str, str]]) -> None:
    analysis = load_analysis(footage[0].parent / "looks.analysis.json")
    quality = {c.id: c.shots[0].quality for c in analysis.clips}
    assert all(q is not None for q in quality.values())
    q = {k: v for k, v in quality.items() if v is not None}
    assert q["clip_a"].brightness < 0.15 and q["clip_b"].brightness < 0.2 and q["clip_c"].brightness > 0.75
    assert q["clip_a"].motion < 0.01 < q["clip_b"].motion and q["clip_d"].motion > 0.05
    assert q["clip_d"].colorfulness > 0.8 > 0.1 > max(q[k].colorfulness for k in ("clip_a", "clip_b", "clip_c"))
    assert q["clip_e"].faces == 1 and all(q[k].faces == 0 for k in LOOKS)


def test_dark_finds_the_dark_shots_and_says_why(footage: tuple[Path, dict[str, str]]) -> None:
    hits = search(footage, "dark")
    assert [h["clip_id"] for h in hits[:2]] in (["clip_a", "clip_b"], ["clip_b", "clip_a"])
    assert {h["clip_id"] for h in hits} <= {"clip_a", "clip_b", "clip_e"}  # the bright ones do not match at all
    top = hits[0]
    assert top["matched"] == ["dark"] and top["features"][0]["feature"] == "brightness"
    assert top["features"][0]["value"] < 0.2 and top["features"][0]["grade"] > 0.9
    assert "looks dark ('dark': brightness 0." in top["why"]
    assert 0.5 < top["score"] <= 0.6  # a measured match counts 0.6 of a word's


def test_several_looks_rank_the_shot_that_has_them_all(footage: tuple[Path, dict[str, str]]) -> None:
    assert search(footage, "dark static shot")[0]["clip_id"] == "clip_a"
    assert search(footage, "dark fast moving")[0]["clip_id"] == "clip_b"
    assert search(footage, "bright colourful action")[0]["clip_id"] == "clip_d"
    assert search(footage, "calm bright")[0]["clip_id"] == "clip_c"
    grey = search(footage, "black and white")
    assert grey[0]["clip_id"] in ("clip_a", "clip_b", "clip_c") and grey[0]["features"][0]["label"] == "grey"
    people = search(footage, "people talking")
    assert people[0]["clip_id"] == "clip_e"
    assert {f["feature"] for f in people[0]["features"]} == {"faces"} and people[0]["features"][0]["value"] == 1
    # What is not measured is not pretended: "close-up" and "wide" match nothing here.
    folder, env = footage
    proc = run_cli("search", "close-up wide", str(folder), "--no-speech", env=env)
    assert proc.returncode == 0 and "no shot matches" in proc.stdout


def test_the_table_says_which_feature_matched(footage: tuple[Path, dict[str, str]]) -> None:
    folder, env = footage
    proc = run_cli("search", "a face", str(folder), "--no-speech", "--limit", "2", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "clip_e.mp4" in proc.stdout and "faces 1" in proc.stdout


def test_sourcing_uses_the_look(footage: tuple[Path, dict[str, str]]) -> None:
    analysis = load_analysis(footage[0].parent / "looks.analysis.json")
    needs = [
        ShotNeed(index=0, description="a dark static shot", seconds=1.5),
        ShotNeed(index=1, description="a dog running at night", seconds=1.5),
    ]
    tools = chooser_from_tools([("t2v", ["text_to_video"]), ("i2v", ["image_to_video"])])
    plan = source_shots(needs, analysis, Brief(), choose_tool=tools)
    first, second = plan.shots
    assert first.source.kind == "footage" and first.source.clip_id == "clip_a"
    assert "brightness" in first.source.reason and "motion" in first.source.reason
    # Only the look matches a dog at night: not enough to use as it is, enough to lend its frame.
    assert second.source.kind == "generate" and second.source.mode == "image_to_video"
    assert second.source.image is not None and second.source.image.clip_id in ("clip_a", "clip_b")
    assert "brightness" in second.source.reason
    # A shot's length or shape alone is no model for the picture: text-to-video, not a frame of it.
    short = ShotNeed(index=0, description="short", seconds=1.0)
    (only,) = source_shots([short], analysis, Brief(), choose_tool=tools, threshold=0.9).shots
    assert only.source.kind == "generate" and only.source.mode == "text_to_video"


def test_vocabulary_is_stemmed_like_queries() -> None:
    assert stem("faces") in VISUAL_WORDS and stem("moving") in VISUAL_WORDS and stem("colourful") in VISUAL_WORDS
    assert "close" not in VISUAL_WORDS and "wide" not in VISUAL_WORDS  # not measurable: not pretended
