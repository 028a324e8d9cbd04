"""Read clips out of the Resolve media pool as plain dicts (standard library only).

Used inside Resolve's own Python by the Scripts-menu entries; ``media_pool`` turns the dicts into
``analysis.models.MediaItem`` in the full environment. A fixed key list is asked for one by one:
the README says keyed lookups are faster than the full snapshot, and some items crash Resolve on
the no-argument form (resolve_api.md §3 item 26).
"""

from __future__ import annotations

from typing import Any

from resolve_bridge.capabilities import Capabilities
from resolve_bridge.errors import ResolveError

PROPERTY_KEYS = (
    "Clip Name",
    "File Path",
    "Type",
    "FPS",
    "Frames",
    "Start TC",
    "Drop frame",
    "Resolution",
    "Audio Ch",
    "Sample Rate",
    "Duration",
)


class PoolError(ResolveError):
    """The media pool part the user asked for does not exist or holds nothing usable."""


def clip_record(item: Any, bin_path: str) -> dict[str, str]:
    """One media pool clip as ``{key: value}`` strings plus its bin and unique id."""
    record = {"bin": bin_path, "unique_id": str(item.GetUniqueId() or ""), "name": str(item.GetName() or "")}
    for key in PROPERTY_KEYS:
        value = item.GetClipProperty(key)
        record[key] = "" if value is None else str(value)
    return record


def find_bin(pool: Any, bin_path: str) -> Any:
    """Bin ``"Footage/Day 1"`` under the root (``""`` or ``"/"`` = the root)."""
    folder = pool.GetRootFolder()
    walked = []
    for part in [p for p in bin_path.replace("\\", "/").split("/") if p]:
        walked.append(part)
        match = next((f for f in folder.GetSubFolderList() or [] if f.GetName() == part), None)
        if match is None:
            names = ", ".join(f.GetName() for f in folder.GetSubFolderList() or []) or "none"
            raise PoolError(f"media pool bin '{'/'.join(walked)}' does not exist (bins there: {names})")
        folder = match
    return folder


def walk_bin(folder: Any, prefix: str, recursive: bool) -> list[tuple[Any, str]]:
    out = [(item, prefix) for item in folder.GetClipList() or []]
    if recursive:
        for sub in folder.GetSubFolderList() or []:
            out.extend(walk_bin(sub, f"{prefix}/{sub.GetName()}" if prefix else sub.GetName(), True))
    return out


def read_pool(resolve: Any, *, bin_path: str | None = None, selected: bool = False, recursive: bool = True) -> list:
    """Clip records for the selected clips, a named bin, or (default) the current bin."""
    manager = resolve.GetProjectManager()
    project = manager.GetCurrentProject() if manager else None
    if not project:
        raise PoolError("Resolve has no project open — open the project whose media pool to read")
    pool = project.GetMediaPool()
    if selected:
        caps = Capabilities.of(resolve)
        if not caps.can_read_selection:
            raise PoolError(
                f"{caps.label} cannot report the selected media pool clips (19.0.2+) — "
                "open the bin to use and run 'Auto Edit selected bin' (or pass --bin)"
            )
        items = pool.GetSelectedClips() or []
        if not items:
            raise PoolError("no clips are selected in the media pool — select some clips (or a bin) first")
        return [clip_record(i, "(selection)") for i in items]
    if bin_path is not None:
        folder = find_bin(pool, bin_path)
        label = "/".join(p for p in bin_path.replace("\\", "/").split("/") if p)
    else:
        folder = pool.GetCurrentFolder() or pool.GetRootFolder()
        label = "" if folder.GetName() == pool.GetRootFolder().GetName() else str(folder.GetName())
    records = [clip_record(i, b) for i, b in walk_bin(folder, label, recursive)]
    if not records:
        raise PoolError(f"media pool bin '{label or folder.GetName()}' holds no clips")
    return records
