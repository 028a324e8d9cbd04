"""The fake Resolve is test infrastructure: no production module imports it, and it has no import cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = ("analysis", "planner", "nle_adapters", "resolve_bridge", "gpu_remote", "montage_bridge")
# The one sanctioned use: MONTAGE_RESOLVE=fake picks the fake at connect time (a demo/test switch),
# imported inside that function only, so importing connect never loads the fake.
ALLOWED = {("resolve_bridge/connect.py", "fake_from_env")}


def _imports(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out += [(node, node.module)] + [(node, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(node, a.name) for a in node.names]
    return out


def _enclosing_functions(tree: ast.AST) -> dict[ast.AST, str]:
    owner: dict[ast.AST, str] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                owner.setdefault(node, fn.name)
    return owner


def test_no_production_module_imports_the_fake() -> None:
    offenders = []
    for package in PRODUCTION:
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel.startswith("resolve_bridge/fake/"):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            owner = _enclosing_functions(tree)
            for node, name in _imports(tree):
                if name.startswith(("resolve_bridge.fake", "resolve_bridge.fake_")):
                    if (rel, owner.get(node)) not in ALLOWED:
                        offenders.append(f"{rel}:{node.lineno} imports {name}")
    assert offenders == []


def test_importing_the_bridge_does_not_load_the_fake() -> None:
    code = (
        "import sys\n"
        "import resolve_bridge.timeline_builder, resolve_bridge.apply, resolve_bridge.menu, resolve_bridge.connect\n"
        "import resolve_bridge.install, resolve_bridge.lua_launcher, montage_bridge.commands.resolve\n"
        "print(sorted(m for m in sys.modules if m.startswith('resolve_bridge.fake')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_fake_package_has_no_module_level_import_cycle() -> None:
    folder = REPO / "resolve_bridge" / "fake"
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        name = f"resolve_bridge.fake.{path.stem}" if path.stem != "__init__" else "resolve_bridge.fake"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]  # module level only
        graph[name] = {
            m for _, m in _imports(ast.Module(body=top, type_ignores=[])) if m.startswith("resolve_bridge.fake.")
        } - {name}
    graph = {k: {d for d in v if d in graph} for k, v in graph.items()}
    seen: set[str] = set()

    def visit(node: str, stack: tuple[str, ...]) -> None:
        assert node not in stack, " -> ".join((*stack, node))
        if node in seen:
            return
        for dep in graph.get(node, ()):
            visit(dep, (*stack, node))
        seen.add(node)

    for node in graph:
        visit(node, ())
    assert "resolve_bridge.fake.objects" in graph and len(graph) >= 5


def test_the_fake_loads_in_a_bare_python() -> None:
    # Resolve's own interpreter has none of our dependencies; the menu tests drive the fake from one.
    code = "import resolve_bridge.fake as f; r = f.FakeResolve('21.1'); print(r.GetVersionString())"
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "21.1.0.8"
