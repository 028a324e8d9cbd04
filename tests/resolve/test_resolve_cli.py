"""`montage-bridge resolve pool|build` and `auto --resolve`, as a user runs them (fake Resolve via env)."""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio

from nle_adapters.plan_to_otio import build_timeline
from tests.conftest import run_cli
from tests.resolve.helpers import three_track_plan


def test_pool_lists_media_items(sample_media: Path, facts: dict) -> None:
    env = {"MONTAGE_RESOLVE": f"fake:{sample_media / 'footage'}"}
    result = run_cli("resolve", "pool", "--json", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    clips = {c["media"]["name"]: c["media"] for c in json.loads(result.stdout)["result"]["clips"]}
    assert set(clips) == set(facts["clips"])
    for name, fact in facts["clips"].items():
        assert clips[name]["rate"] == fact["rate"] and clips[name]["frames"] == fact["frames"]
        assert clips[name]["start_frame"] == fact["start_frame"]
    table = run_cli("resolve", "pool", env=env, timeout=120)
    assert "14:23:10;12" in table.stdout and "30000/1001" in table.stdout


def test_build_from_a_timeline_file_reports_what_landed(tmp_path: Path) -> None:
    plan, analysis = three_track_plan(tmp_path)
    for clip in analysis.clips:  # the import path needs real files; the append path imports them
        clip.media.path.write_bytes(b"")
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(build_timeline(plan, analysis), str(path))
    env = {"MONTAGE_RESOLVE": "fake", "MONTAGE_RESOLVE_PROFILE": "studio-21"}
    result = run_cli("resolve", "build", str(path), env=env, timeout=120)
    # The empty files cannot be probed, so the fake's ImportMedia refuses them, as Resolve would.
    assert result.returncode == 2
    assert "montage-bridge: error: Resolve did not import 4 file(s)" in result.stderr
    bad = run_cli("resolve", "pool", env={"MONTAGE_RESOLVE": "fake", "MONTAGE_RESOLVE_PROFILE": "nine"})
    assert bad.returncode == 2 and "unknown Resolve profile 'nine'" in bad.stderr
    missing = run_cli("resolve", "build", str(tmp_path / "nope.otio"), env=env)
    assert missing.returncode == 2 and "nope.otio: no such file" in missing.stderr
    usage = run_cli("resolve", "build", str(path), "--method", "paste", env=env)
    assert usage.returncode == 2 and "choose append, import or auto" in usage.stderr
    assert "internal error" not in usage.stderr


def test_build_both_methods_from_sample_media(sample_media: Path, tmp_path: Path) -> None:
    from fractions import Fraction

    from analysis.models import AnalysisResult, ClipAnalysis, Shot
    from kernel.probe import probe_media
    from kernel.timebase import rescale_frames
    from planner.models import Cut, EditPlan

    clips, cuts = [], []
    for track, path in enumerate(sorted((sample_media / "footage").iterdir()), 1):
        media = probe_media(path)
        clips.append(ClipAnalysis(id=path.stem, media=media, shots=[Shot(start=0, end=media.frames)]))
        length = rescale_frames(40, Fraction(24000, 1001), media.rate)
        cuts.append(
            Cut(
                clip_id=path.stem,
                track=track,
                source_in=5,
                source_out=5 + length,
                record_in=track,
                record_out=track + 40,
            )
        )
    plan = EditPlan(name="Sample cut", rate=Fraction(24000, 1001), cuts=cuts, planner="test")
    plan_file = tmp_path / "plan.json"
    bundle = {"plan": plan.model_dump(mode="json"), "analysis": AnalysisResult(clips=clips).model_dump(mode="json")}
    plan_file.write_text(json.dumps(bundle))
    env = {"MONTAGE_RESOLVE": f"fake:{sample_media / 'footage'}"}
    for method in ("append", "import"):
        result = run_cli("resolve", "build", str(plan_file), "--method", method, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        assert f"timeline 'Sample cut' ({method}): 3/3 clips placed" in result.stdout
    dropped = run_cli("resolve", "build", str(plan_file), env={**env, "MONTAGE_RESOLVE_DROP": "city_25.mov"})
    assert dropped.returncode == 1
    assert "timeline 'Sample cut' (append): 2/3 clips placed" in dropped.stdout
    assert "dropped: city_25.mov on V2 at 01:00:00:02" in dropped.stderr


def test_auto_with_resolve_builds_and_verifies(sample_media: Path, tmp_path: Path) -> None:
    env = {"MONTAGE_RESOLVE": "fake", "MONTAGE_RESOLVE_PROFILE": "studio-19"}
    result = run_cli(
        "auto",
        str(sample_media / "footage"),
        "--music",
        str(sample_media / "music.wav"),
        "--duration",
        "6",
        "--formats",
        "otio",
        "--output",
        str(tmp_path),
        "--resolve",
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "connected to DaVinci Resolve Studio 19.1.3.7 (fake)" in result.stderr
    assert "(append):" in result.stdout and "clips placed" in result.stdout
    line = next(s for s in result.stdout.splitlines() if "clips placed" in s)
    placed, expected = line.split("): ")[1].split(" clips")[0].split("/")
    assert placed == expected
