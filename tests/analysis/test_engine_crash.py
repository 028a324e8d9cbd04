"""A decoder that crashes its process on a damaged file fails that file only: the other files are
analyzed and the caller (CLI, daemon) lives on with a message naming the file."""

from __future__ import annotations

import os
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


def test_inside_a_host_application_files_are_decoded_in_process(sample_media: Path, tmp_path: Path) -> None:
    """Resolve runs menu scripts in its embedded Python, where multiprocessing's executable is Resolve
    itself: the engine must not start workers with it (here /bin/false stands in for the host)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    script = f"""
import multiprocessing, sys
from pathlib import Path
sys.path.insert(0, {str(REPO)!r})
from analysis.engine import EngineOptions, analyze_paths
multiprocessing.set_executable("/bin/false")
footage = Path({str(sample_media / "footage")!r})
result = analyze_paths(sorted(footage.iterdir()), EngineOptions(jobs=2, cache_dir=None))
print("CLIPS", len(result.clips), "FAILED", [f.message for f in result.failures])
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "CLIPS 3 FAILED []" in proc.stdout, proc.stdout + proc.stderr


def test_the_warm_pool_survives_a_crash_for_the_next_call(sample_media: Path, tmp_path: Path) -> None:
    """A long-running caller (the watch daemon) keeps one worker pool; a crash breaks it, so the
    next call must get a fresh one rather than fail every file."""
    import subprocess
    import sys

    folder = tmp_path / "footage"
    folder.mkdir()
    shutil.copy(sample_media / "footage" / "city_25.mov", folder / "city_25.mov")
    shutil.copy(sample_media / "footage" / "city_25.mov", folder / "crash_city.mov")
    shutil.copy(sample_media / "footage" / "beach_2398.mp4", folder / "beach_2398.mp4")
    script = f"""
from pathlib import Path
from analysis.engine import EngineOptions, analyze_paths
folder = Path({str(folder)!r})
options = EngineOptions(jobs=2, cache_dir=None)
first = analyze_paths([folder / "city_25.mov", folder / "crash_city.mov"], options)
print("FIRST", len(first.clips), len(first.failures))
second = analyze_paths([folder / "city_25.mov", folder / "beach_2398.mp4"], options)  # same pool size
print("SECOND", len(second.clips), len(second.failures))
"""
    env = {**os.environ, **crash_hook_env(tmp_path / "hook")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "FIRST 1 1" in proc.stdout and "SECOND 2 0" in proc.stdout, proc.stdout + proc.stderr
