"""Install the Workspace ▸ Scripts entries into Resolve's per-OS Scripts/Utility folder.

Folders (Blackmagic's README "Using a script"; the README's Windows per-user path says
``%APPDATA%\\Roaming\\…`` but ``%APPDATA%`` already ends in Roaming — resolve_api.md §1.1):

- macOS: ~/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts;
  all users: /Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts
- Windows: %APPDATA%\\Blackmagic Design\\DaVinci Resolve\\Support\\Fusion\\Scripts;
  all users: %PROGRAMDATA%\\Blackmagic Design\\DaVinci Resolve\\Fusion\\Scripts
- Linux: ~/.local/share/DaVinciResolve/Fusion/Scripts;
  all users: /opt/resolve/Fusion/Scripts (or /home/resolve/Fusion/Scripts on ISO installs)

Each entry is rendered from one template with the package's location and this environment's
Python filled in, so the script finds the package from Resolve's own interpreter and can run the
heavy work in this environment. The copies in scripts/resolve/Utility/ are the same template
with the paths left empty (a test keeps them identical).

Every entry also exists in Lua (``lua_launcher``): Resolve 21.1 runs Python menu scripts only in
Studio, while Lua still lists on the free edition. Which ones are installed (:func:`choose_launchers`):
free 21.1 or later → Lua only (the Python files would not show; ours are removed); Studio, or a
free build before 21.1 → Python (in-process, the fuller path) plus the Lua ones titled "… (Lua)";
an edition or version we cannot tell → both, and the installer says so.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kernel.atomic_io import write_text_atomic
from resolve_bridge.capabilities import FREE_PYTHON_REMOVED
from resolve_bridge.errors import ResolveError
from resolve_bridge.lua_launcher import default_command, render_lua

# file title → (menu action, one-line description)
ENTRIES: dict[str, tuple[str, str]] = {
    "Montage Bridge - Auto Edit selected bin": (
        "auto_edit",
        "cut the current bin's footage to the music in it and build the timeline",
    ),
    "Montage Bridge - Analyze media pool": ("analyze", "add shot-cut and beat markers to the current bin's clips"),
    "Montage Bridge - Export current timeline": (
        "export",
        "export the current timeline as OTIO, FCPXML, FCP 7 XML and EDL",
    ),
    "Montage Bridge - Send selected clips to GPU worker": ("gpu", "send the selected clips to the remote GPU worker"),
}

TEMPLATE = '''"""Montage Bridge: {description}.

A DaVinci Resolve Workspace ▸ Scripts entry. Installed by `montage-bridge resolve install`, which
fills in the two paths below; all the logic lives in resolve_bridge/menu.py.
"""

import sys

PACKAGE_ROOT = {package_root}  # folder that holds the resolve_bridge package (set by the installer)
PYTHON = {python}  # the Python environment montage-bridge is installed in (set by the installer)

if PACKAGE_ROOT and PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)
try:
    from resolve_bridge.menu import run_menu
except Exception as exc:  # Resolve's Console is the only place the user sees this
    print(f"[Montage Bridge] cannot load the montage-bridge package ({{exc}}) - run")
    print("[Montage Bridge] 'montage-bridge resolve install' from the environment where it is installed")
else:
    run_menu("{action}", globals(), python=PYTHON)
'''


class InstallError(ResolveError):
    """The Scripts folder cannot be written (permissions, missing Resolve install for all users)."""


def render_script(title: str, package_root: str | None = None, python: str | None = None) -> str:
    """The text of menu entry ``title`` with the paths filled in (``None`` → left empty)."""
    action, description = ENTRIES[title]
    return TEMPLATE.format(
        description=description,
        action=action,
        package_root="None" if package_root is None else repr(str(package_root)),
        python="None" if python is None else repr(str(python)),
    )


def platform_name(platform: str | None = None) -> str:
    value = platform or sys.platform
    if value.startswith("win"):
        return "windows"
    if value in ("darwin", "macos", "mac"):
        return "macos"
    return "linux"


def scripts_dir(
    platform: str | None = None,
    *,
    all_users: bool = False,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> Path:
    """Resolve's ``Fusion/Scripts/Utility`` folder for this OS. ``root`` prefixes system paths (tests)."""
    env = os.environ if env is None else env
    home = home or Path.home()
    base = root or Path("/")
    name = platform_name(platform)
    if name == "macos":
        support = Path("Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts")
        folder = (base / support) if all_users else (home / support)
    elif name == "windows":
        if all_users:
            programdata = env.get("PROGRAMDATA") or r"C:\ProgramData"
            folder = Path(programdata) / "Blackmagic Design" / "DaVinci Resolve" / "Fusion" / "Scripts"
        else:
            appdata = env.get("APPDATA") or str(home / "AppData" / "Roaming")
            folder = Path(appdata) / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion" / "Scripts"
    elif all_users:
        opt, home_resolve = base / "opt/resolve", base / "home/resolve"
        folder = (home_resolve if not opt.exists() and home_resolve.exists() else opt) / "Fusion" / "Scripts"
    else:
        folder = home / ".local" / "share" / "DaVinciResolve" / "Fusion" / "Scripts"
    return folder / "Utility"


@dataclass
class InstallResult:
    folder: Path
    written: list[Path]
    removed: list[Path]
    reasons: list[str] = field(default_factory=list)
    """Why these launchers (edition/version found, or not), one line each, for the user."""


@dataclass(frozen=True)
class ResolveInstall:
    """What the installer could learn about the user's Resolve: ``studio`` None = unknown edition."""

    studio: bool | None
    version: tuple[int, ...]
    source: str

    @property
    def label(self) -> str:
        edition = {True: "Studio", False: "free", None: "edition unknown"}[self.studio]
        version = ".".join(str(v) for v in self.version) or "version unknown"
        return f"DaVinci Resolve ({edition}, {version}) — from {self.source}"


def detect_resolve(platform: str | None = None, *, root: Path | None = None) -> ResolveInstall:
    """Edition and version of the user's Resolve, where it can be told without guessing.

    A running Resolve that answers external scripting (Studio, or ``MONTAGE_RESOLVE=fake``) says
    both exactly. Otherwise macOS app bundles carry their version and name in ``Info.plist``
    (the Studio bundle is named "DaVinci Resolve Studio"); Windows and Linux installs carry no
    edition marker we know of, so those stay unknown.
    """
    try:
        from resolve_bridge.connect import connect

        caps = connect().capabilities
        return ResolveInstall(caps.studio, caps.version, "the running Resolve")
    except Exception:  # not running, free edition (no external scripting), no scripting module…
        pass
    if platform_name(platform) == "macos":
        import plistlib

        base = root or Path("/")
        for app in ("Applications/DaVinci Resolve/DaVinci Resolve.app", "Applications/DaVinci Resolve.app"):
            plist = base / app / "Contents" / "Info.plist"
            try:
                info = plistlib.loads(plist.read_bytes())
            except (OSError, plistlib.InvalidFileException, ValueError):
                continue
            from resolve_bridge.lua_launcher import parse_version

            name = str(info.get("CFBundleName") or info.get("CFBundleDisplayName") or "")
            version = parse_version(str(info.get("CFBundleShortVersionString") or ""))
            return ResolveInstall("studio" in name.lower() if name else None, version, str(plist))
    return ResolveInstall(None, (), "nothing we could read (Resolve not running with external scripting on)")


def choose_launchers(found: ResolveInstall, wanted: str = "auto") -> tuple[bool, bool, list[str]]:
    """(install Python entries, install Lua entries, reasons) — see the module docstring."""
    if wanted == "lua":
        return False, True, ["Lua entries only, as asked (--launchers lua)"]
    if wanted == "python":
        return True, False, ["Python entries only, as asked (--launchers python)"]
    if wanted == "both":
        return True, True, ["Python and Lua entries, as asked (--launchers both)"]
    if found.studio is False and found.version >= FREE_PYTHON_REMOVED:
        return False, True, [f"found {found.label}: free 21.1+ lists only Lua scripts, so Lua entries only"]
    if found.studio is True or (found.studio is False and found.version):
        return True, True, [f"found {found.label}: Python entries (analysis in Resolve's Python when it can), plus Lua"]
    return (
        True,
        True,
        [
            f"found {found.label}: installing Python and Lua entries — on free Resolve 21.1+ only the "
            "'(Lua)' ones appear (pass --launchers lua to install those alone)"
        ],
    )


def package_root() -> Path:
    """The folder holding ``resolve_bridge`` (site-packages, or the repo for an editable install)."""
    return Path(__file__).resolve().parents[1]


def _ours(path: Path, marker: str) -> bool:
    return path.is_file() and marker in path.read_text(encoding="utf-8", errors="replace")


def install(
    folder: Path,
    *,
    uninstall: bool = False,
    python: str | None = None,
    root: Path | None = None,
    found: ResolveInstall | None = None,
    launchers: str = "auto",
    command: list[str] | None = None,
) -> InstallResult:
    """Write (or remove) the entries in ``folder``; only files we wrote are ever removed.

    ``found`` (default: :func:`detect_resolve`) and ``launchers`` (auto, lua, python, both) pick
    the Python and/or Lua entries; ``command`` is the CLI argv the Lua entries run.
    """
    result = InstallResult(folder=folder, written=[], removed=[])
    py_marker, lua_marker = "resolve_bridge.menu", "resolve_bridge/lua_template.py"
    lua_names = [f"{t}.lua" for t in ENTRIES] + [f"{t} (Lua).lua" for t in ENTRIES]
    if uninstall:
        for name in [f"{t}.py" for t in ENTRIES] + lua_names:
            target = folder / name
            if _ours(target, py_marker if name.endswith(".py") else lua_marker):
                target.unlink()
                result.removed.append(target)
        return result
    want_python, want_lua, result.reasons = choose_launchers(found or detect_resolve(), launchers)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for title, (action, description) in ENTRIES.items():
            py_target = folder / f"{title}.py"
            if want_python:
                text = render_script(title, str(root or package_root()), python or sys.executable)
                write_text_atomic(py_target, text)
                result.written.append(py_target)
            elif _ours(py_target, py_marker):
                py_target.unlink()  # it would not show on this edition; leave no dead entry behind
                result.removed.append(py_target)
            # Beside Python entries the Lua ones get a suffix, so the menu never shows a title twice.
            lua_title = f"{title} (Lua)" if want_python else title
            for name in lua_names:
                stale = folder / name
                mine = name.startswith(f"{title}.") or name.startswith(f"{title} (")
                if mine and (not want_lua or name != f"{lua_title}.lua"):
                    if _ours(stale, lua_marker):
                        stale.unlink()
                        result.removed.append(stale)
            if want_lua:
                lua_target = folder / f"{lua_title}.lua"
                write_text_atomic(lua_target, render_lua(title, action, description, command or default_command()))
                result.written.append(lua_target)
    except PermissionError as exc:
        raise InstallError(
            f"cannot write to {folder} ({exc.strerror}) — for --all-users run as administrator (sudo), "
            "or install for this user only"
        ) from exc
    except OSError as exc:
        raise InstallError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    return result
