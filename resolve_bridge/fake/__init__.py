"""An in-process fake DaVinci Resolve for tests and demos (no production module imports it).

Modules, each importing only the ones before it at module level (no import cycle); ``objects``
loads ``interchange`` and ``store`` when first used, so the fake itself loads in a bare Python:

- ``constants``: build profiles (18.0 … 21.1) and the export constants;
- ``interchange``: ``ImportTimelineFromFile`` (enforcing the OTIO shape Resolve accepts) and
  ``Timeline.Export``, through the project's own readers and writers;
- ``objects``: the Resolve object graph (see its docstring for every behaviour it encodes);
- ``store``: a disk project database (``MONTAGE_RESOLVE_DB``), imported by ``objects`` only
  when a database is used;
- ``lua``: the fake exposed to a real Lua interpreter (lupa) the way Resolve exposes itself to
  Lua scripts, to run the Scripts-menu Lua launchers in tests.

``from resolve_bridge.fake import FakeResolve`` is the entry point.
"""

from __future__ import annotations

from resolve_bridge.fake.constants import PROFILES
from resolve_bridge.fake.objects import (
    FakeFolder,
    FakeMediaPool,
    FakeMediaPoolItem,
    FakeMediaStorage,
    FakeProject,
    FakeProjectManager,
    FakeResolve,
    FakeSwitches,
    FakeTimeline,
    FakeTimelineItem,
    clip_properties,
    media_rate_of,
)

__all__ = [
    "PROFILES",
    "FakeFolder",
    "FakeMediaPool",
    "FakeMediaPoolItem",
    "FakeMediaStorage",
    "FakeProject",
    "FakeProjectManager",
    "FakeResolve",
    "FakeSwitches",
    "FakeTimeline",
    "FakeTimelineItem",
    "clip_properties",
    "media_rate_of",
]
