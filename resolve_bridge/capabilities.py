"""What the connected Resolve can do, from its product name and version (standard library only).

The scripting API changes per release (research/resolve_api.md §2.11); the bridge gates on these
facts and says plainly what a build lacks instead of letting a call fail silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# First version that documents each feature the bridge relies on (resolve_api.md §2.11).
PLACE_ON_TRACKS = (18, 5)  # clipInfo trackIndex/recordFrame, Timeline.AddTrack
OTIO_EXPORT = (18, 5)  # resolve.EXPORT_OTIO
SELECTED_CLIPS = (19, 0, 2)  # MediaPool.GetSelectedClips
OTIO_IMPORT = (19, 1)  # ImportTimelineFromFile lists OTIO
FREE_PYTHON_REMOVED = (21, 1)  # free 21.1: .py scripts no longer run (resolve_api.md §1.1)


@dataclass(frozen=True)
class Capabilities:
    """Product and version of a connected Resolve, and what the bridge may use on it."""

    product: str
    version: tuple[int, ...]

    @classmethod
    def of(cls, resolve: Any) -> Capabilities:
        product = str(resolve.GetProductName() or "DaVinci Resolve")
        raw = resolve.GetVersion() or []
        version = tuple(int(v) for v in list(raw)[:4] if isinstance(v, int) or str(v).isdigit())
        return cls(product=product, version=version or (0,))

    @property
    def studio(self) -> bool:
        return "studio" in self.product.lower()

    @property
    def version_string(self) -> str:
        return ".".join(str(v) for v in self.version)

    @property
    def label(self) -> str:
        return f"{self.product} {self.version_string}"

    def at_least(self, floor: tuple[int, ...]) -> bool:
        return self.version >= floor

    @property
    def can_place_on_tracks(self) -> bool:
        return self.at_least(PLACE_ON_TRACKS)

    @property
    def can_import_otio(self) -> bool:
        return self.at_least(OTIO_IMPORT)

    @property
    def can_read_selection(self) -> bool:
        return self.at_least(SELECTED_CLIPS)

    def limits(self) -> list[str]:
        """Plain-language list of what this build cannot do for us, with the way around it."""
        out: list[str] = []
        if not self.can_place_on_tracks:
            out.append(
                f"{self.label} cannot place clips on a chosen track and frame from a script "
                "(AppendToTimeline gained trackIndex/recordFrame in 18.5): timelines are built by importing "
                "an FCPXML instead — update to Resolve 18.5 or later for the direct path"
            )
        if not self.can_import_otio:
            out.append(f"{self.label} does not import OTIO timelines (19.1+): FCPXML 1.10 is used instead")
        if not self.can_read_selection:
            out.append(
                f"{self.label} cannot report the selected media pool clips (19.0.2+): "
                "select a bin instead (the current bin is read)"
            )
        if not self.studio:
            out.append(
                f"{self.product} (free) does not allow external scripting: run the bridge from "
                "Workspace ▸ Scripts ▸ Montage Bridge (install with `montage-bridge resolve install`)"
            )
            if self.at_least(FREE_PYTHON_REMOVED):
                out.append(
                    f"{self.label} (free) lists only Lua scripts in Workspace ▸ Scripts (Python scripting is "
                    "Studio-only since 21.1): use the Lua entries `montage-bridge resolve install` puts there, or "
                    "`montage-bridge auto FOOTAGE --music SONG --output DIR` and File ▸ Import ▸ Timeline"
                )
        return out
