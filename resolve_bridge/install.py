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
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from analysis.atomic_io import write_text_atomic
from resolve_bridge.errors import ResolveError

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


def package_root() -> Path:
    """The folder holding ``resolve_bridge`` (site-packages, or the repo for an editable install)."""
    return Path(__file__).resolve().parents[1]


def install(
    folder: Path, *, uninstall: bool = False, python: str | None = None, root: Path | None = None
) -> InstallResult:
    """Write (or remove) the four entries in ``folder``; only files we wrote are ever removed."""
    result = InstallResult(folder=folder, written=[], removed=[])
    if uninstall:
        for title in ENTRIES:
            target = folder / f"{title}.py"
            if target.is_file() and "resolve_bridge.menu" in target.read_text(encoding="utf-8", errors="replace"):
                target.unlink()
                result.removed.append(target)
        return result
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for title in ENTRIES:
            target = folder / f"{title}.py"
            text = render_script(title, str(root or package_root()), python or sys.executable)
            write_text_atomic(target, text)
            result.written.append(target)
    except PermissionError as exc:
        raise InstallError(
            f"cannot write to {folder} ({exc.strerror}) — for --all-users run as administrator (sudo), "
            "or install for this user only"
        ) from exc
    except OSError as exc:
        raise InstallError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    return result
