"""`montage-bridge analyze` as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.models import AnalysisResult
from tests.conftest import run_cli

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech" / "hello_fox.opus"


@pytest.fixture()
def cache_env(tmp_path: Path) -> dict[str, str]:
    return {"MONTAGE_CACHE_DIR": str(tmp_path / "cache")}


def test_json_follows_the_models_and_the_facts(sample_media: Path, facts: dict, cache_env, tmp_path: Path) -> None:
    out = tmp_path / "analysis.json"
    proc = run_cli("analyze", str(sample_media / "footage"), "--jobs", "2", "--json", "-o", str(out), env=cache_env)
    assert proc.returncode == 0, proc.stderr
    result = AnalysisResult.model_validate(json.loads(proc.stdout)["result"]["analysis"])
    assert AnalysisResult.model_validate_json(out.read_text()) == result
    assert sorted(c.media.name for c in result.clips) == sorted(facts["clips"])
    for clip in result.clips:
        truth = facts["clips"][clip.media.name]
        assert clip.media.start_frame == truth["start_frame"]
        assert all(abs(a - b) <= 1 for a, b in zip(clip.cut_frames, truth["cuts"]))
        assert len(clip.cut_frames) == len(truth["cuts"])
    # Second run: every clip from the cache, the summary table says so.
    again = run_cli("analyze", str(sample_media / "footage"), env=cache_env)
    assert again.returncode == 0, again.stderr
    assert "3 analyzed (3 from cache)" in again.stdout
    assert "interview_2997" in again.stdout and "LUFS" in again.stdout


def test_bad_files_fail_with_one_line_unless_skipped(sample_media: Path, cache_env, tmp_path: Path) -> None:
    folder = tmp_path / "footage"
    folder.mkdir()
    shutil.copy(sample_media / "footage" / "city_25.mov", folder)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 4000)
    (folder / "zero.mov").write_bytes(b"")
    out = tmp_path / "a.json"
    proc = run_cli("analyze", str(folder), "-o", str(out), env=cache_env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "2 of 3 file(s)" in lines[0] and "--skip-unreadable" in lines[0]
    assert "broken.mp4" in proc.stdout and "zero.mov" in proc.stdout
    assert not out.exists()
    ok = run_cli("analyze", str(folder), "-o", str(out), "--skip-unreadable", env=cache_env)
    assert ok.returncode == 0, ok.stderr
    assert [c.media.name for c in AnalysisResult.model_validate_json(out.read_text()).clips] == ["city_25.mov"]
    assert "skipped" in ok.stderr


def test_speech_writes_srt_and_json(cache_env, tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    proc = run_cli("analyze", str(SPEECH), "--speech", "--transcripts", str(folder), "--json", env=cache_env)
    assert proc.returncode == 0, proc.stderr
    (clip,) = AnalysisResult.model_validate(json.loads(proc.stdout)["result"]["analysis"]).clips
    assert clip.transcript is not None and "fox" in clip.transcript.segments[0].text.lower()
    assert "fox" in (folder / "hello_fox.srt").read_text().lower()
    assert json.loads((folder / "hello_fox.json").read_text())["segments"][0]["words"]


def test_schema_export() -> None:
    proc = run_cli("analyze", "--schema")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert schema["title"] == "AnalysisResult"
    assert {"ClipAnalysis", "Shot", "ShotQuality", "Transcript", "MusicAnalysis"} <= set(schema["$defs"])


def test_no_paths_is_a_usage_error() -> None:
    proc = run_cli("analyze")
    assert proc.returncode == 2 and "PATH" in proc.stderr
