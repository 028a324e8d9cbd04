"""The fake Resolve inside a real Lua interpreter (lupa's LuaJIT 2.1), the way Resolve exposes itself to Lua.

Resolve's Lua API passes "lists" as 1-based tables and "dicts" as keyed tables (README "Using the
API from Lua"), objects are called with ``obj:Method(...)``, and numbers are Lua numbers. Here
every fake object reaches Lua wrapped so that a method's Python result becomes tables (recursively)
and Lua tables passed in become Python lists/dicts, integral numbers becoming ints (Lua 5.1 has
only doubles; the API takes frame numbers). Constants (``resolve.EXPORT_OTIO``) are plain
attribute reads. The script sees ``resolve``, ``Resolve()``, ``bmd.scriptapp`` and ``app:GetResolve()``,
like a Workspace ▸ Scripts entry; ``fu``/``fusion`` (the UIManager) only when the test gives one.

Needs ``lupa`` (the ``test`` extra); imported by tests only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from resolve_bridge.fake.objects import FakeResolve, _Remote


class LuaUnavailable(RuntimeError):
    """lupa is not installed: the Lua launchers cannot be run here."""


def _lupa() -> Any:
    """lupa's LuaJIT 2.1 — the engine Fusion/Resolve embed (Lua 5.1 language, ``io.popen`` built in);
    lupa's plain Lua 5.1 is built without ``io.popen``, which the launchers need."""
    try:
        from lupa import luajit21
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise LuaUnavailable("lupa with LuaJIT is not installed (pip install 'montage-bridge[test]')") from exc
    return luajit21


class LuaResolveHost:
    """One Lua 5.1 runtime with ``fake`` exposed as Resolve exposes itself to a menu script."""

    def __init__(self, fake: FakeResolve, *, extra_globals: dict[str, Any] | None = None) -> None:
        lua = _lupa()
        self.fake = fake
        self.runtime = lua.LuaRuntime(
            unpack_returned_tuples=True, register_eval=False, attribute_handlers=(self._get, self._set)
        )
        self._table_type = type(self.runtime.table())
        g = self.runtime.globals()
        g.resolve = fake
        g.Resolve = lambda *_: fake
        g.bmd = self.runtime.table_from({"scriptapp": lambda name, *_: fake if name == "Resolve" else None})
        g.app = self.runtime.table_from({"GetResolve": lambda *_: fake})
        for name, value in (extra_globals or {}).items():
            g[name] = value

    # -- conversions
    def to_lua(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return self.runtime.table_from([self.to_lua(v) for v in value])
        if isinstance(value, dict):
            return self.runtime.table_from({k: self.to_lua(v) for k, v in value.items()})
        return value

    def from_lua(self, value: Any) -> Any:
        if isinstance(value, self._table_type):
            keys = list(value.keys())
            if (
                keys
                and all(isinstance(k, (int, float)) for k in keys)
                and sorted(keys) == list(range(1, len(keys) + 1))
            ):
                return [self.from_lua(value[k]) for k in range(1, len(keys) + 1)]
            if not keys:
                return {}
            return {k: self.from_lua(v) for k, v in value.items()}
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    # -- attribute access from Lua on Python objects
    def _get(self, obj: Any, name: Any) -> Any:
        if not isinstance(obj, _Remote):
            return getattr(obj, name) if isinstance(name, str) else obj[name]
        value = getattr(obj, str(name))
        if not callable(value):
            return value
        return self._method(obj, value)

    def _set(self, obj: Any, name: Any, value: Any) -> None:
        raise AttributeError(f"Resolve objects are read-only from Lua ({name})")

    def _method(self, obj: Any, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            if args and args[0] is obj:  # obj:Method(...) passes obj first
                args = args[1:]
            return self.to_lua(method(*(self.from_lua(a) for a in args)))

        return call

    # -- running
    def run_file(self, path: Path) -> Any:
        """Run a Lua file as Resolve runs a menu script; returns the global ``MB_RESULT`` it leaves."""
        loaded = self.runtime.execute(f"return loadfile({_lua_quote(str(path))})")
        if not callable(loaded):  # (nil, message): a syntax error, reported by Lua itself
            message = loaded[1] if isinstance(loaded, tuple) else loaded
            raise RuntimeError(f"Lua could not load {path}: {message}")
        loaded()
        return self.runtime.globals().MB_RESULT


def _lua_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
