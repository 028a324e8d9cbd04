"""Which OTIO adapter reads and writes our formats: ours, on every machine (issue #11 item 7).

OTIO gives a file suffix to the first plugin claiming it, in load order: ``$OTIO_PLUGIN_MANIFEST_PATH``
manifests, then entry points in ``importlib.metadata`` discovery order (the site-packages listing,
and the current directory first), then built-ins. With the upstream adapters installed beside ours,
``resolve build cut.edl`` picked the upstream ``cmx_3600`` and failed with "no frame rate". These tests
pin down what OTIO does in each order, and that the project never depends on it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest
from opentimelineio.plugins import manifest as otio_manifest

from nle_adapters.otio_plugins import ADAPTER_NAMES, MANIFEST_PATH
from tests.conftest import REPO, TEST_DATA

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

UPSTREAM_DISTS = ("otio-fcpx-xml-adapter", "otio-fcp-adapter", "otio-cmx3600-adapter")
UPSTREAM_MODULES = ("otio_fcpx_xml_adapter", "otio_fcp_adapter", "otio_cmx3600_adapter")
UPSTREAM_ADAPTERS = ("fcpx_xml", "fcp_xml", "cmx_3600")
RUNTIME_PACKAGES = ("analysis", "planner", "nle_adapters", "resolve_bridge", "gpu_remote", "montage_bridge")
EDL = TEST_DATA / "edl" / "otio-cmx3600-adapter__avid_example.edl"
FCPXML = TEST_DATA / "fcpxml" / "DAWFileKit__29.97d.fcpxml"
OTIO_FIXTURE = TEST_DATA / "otio" / "OpenTimelineIO__transition.otio"


def _dependency_names(specs: list[str]) -> set[str]:
    return {s.split(";")[0].split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower() for s in specs}


def test_upstream_adapters_are_test_only_and_aaf_stays_runtime() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _dependency_names(project["dependencies"])
    test = _dependency_names(project["optional-dependencies"]["test"])
    assert not runtime & set(UPSTREAM_DISTS)
    assert set(UPSTREAM_DISTS) <= test
    assert "otio-aaf-adapter" in runtime  # our only AAF reader


# Files that may look a timeline up by suffix, and why.
_SUFFIX_LOOKUP_ALLOWED = {
    # The fake Resolve stands in for Resolve's own importer; the test suite runs it with our manifest
    # first (tests/conftest.py). It would better call nle_adapters.convert.read_timelines too.
    "resolve_bridge/fake_interchange.py",
    "resolve_bridge/fake/interchange.py",
}
_ADAPTER_ARG = {"read_from_file": 1, "read_from_string": 1, "write_to_string": 1, "write_to_file": 2}


def _runtime_sources() -> list[Path]:
    return sorted(p for package in RUNTIME_PACKAGES for p in (REPO / package).rglob("*.py"))


def test_runtime_code_never_imports_or_names_the_upstream_adapters() -> None:
    """The runtime must run without the test extra: no import of the upstream adapter packages, and
    no adapter call naming them."""
    offenders = []
    for path in _runtime_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in UPSTREAM_MODULES for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} imports {names}")
            if isinstance(node, ast.Constant) and node.value in UPSTREAM_MODULES:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} names {node.value!r}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in _ADAPTER_ARG:
                    given = [k.value for k in node.keywords if k.arg == "adapter_name"]
                    index = _ADAPTER_ARG[node.func.attr]
                    given += node.args[index : index + 1]
                    if any(isinstance(g, ast.Constant) and g.value in UPSTREAM_ADAPTERS for g in given):
                        offenders.append(f"{path.relative_to(REPO)}:{node.lineno} uses an upstream adapter")
    assert offenders == []


def test_runtime_code_always_names_its_adapter() -> None:
    """Every ``otio.adapters`` read/write in the runtime names its adapter: a suffix lookup depends
    on plugin load order."""
    offenders = []
    for path in _runtime_sources():
        rel = path.relative_to(REPO).as_posix()
        if rel in _SUFFIX_LOOKUP_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver = node.func.value
            on_adapters = isinstance(receiver, ast.Attribute) and receiver.attr == "adapters"
            if not on_adapters or node.func.attr not in _ADAPTER_ARG:
                continue
            named = any(k.arg == "adapter_name" for k in node.keywords) or len(node.args) > _ADAPTER_ARG[node.func.attr]
            if not named:
                offenders.append(f"{rel}:{node.lineno} otio.adapters.{node.func.attr} without an adapter name")
    assert offenders == []


@pytest.fixture
def entry_points_in_order(monkeypatch: pytest.MonkeyPatch):
    """Reload OTIO's manifest with the entry points in a chosen order (or a chosen subset)."""
    available = list(otio_manifest.plugin_entry_points())
    if not {e.name for e in available} >= set(m for m in UPSTREAM_MODULES):
        pytest.skip("the upstream OTIO adapters (test extra) are not installed")

    def load(order: list[str], manifest_path: str | None = None) -> otio_manifest.Manifest:
        chosen = [next(e for e in available if e.name == name) for name in order]
        monkeypatch.setattr(otio_manifest, "plugin_entry_points", lambda: chosen)
        if manifest_path is None:
            monkeypatch.delenv("OTIO_PLUGIN_MANIFEST_PATH", raising=False)
        else:
            monkeypatch.setenv("OTIO_PLUGIN_MANIFEST_PATH", manifest_path)
        return otio.plugins.ActiveManifest(force_reload=True)

    yield load
    monkeypatch.undo()
    otio.plugins.ActiveManifest(force_reload=True)


UPSTREAM_FIRST = [*UPSTREAM_MODULES, "otio_aaf_adapter", "montage_bridge"]


def _picks(manifest: otio_manifest.Manifest) -> dict[str, str]:
    return {suffix: manifest.from_filepath(suffix).name for suffix in ("fcpxml", "fcpxmld", "xml", "edl")}


def test_otio_gives_a_suffix_to_the_first_plugin_loaded(entry_points_in_order) -> None:
    """What OTIO does: with the upstream plugins discovered first, they win the shared suffixes."""
    assert _picks(entry_points_in_order(UPSTREAM_FIRST)) == {
        "fcpxml": "fcpx_xml",
        "fcpxmld": "mb_fcpxml",  # nobody else claims bundles
        "xml": "fcp_xml",
        "edl": "cmx_3600",
    }


def test_our_manifest_first_in_the_env_wins_whatever_the_order(entry_points_in_order) -> None:
    ours = {"fcpxml": "mb_fcpxml", "fcpxmld": "mb_fcpxml", "xml": "mb_xmeml", "edl": "mb_cmx3600"}
    assert _picks(entry_points_in_order(UPSTREAM_FIRST, str(MANIFEST_PATH))) == ours


def test_a_plain_install_picks_ours(entry_points_in_order) -> None:
    """Without the test extra only our plugin (and AAF) claims these suffixes."""
    manifest = entry_points_in_order(["otio_aaf_adapter", "montage_bridge"])
    assert _picks(manifest) == {"fcpxml": "mb_fcpxml", "fcpxmld": "mb_fcpxml", "xml": "mb_xmeml", "edl": "mb_cmx3600"}
    assert {a.name for a in manifest.adapters} >= set(ADAPTER_NAMES)


def test_project_readers_use_ours_even_when_upstream_loads_first(entry_points_in_order) -> None:
    """The repro: `resolve build cut.edl` read the EDL with upstream cmx_3600 (no rate), then failed
    with "no frame rate". Our readers are named, so the load order does not matter."""
    from montage_bridge.commands.resolve import load_timeline
    from nle_adapters.convert import read_timelines
    from resolve_bridge.timeline_builder import timeline_format

    entry_points_in_order(UPSTREAM_FIRST)
    edl = load_timeline(EDL, None)
    assert edl.metadata["montage_bridge"]["source_format"] == "cmx_3600"  # our reader's stamp
    rate, _drop, start, _w, _h = timeline_format(edl)
    assert rate == 24 and start == 86243
    for path in (FCPXML, EDL):
        _, (timeline,) = read_timelines(path)
        assert "montage_bridge" in timeline.metadata, path.name


def _otioconvert(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``otioconvert`` as a user runs it, from another directory (so the repo's egg-info does not
    change the plugin order), with our manifest first as nle_adapters.otio_plugins documents."""
    env = {**os.environ, "OTIO_PLUGIN_MANIFEST_PATH": str(MANIFEST_PATH)}
    tool = Path(sys.executable).parent / "otioconvert"
    return subprocess.run([str(tool), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("argument", "written"),
    [("version=1.10", "1.10"), ("version=1.11", "1.11"), ("version=1.9", "1.9"), ('version="1.10"', "1.10")],
)
def test_otioconvert_version_argument(tmp_path: Path, argument: str, written: str) -> None:
    """OTIO parses ``-A version=1.10`` as the float 1.1; it must still write 1.10."""
    out = tmp_path / "cut.fcpxml"
    result = _otioconvert("-i", str(OTIO_FIXTURE), "-o", str(out), "-A", argument, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f'<fcpxml version="{written}">' in out.read_text(encoding="utf-8")


def test_version_text_maps_floats_and_refuses_others() -> None:
    from nle_adapters.errors import UnsupportedFeature
    from nle_adapters.otio_plugins.mb_fcpxml import version_text

    assert [version_text(v) for v in (1.1, 1.11, 1.8, 1.9, "1.10", " 1.11 ")] == ["1.10", "1.11", "1.8", "1.9"] + [
        "1.10",
        "1.11",
    ]
    for bad in (1.2, 2, True, None):
        with pytest.raises(UnsupportedFeature):
            version_text(bad)


def _assert_bundle(bundle: Path) -> None:
    """A real bundle: a folder holding Info.fcpxml, no temp leftovers beside it, readable by our reader."""
    from nle_adapters.fcpxml.reader import read_fcpxml_file

    assert bundle.is_dir() and [p.name for p in bundle.iterdir()] == ["Info.fcpxml"]
    assert [p.name for p in bundle.parent.iterdir() if p.name.startswith(".")] == []
    assert '<fcpxml version="1.10">' in (bundle / "Info.fcpxml").read_text(encoding="utf-8")
    timeline = read_fcpxml_file(bundle)
    assert len(list(timeline.find_clips())) == len(
        list(otio.adapters.read_from_file(str(OTIO_FIXTURE), adapter_name="otio_json").find_clips())
    )


def test_otioconvert_writes_an_fcpxmld_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "cut.fcpxmld"
    result = _otioconvert("-i", str(OTIO_FIXTURE), "-o", str(bundle), "-A", "version=1.10", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _assert_bundle(bundle)


def test_convert_cli_writes_and_replaces_an_fcpxmld_bundle(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    bundle = tmp_path / "out" / "cut.fcpxmld"
    bundle.mkdir(parents=True)
    (bundle / "stale.txt").write_text("from an older export")  # replaced whole, not merged
    result = run_cli("convert", str(OTIO_FIXTURE), str(bundle))
    assert result.returncode == 0, result.stderr
    _assert_bundle(bundle)
    back = run_cli("convert", str(bundle), str(tmp_path / "again.otio"))
    assert back.returncode == 0, back.stderr


def test_a_file_where_a_bundle_goes_is_refused(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    (tmp_path / "cut.fcpxmld").write_text("not a folder")
    result = run_cli("convert", str(OTIO_FIXTURE), str(tmp_path / "cut.fcpxmld"))
    assert result.returncode == 2 and "is not a folder" in result.stderr
    assert (tmp_path / "cut.fcpxmld").read_text() == "not a folder"
