"""The interchange formats we write, and which OTIO adapter writes each.

One table so that `auto`, `convert` and the daemon agree on names, suffixes and adapters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TimelineFormat:
    name: str
    suffix: str
    adapter: str
    description: str
    write_options: dict[str, Any] = field(default_factory=dict)


FORMATS: dict[str, TimelineFormat] = {
    "otio": TimelineFormat("otio", ".otio", "otio_json", "OpenTimelineIO JSON"),
    "fcpxml": TimelineFormat(
        "fcpxml", ".fcpxml", "mb_fcpxml", "Final Cut Pro X XML (Resolve, FCP)", write_options={"version": "1.10"}
    ),
    "xml": TimelineFormat("xml", ".xml", "mb_xmeml", "Final Cut Pro 7 XML / xmeml (Premiere, Resolve)"),
    "edl": TimelineFormat("edl", ".edl", "mb_cmx3600", "CMX 3600 EDL"),
}

DEFAULT_FORMATS: tuple[str, ...] = ("otio", "fcpxml", "xml", "edl")


def get_format(name: str) -> TimelineFormat:
    """Look up a format by name or suffix (``"fcpxml"``, ``".edl"``)."""
    key = name.lower().lstrip(".")
    if key in FORMATS:
        return FORMATS[key]
    raise KeyError(f"unknown timeline format {name!r}; choose from {', '.join(FORMATS)}")
