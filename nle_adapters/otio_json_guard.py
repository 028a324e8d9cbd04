"""Check untrusted OTIO JSON in Python before OpenTimelineIO's C++ core sees it.

Where the user meets it: ``montage-bridge convert x.otio …``, ``resolve build x.otio`` and every
other place a ``.otio`` file from outside is read. OTIO's reader is C++ (RapidJSON + its own
object graph): 50,000 nested arrays crash it (SIGSEGV), 20,000 hang it for minutes, and an unknown
schema name comes back as an ``UnknownSchema`` object that later code trips over. Python's ``json``
module parses the same text safely (bounded recursion, exceptions instead of crashes), so the
document is parsed and walked here first, and refused with a sentence naming the JSON path when it
is deeper than any timeline, names a schema OTIO does not define (or a plugin type that has no
place in a timeline file), or holds a time that is not a finite number.
"""

from __future__ import annotations

import json
import math
from typing import Any

import opentimelineio as otio

from nle_adapters.errors import TimelineParseError

MAX_DEPTH = 256
"""Deepest JSON nesting accepted. A timeline nests stack → track → clip → reference → range →
time (about 12 levels per nested compound); 256 leaves room for 20 levels of compounds."""

# Value types the JSON serializer writes that are not SerializableObjects (so not in the map).
_VALUE_TYPES = {"RationalTime": 1, "TimeRange": 1, "TimeTransform": 1}
# Plugin machinery: meaningful in a plugin manifest, never in a timeline someone sends us.
_NOT_IN_TIMELINES = {"Adapter", "HookScript", "MediaLinker", "PluginManifest", "SchemaDef", "Test"}


def _known_schemas() -> dict[str, int]:
    known = {name: version for name, version in otio.core.type_version_map().items() if name not in _NOT_IN_TIMELINES}
    known.update(_VALUE_TYPES)
    return known


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a timeline can hold")


def _where(path: list[str]) -> str:
    return "$" + "".join(path[-6:]) if len(path) <= 6 else "$…" + "".join(path[-6:])


def check_otio_json(text: str, source: str) -> None:
    """Raise :class:`TimelineParseError` naming ``source`` and the JSON path if ``text`` is not a
    safe OTIO document (see the module docstring); return ``None`` when it is."""
    try:
        doc = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise TimelineParseError(
            source, f"JSON nested too deeply (over {MAX_DEPTH} levels)", hint="is it really a timeline?"
        ) from exc
    except ValueError as exc:  # includes json.JSONDecodeError and NaN/Infinity
        line = getattr(exc, "lineno", None)
        raise TimelineParseError(source, f"not valid OTIO JSON ({exc})", line=line) from exc
    if not isinstance(doc, dict) or "OTIO_SCHEMA" not in doc:
        raise TimelineParseError(source, "not an OTIO document (the top level has no OTIO_SCHEMA)")
    known = _known_schemas()
    # Iterative walk: the depth limit must not depend on Python's own recursion limit.
    stack: list[tuple[Any, list[str], int]] = [(doc, [], 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TimelineParseError(
                source, f"JSON nested over {MAX_DEPTH} levels at {_where(path)}", hint="is it really a timeline?"
            )
        if isinstance(node, dict):
            schema = node.get("OTIO_SCHEMA")
            if schema is not None:
                _check_schema(schema, known, source, path)
                if schema.startswith("RationalTime."):
                    _check_time(node, source, path)
                elif schema.startswith("Timeline.") and "tracks" in node:
                    tracks = node["tracks"]
                    # OTIO's C++ core dereferences a null stack: SIGSEGV (found by tests/fuzz).
                    if not (isinstance(tracks, dict) and str(tracks.get("OTIO_SCHEMA", "")).startswith("Stack.")):
                        raise TimelineParseError(
                            source,
                            f"timeline tracks at {_where([*path, '.tracks'])} must be a Stack, not {tracks!r:.40}",
                        )
            for key, value in node.items():
                if isinstance(value, (dict, list)):
                    stack.append((value, [*path, f".{key}"], depth + 1))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, (dict, list)):
                    stack.append((value, [*path, f"[{index}]"], depth + 1))


def _check_schema(schema: Any, known: dict[str, int], source: str, path: list[str]) -> None:
    name, _, version = str(schema).rpartition(".")
    if not isinstance(schema, str) or not name or not version.isdigit():
        raise TimelineParseError(source, f"malformed OTIO_SCHEMA {schema!r} at {_where(path)} (expected Name.N)")
    if name not in known:
        raise TimelineParseError(
            source, f"unknown OTIO schema {schema!r} at {_where(path)}", hint="written by a newer or foreign tool?"
        )
    if not 1 <= int(version) <= known[name]:
        raise TimelineParseError(
            source,
            f"OTIO schema {schema!r} at {_where(path)}: this OpenTimelineIO reads {name} up to version {known[name]}",
            hint="upgrade opentimelineio, or export with an older schema",
        )


def _check_time(node: dict[str, Any], source: str, path: list[str]) -> None:
    for label in ("value", "rate"):
        number = node.get(label)
        if not isinstance(number, (int, float)) or isinstance(number, bool) or not math.isfinite(number):
            raise TimelineParseError(source, f"time {label} {number!r} at {_where(path)} is not a finite number")
    rate = node["rate"]
    if rate <= 0:
        raise TimelineParseError(source, f"frame rate {rate!r} at {_where(path)} must be positive")
