"""Make a decoder "crash" on chosen files, in every Python process a test starts.

A ``sitecustomize.py`` on PYTHONPATH is loaded by each new interpreter (the engine's spawned
workers and the watch daemon included) before anything else: it wraps ``probe_media`` so that
probing a file whose name starts with ``crash`` kills the process with SIGSEGV, as a bug in a C
decoder would. Nothing in the package knows about it.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO

SITECUSTOMIZE = """
import os, signal
import kernel.probe as _probe
_real = _probe.probe_media
def _crashing(path, *args, **kwargs):
    if os.path.basename(str(path)).startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return _real(path, *args, **kwargs)
_probe.probe_media = _crashing
"""


def crash_hook_env(folder: Path) -> dict[str, str]:
    """Environment entries that load the hook (written into ``folder``) ahead of the repository."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {"PYTHONPATH": f"{folder}:{REPO}"}
