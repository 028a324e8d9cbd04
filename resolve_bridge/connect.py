"""Connect to DaVinci Resolve: menu-script globals first, then external ``DaVinciResolveScript``.

Order (research/resolve_api.md §1): the ``resolve`` global a Workspace ▸ Scripts script is
handed → ``app.GetResolve()`` → ``bmd.scriptapp("Resolve")`` → the external module, found via
``RESOLVE_SCRIPT_API``/``RESOLVE_SCRIPT_LIB`` or the per-OS default install paths.
``scriptapp`` answers None (never raises) when it cannot connect, so a failure is diagnosed here:
not running, free edition / external scripting off, or a Python the library cannot load — and
the message says how to fix it.

``MONTAGE_RESOLVE=fake`` (or ``fake:MEDIA_DIR``) connects to the in-process fake instead, for
tests and demos; ``MONTAGE_RESOLVE_PROFILE`` picks its build (``studio-21``, ``free-19``, ``18.0``…)
and ``MONTAGE_RESOLVE_DROP=a.mov,b.mov`` makes it silently drop those clips when appending, to
see the verification report what Resolve lost. ``MONTAGE_RESOLVE_DB=FILE`` keeps the fake's
projects in FILE across processes (loaded at connect, written by ``SaveProject``; see
``fake.store``), and ``MONTAGE_RESOLVE_DOWN=1`` makes it act as a Resolve that is not running, so
the connection fails the way the real one does.

Standard library only, so the Scripts-menu entries can use it inside Resolve's Python.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resolve_bridge.capabilities import Capabilities
from resolve_bridge.errors import ResolveConnectionError

FAKE_ENV = "MONTAGE_RESOLVE"
FAKE_PROFILE_ENV = "MONTAGE_RESOLVE_PROFILE"
FAKE_DROP_ENV = "MONTAGE_RESOLVE_DROP"
FAKE_DB_ENV = "MONTAGE_RESOLVE_DB"
FAKE_DOWN_ENV = "MONTAGE_RESOLVE_DOWN"

# Blackmagic's documented defaults (README "Using a script"), plus the known other lib places.
DEFAULT_API = {
    "darwin": ["/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/Scripting"],
    "win32": [r"%PROGRAMDATA%\Blackmagic Design\DaVinci Resolve\Support\Developer\Scripting"],
    "linux": ["/opt/resolve/Developer/Scripting", "/home/resolve/Developer/Scripting"],
}
DEFAULT_LIB = {
    "darwin": [
        "/Applications/DaVinci Resolve/DaVinci Resolve.app/Contents/Libraries/Fusion/fusionscript.so",
        "/Applications/DaVinci Resolve.app/Contents/Libraries/Fusion/fusionscript.so",
    ],
    "win32": [r"C:\Program Files\Blackmagic Design\DaVinci Resolve\fusionscript.dll"],
    "linux": [
        "/opt/resolve/libs/Fusion/fusionscript.so",
        "/home/resolve/libs/Fusion/fusionscript.so",
        "/opt/resolve/libs/fusionscript.so",
        "/opt/resolve/bin/fusionscript.so",
    ],
}


def _platform() -> str:
    return "win32" if sys.platform.startswith("win") else "darwin" if sys.platform == "darwin" else "linux"


@dataclass
class Connection:
    """A live Resolve object, how we got it, and what the build can do."""

    resolve: Any
    mode: str  # "menu", "external" or "fake"
    capabilities: Capabilities


def _from_globals(script_globals: Mapping[str, Any]) -> Any:
    resolve = script_globals.get("resolve")
    if resolve:
        return resolve
    app = script_globals.get("app")
    if app is not None and callable(getattr(app, "GetResolve", None)):
        resolve = app.GetResolve()
        if resolve:
            return resolve
    bmd = script_globals.get("bmd")
    if bmd is not None and callable(getattr(bmd, "scriptapp", None)):
        resolve = bmd.scriptapp("Resolve")
        if resolve:
            return resolve
    return None


def candidate_paths(env: Mapping[str, str] | None = None, platform: str | None = None) -> tuple[list[str], list[str]]:
    """Where to look for ``Modules/DaVinciResolveScript.py`` and ``fusionscript``: env vars first."""
    env = os.environ if env is None else env
    platform = platform or _platform()
    apis = [env["RESOLVE_SCRIPT_API"]] if env.get("RESOLVE_SCRIPT_API") else []
    libs = [env["RESOLVE_SCRIPT_LIB"]] if env.get("RESOLVE_SCRIPT_LIB") else []
    programdata = env.get("PROGRAMDATA", r"C:\ProgramData")
    apis += [p.replace("%PROGRAMDATA%", programdata) for p in DEFAULT_API[platform]]
    libs += DEFAULT_LIB[platform]
    return apis, libs


def load_script_module(env: Mapping[str, str] | None = None) -> Any:
    """Import ``DaVinciResolveScript`` (or load ``fusionscript`` directly), or raise a diagnosed error."""
    try:
        return importlib.import_module("DaVinciResolveScript")
    except ImportError as first:
        error: BaseException = first
    apis, libs = candidate_paths(env)
    for api in apis:
        modules = Path(api) / "Modules"
        if (modules / "DaVinciResolveScript.py").is_file():
            sys.path.insert(0, str(modules))
            try:
                return importlib.import_module("DaVinciResolveScript")
            except (ImportError, OSError) as exc:  # the shim could not load fusionscript
                error = exc
            finally:
                sys.path.remove(str(modules))
    for lib in libs:
        if os.path.isfile(lib):
            # What pybmd and Blackmagic's newer shim do: load the native module directly.
            try:
                loader = importlib.machinery.ExtensionFileLoader("fusionscript", lib)
                spec = importlib.util.spec_from_file_location("fusionscript", lib, loader=loader)
                if spec is None:
                    raise ImportError(f"cannot load {lib}")
                module = importlib.util.module_from_spec(spec)
                loader.exec_module(module)
                return module
            except (ImportError, OSError) as exc:
                raise ResolveConnectionError(
                    "python_mismatch",
                    f"Resolve's scripting library {lib} cannot be loaded by Python "
                    f"{sys.version.split()[0]} ({exc}) — run the bridge with a 64-bit Python 3.10–3.12 "
                    "(the version Resolve supports), or upgrade Resolve",
                ) from exc
    if isinstance(error, ImportError) and "imp" in str(error) and sys.version_info >= (3, 12):
        raise ResolveConnectionError(
            "python_mismatch",
            f"Resolve's DaVinciResolveScript.py uses the 'imp' module, removed in Python {sys.version.split()[0]} — "
            "use Python 3.10 or 3.11, or a newer Resolve whose module uses importlib",
        )
    raise ResolveConnectionError(
        "not_installed",
        "DaVinci Resolve's scripting module was not found (looked in "
        f"{', '.join(apis[:2])} and {libs[0]}) — install DaVinci Resolve Studio, or set RESOLVE_SCRIPT_API "
        "and RESOLVE_SCRIPT_LIB to its Developer/Scripting folder and fusionscript library",
    )


def resolve_is_running() -> bool | None:
    """Whether a Resolve process is running (None when we cannot tell on this OS)."""
    try:
        if _platform() == "win32":
            out = subprocess.run(["tasklist"], capture_output=True, text=True, timeout=10).stdout
            return "Resolve.exe" in out
        if _platform() == "darwin":
            return subprocess.run(["pgrep", "-x", "Resolve"], capture_output=True, timeout=10).returncode == 0
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if (proc / "comm").read_text().strip() == "resolve":
                        return True
                except OSError:
                    continue
        return False
    except (OSError, subprocess.SubprocessError):
        return None


def diagnose_refusal(running: bool | None) -> ResolveConnectionError:
    """Why ``scriptapp("Resolve")`` answered None, as one actionable line."""
    if running is False:
        return ResolveConnectionError(
            "not_running", "DaVinci Resolve is not running — start it (and open a project), then run again"
        )
    python = sys.version.split()[0]
    too_new = sys.version_info >= (3, 13)
    return ResolveConnectionError(
        "refused",
        "DaVinci Resolve did not accept the connection: external scripting needs DaVinci Resolve Studio "
        "(on the free edition use Workspace ▸ Scripts ▸ Montage Bridge, installed with `montage-bridge resolve "
        "install`), and Preferences ▸ System ▸ General ▸ 'External scripting using' must be Local"
        + (f"; Python {python} may also be too new for this Resolve — try 3.10–3.12" if too_new else ""),
    )


def connect_external(
    module: Any | None = None,
    *,
    host: str | None = None,
    is_running: Callable[[], bool | None] = resolve_is_running,
) -> Any:
    """The Resolve object from a separate process, or a :class:`ResolveConnectionError`."""
    module = module if module is not None else load_script_module()
    scriptapp = getattr(module, "scriptapp", None)
    if not callable(scriptapp):
        raise ResolveConnectionError(
            "python_mismatch",
            "the DaVinciResolveScript module has no scriptapp() — the Resolve library did not load into this Python",
        )
    resolve = scriptapp("Resolve", host) if host else scriptapp("Resolve")
    if not resolve:
        raise diagnose_refusal(is_running())
    return resolve


def fake_from_env(value: str) -> Any:
    """``fake`` or ``fake:MEDIA_DIR`` → a FakeResolve (media under MEDIA_DIR imported into bin 'Footage')."""
    from resolve_bridge.fake import FakeResolve, FakeSwitches

    profile = os.environ.get(FAKE_PROFILE_ENV, "studio-21")
    drop = {n.strip() for n in os.environ.get(FAKE_DROP_ENV, "").split(",") if n.strip()}
    try:
        fake = FakeResolve.from_name(profile, switches=FakeSwitches(drop_clip_names=drop))
    except ValueError as exc:
        raise ResolveConnectionError("bad_fake", f"{FAKE_PROFILE_ENV}={profile}: {exc}") from exc
    db = os.environ.get(FAKE_DB_ENV, "")
    if db:
        fake.use_database(db)
    if os.environ.get(FAKE_DOWN_ENV, "") not in ("", "0"):
        fake.switches.not_running = True
    _, _, media_dir = value.partition(":")
    if media_dir:
        if not Path(media_dir).is_dir():
            raise ResolveConnectionError("bad_fake", f"{FAKE_ENV}={value}: {media_dir} is not a folder")
        fake.import_folder(media_dir, "Footage")
        pool = fake.media_pool
        pool.SetCurrentFolder(pool.GetRootFolder().GetSubFolderList()[0])
    return fake


def connect(script_globals: Mapping[str, Any] | None = None, *, host: str | None = None) -> Connection:
    """Connect by the documented order; raises :class:`ResolveConnectionError` saying why and how to fix."""
    if script_globals:
        resolve = _from_globals(script_globals)
        if resolve:
            return Connection(resolve, "menu", Capabilities.of(resolve))
    env_value = os.environ.get(FAKE_ENV, "")
    if env_value == "fake" or env_value.startswith("fake:"):
        fake = fake_from_env(env_value)
        if fake.switches.not_running:
            # Through the same scriptapp → None → diagnosis path a real, stopped Resolve takes.
            connect_external(fake.module(), is_running=lambda: False)
        return Connection(fake, "fake", Capabilities.of(fake))
    resolve = connect_external(host=host)
    caps = Capabilities.of(resolve)
    return Connection(resolve, "external", caps)
