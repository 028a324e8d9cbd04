"""Per-user folders: one module (kernel/paths.py), the XDG variables honoured, the MONTAGE_* overrides first."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analysis.cache import default_cache_dir
from gpu_remote.client import default_state_dir
from kernel import paths
from planner.style import style_dirs

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG layout is Linux's")


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CONFIG", "CACHE", "STATE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    for name in ("MONTAGE_CACHE_DIR", "MONTAGE_GPU_STATE", "MONTAGE_BRIDGE_STYLES"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_every_folder_follows_its_xdg_variable(xdg: Path) -> None:
    assert paths.config_dir() == xdg / "config" / "montage-bridge"
    assert paths.cache_dir() == xdg / "cache" / "montage-bridge"
    assert paths.state_dir() == xdg / "state" / "montage-bridge"
    assert paths.data_dir() == xdg / "data" / "montage-bridge"
    assert paths.log_dir() == xdg / "state" / "montage-bridge" / "log"


def test_defaults_without_xdg_variables_are_the_historical_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name in ("CONFIG", "CACHE", "STATE", "DATA"):
        monkeypatch.delenv(f"XDG_{name}_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.config_dir() == tmp_path / ".config" / "montage-bridge"
    assert paths.cache_dir() == tmp_path / ".cache" / "montage-bridge"
    assert paths.state_dir() == tmp_path / ".local" / "state" / "montage-bridge"
    assert paths.data_dir() == tmp_path / ".local" / "share" / "montage-bridge"
    assert paths.exports_dir() == tmp_path / "Montage Bridge Exports"


def test_call_sites_use_the_module_and_keep_their_overrides(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_cache_dir() == xdg / "cache" / "montage-bridge"
    # The GPU client's ledger used to ignore XDG_STATE_HOME (always ~/.local/state).
    assert default_state_dir() == xdg / "state" / "montage-bridge" / "gpu"
    assert xdg / "config" / "montage-bridge" / "styles" in style_dirs()

    monkeypatch.setenv("MONTAGE_CACHE_DIR", str(xdg / "mine"))
    monkeypatch.setenv("MONTAGE_GPU_STATE", str(xdg / "gpu-mine"))
    monkeypatch.setenv("MONTAGE_BRIDGE_STYLES", str(xdg / "styles-mine"))
    assert default_cache_dir() == xdg / "mine"
    assert default_state_dir() == xdg / "gpu-mine"
    assert style_dirs()[0] == xdg / "styles-mine"
