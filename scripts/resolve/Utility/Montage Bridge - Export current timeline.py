"""Montage Bridge: export the current timeline as OTIO, FCPXML, FCP 7 XML and EDL.

A DaVinci Resolve Workspace ▸ Scripts entry. Installed by `montage-bridge resolve install`, which
fills in the two paths below; all the logic lives in resolve_bridge/menu.py.
"""

import sys

PACKAGE_ROOT = None  # folder that holds the resolve_bridge package (set by the installer)
PYTHON = None  # the Python environment montage-bridge is installed in (set by the installer)

if PACKAGE_ROOT and PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)
try:
    from resolve_bridge.menu import run_menu
except Exception as exc:  # Resolve's Console is the only place the user sees this
    print(f"[Montage Bridge] cannot load the montage-bridge package ({exc}) - run")
    print("[Montage Bridge] 'montage-bridge resolve install' from the environment where it is installed")
else:
    run_menu("export", globals(), python=PYTHON)
