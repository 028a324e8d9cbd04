"""Every Resolve method the bridge calls (and every one the fake offers) is in Blackmagic's README.

The README copy is tests/data/resolve/resolve_scripting_api_21.txt (see tests/data/SOURCES.md).
Calls are found statically: a call ``x.Name(...)`` with a CamelCase name on anything that is not
an imported module (``otio.schema.Clip(...)`` is a library class, not a Resolve method).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from resolve_bridge import fake
from resolve_bridge.menu import EXPORTS

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "tests" / "data" / "resolve" / "resolve_scripting_api_21.txt").read_text(encoding="utf-8")
# Fusion's UIManager (documented in Blackmagic's Workflow Integrations README, not this one) and
# the Fusion-side app.GetResolve(); the menu dialog and the connection order use them.
FUSION_UI = {"UIDispatcher", "AddWindow", "VGroup", "Label", "Button", "Show", "Hide", "RunLoop", "ExitLoop"}
FUSION_APP = {"GetResolve"}
# Resolve 21.1's additions: not in the 21.0.4 README we hold; shapes from davinci-resolve-mcp's
# contributor-validated notes on Studio 21.1.0.14 (docs/reference/resolve211-native-transitions.md,
# resolve211-speed-fades.md). The bridge calls them only when dir() lists them.
RESOLVE_21_1 = {"AddTransition", "SetSpeed", "SetFades", "GetFades"}
BRIDGE_FILES = sorted(p for p in (REPO / "resolve_bridge").glob("*.py") if p.is_file())


def documented(name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\(", README) is not None


def resolve_calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules |= {a.asname or a.name for a in node.names}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr[:1].isupper():
            base = node.func.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules:
                continue
            found.add(node.func.attr)
    return found


def test_the_scan_finds_the_calls_we_know_about() -> None:
    calls = set().union(*(resolve_calls(p) for p in BRIDGE_FILES))
    assert {"AppendToTimeline", "ImportTimelineFromFile", "GetClipProperty", "AddMarker", "Export"} <= calls
    assert "Clip" not in calls and "ExtensionFileLoader" not in calls  # library classes are not Resolve calls


@pytest.mark.parametrize("path", BRIDGE_FILES, ids=lambda p: p.name)
def test_every_resolve_method_the_bridge_calls_is_documented(path: Path) -> None:
    missing = sorted(n for n in resolve_calls(path) - FUSION_UI - FUSION_APP - RESOLVE_21_1 if not documented(n))
    assert missing == [], f"{path.name} calls methods the Resolve README does not document: {missing}"


def test_export_constants_we_read_are_documented() -> None:
    for _, constant, subtype, _ in EXPORTS:
        assert f"resolve.{constant}" in README
        if subtype:
            assert f"resolve.{subtype}" in README


def test_every_method_the_fake_offers_is_documented() -> None:
    classes = [
        fake.FakeResolve,
        fake.FakeProjectManager,
        fake.FakeProject,
        fake.FakeMediaStorage,
        fake.FakeMediaPool,
        fake.FakeFolder,
        fake.FakeMediaPoolItem,
        fake.FakeTimeline,
        fake.FakeTimelineItem,
        fake.objects.FakeTransitionItem,
    ]
    offered = {n for cls in classes for n in dir(cls) if n[:1].isupper() and callable(getattr(cls, n))}
    assert len(offered) > 100
    assert sorted(n for n in offered - RESOLVE_21_1 if not documented(n)) == []
    assert RESOLVE_21_1 <= offered
