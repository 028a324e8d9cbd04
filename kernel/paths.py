"""Where Montage Bridge keeps its per-user files: one module, each OS's own conventions.

Every folder the app writes outside the user's project comes from here (through ``platformdirs``),
so Linux follows the XDG base directories (``$XDG_CONFIG_HOME``, ``$XDG_CACHE_HOME``,
``$XDG_STATE_HOME``, ``$XDG_DATA_HOME``, with their ``~/.config``-style defaults), macOS uses
``~/Library/...`` and Windows ``%LOCALAPPDATA%``. The ``MONTAGE_*`` variables that name one folder
outright (``MONTAGE_CACHE_DIR``, ``MONTAGE_GPU_STATE``, ``MONTAGE_BRIDGE_STYLES``,
``MONTAGE_BRIDGE_EXPORT_DIR``) are read by the modules that own those folders and win over these.

| folder | Linux default | used for |
|---|---|---|
| ``config_dir()`` | ``~/.config/montage-bridge`` | user styles (``styles/``) |
| ``cache_dir()`` | ``~/.cache/montage-bridge`` | the analysis cache (safe to delete) |
| ``state_dir()`` | ``~/.local/state/montage-bridge`` | GPU client ledger (``gpu/``), Resolve import files |
| ``data_dir()`` | ``~/.local/share/montage-bridge`` | the GPU worker's job store and blobs (``worker/``) |
| ``log_dir()`` | ``~/.local/state/montage-bridge/log`` | logs |
| ``exports_dir()`` | ``~/Montage Bridge Exports`` | the Resolve menu's "Export timeline" (as the Lua launchers) |

Functions, not constants: the environment is read on every call, so tests (and a user who changes
``XDG_*`` between runs) see the folders they set.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platformdirs import PlatformDirs

APP = "montage-bridge"


def _dirs() -> PlatformDirs:
    # Imported here: resolve_bridge/menu.py imports this module inside Resolve's own Python, which
    # has no third-party packages (and needs only exports_dir()).
    from platformdirs import PlatformDirs

    # appauthor=False: no vendor folder level on Windows (%LOCALAPPDATA%\montage-bridge).
    return PlatformDirs(APP, appauthor=False)


def config_dir() -> Path:
    """User configuration (styles): ``$XDG_CONFIG_HOME/montage-bridge`` on Linux."""
    return Path(_dirs().user_config_dir)


def cache_dir() -> Path:
    """Re-creatable data (the analysis cache): ``$XDG_CACHE_HOME/montage-bridge`` on Linux."""
    return Path(_dirs().user_cache_dir)


def state_dir() -> Path:
    """State kept between runs but not worth backing up: ``$XDG_STATE_HOME/montage-bridge`` on Linux."""
    return Path(_dirs().user_state_dir)


def data_dir() -> Path:
    """Data the app owns (the GPU worker's store): ``$XDG_DATA_HOME/montage-bridge`` on Linux."""
    return Path(_dirs().user_data_dir)


def log_dir() -> Path:
    """Log files: ``$XDG_STATE_HOME/montage-bridge/log`` on Linux, ``~/Library/Logs/montage-bridge`` on macOS."""
    return Path(_dirs().user_log_dir)


def exports_dir() -> Path:
    """``~/Montage Bridge Exports``: a folder the user opens by hand, shared with the Lua menu launchers.

    Kept in the home folder rather than ``user_documents_dir()``: the Lua launchers (which cannot ask
    platformdirs) compute the same path from ``HOME``/``USERPROFILE``, and both must agree.
    """
    return Path.home() / "Montage Bridge Exports"
