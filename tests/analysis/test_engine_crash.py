"""A decoder that crashes its process on a damaged file fails that file only: the other files are
analyzed and the caller (CLI, daemon) lives on with a message naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.crash_hook import crash_hook_env


@pytest.fixture()
def crashing_env(tmp_path: Path) -> dict[str, str]:
    return {**crash_hook_env(tmp_path / "hook"), "MONTAGE_CACHE_DIR": str(tmp_path / "cache")}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_crashing_file_fails_alone(sample_media: Path, tmp_path: Path, crashing_env: dict, jobs: str) -> None:
    folder = tmp_path / "footage"
    folder.mkdir()
    for name in ("beach_2398.mp4", "city_25.mov"):
        shutil.copy(sample_media / "footage" / name, folder / name)
    shutil.copy(sample_media / "footage" / "interview_2997.mp4", folder / "crash_interview.mp4")
    out = tmp_path / "analysis.json"
    proc = run_cli("analyze", str(folder), "--jobs", jobs, "--skip-unreadable", "-o", str(out), env=crashing_env)
    assert proc.returncode == 0, proc.stderr
    text = " ".join((proc.stdout + proc.stderr).split())
    assert "crash_interview.mp4: the analysis process died while decoding this file" in text
    assert "Traceback" not in proc.stderr
    from analysis.models import AnalysisResult

    result = AnalysisResult.model_validate_json(out.read_text())
    assert sorted(c.media.name for c in result.clips) == ["beach_2398.mp4", "city_25.mov"]
    assert all(len(c.shots) == 3 for c in result.clips)  # the survivors were fully analyzed
