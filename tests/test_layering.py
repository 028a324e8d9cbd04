"""The folder layout tells the architecture: imports point one way (DESIGN.md's layout table).

Read from the sources with ``ast`` (nothing is imported), so a lazy import inside a function counts
as much as one at the top of a module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each package and the project packages it may import. ``kernel`` is the bottom layer; ``gpu_remote``
# stands beside the editing layers and shares only the kernel with them.
ALLOWED: dict[str, set[str]] = {
    "kernel": set(),
    "analysis": {"kernel"},
    "planner": {"kernel", "analysis"},
    "nle_adapters": {"kernel", "analysis", "planner"},
    "reframe": {"kernel", "analysis", "planner", "nle_adapters"},
    "render": {"kernel", "analysis", "planner", "nle_adapters", "reframe"},
    "proxies": {"kernel", "analysis", "planner", "nle_adapters"},
    "resolve_bridge": {"kernel", "analysis", "planner", "nle_adapters", "reframe", "proxies"},
    "gpu_remote": {"kernel"},
    # The app and its web face are one layer: the dashboard reads the daemon's journal, and the
    # CLI starts the dashboard and draws its edit pictures.
    "dashboard": set(),
    "montage_bridge": set(),
}
PACKAGES = set(ALLOWED)
ALLOWED["montage_bridge"] = PACKAGES - {"montage_bridge"}
ALLOWED["dashboard"] = PACKAGES - {"dashboard"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & PACKAGES


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_imports_point_one_way(package: str) -> None:
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for imported in sorted(_imports(path) - ALLOWED[package] - {package}):
            wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not wrong, "imports against DESIGN.md's layout:\n" + "\n".join(wrong)
