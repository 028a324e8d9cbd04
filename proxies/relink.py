"""Switch a timeline's media between originals and their proxies, frame-exact.

A proxy made by :mod:`proxies.make` has its original's rate, frame count and start timecode, so a
clip's source range means the same frames in both files: relinking changes only the media URL (and
the picture size the reference states). That is checked, not assumed: every pair is probed and a
proxy that does not match (:func:`proxies.make.check_proxy`) is refused with an error naming it.

The reference remembers where it came from: ``metadata["montage_bridge"]["original_url"]`` while it
points at a proxy (so relinking back finds the original even when the proxy sits elsewhere), and
``"proxy": true``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import opentimelineio as otio

from kernel.media import MediaItem
from kernel.probe import probe_media
from nle_adapters.timeline_facts import META, meta_view, url_to_path
from proxies.make import ProxyError, find_proxy, original_of, require_match

TARGETS = ("proxies", "originals")


@dataclass
class RelinkReport:
    relinked: int = 0
    already: int = 0
    missing: list[str] = field(default_factory=list)  # media with no counterpart found


def _probe(path: Path) -> MediaItem:
    return _probe_cached(str(path), path.stat().st_mtime_ns, path.stat().st_size)


@lru_cache(maxsize=256)
def _probe_cached(path: str, _mtime: int, _size: int) -> MediaItem:
    return probe_media(path)


def _references(timeline: otio.schema.Timeline):
    for clip in timeline.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
            yield clip, ref


def relink_timeline(timeline: otio.schema.Timeline, to: str) -> RelinkReport:
    """Point every clip of ``timeline`` at its proxy (``to="proxies"``) or its original (``"originals"``).

    Raises :class:`ProxyError` for a pair whose frames, rate, start timecode or audio channels differ
    (naming the proxy); media without a counterpart are listed in the report and left as they are."""
    if to not in TARGETS:
        raise ProxyError(f"--relink {to}: choose originals or proxies")
    report = RelinkReport()
    for clip, ref in _references(timeline):
        path = Path(url_to_path(ref.target_url))
        meta = meta_view(ref)
        if meta and meta.get("has_video") is False:
            continue  # sound only (the music): proxies are of pictures
        # Our flag, or where the file lies (a format that does not keep our metadata, e.g. FCPXML).
        is_proxy = bool(meta and meta.get("proxy")) or original_of(path) is not None
        if (to == "proxies") == is_proxy:
            report.already += 1
            continue
        if to == "proxies":
            original: Path | None = path
            counterpart = find_proxy(path) if path.is_file() else None
        else:
            remembered = Path(url_to_path(str(meta.get("original_url")))) if meta and meta.get("original_url") else None
            counterpart = remembered if remembered and remembered.is_file() else original_of(path)
            original = counterpart
        if counterpart is None or not path.is_file():
            report.missing.append(f"{clip.name} ({path.name})")
            continue
        proxy = counterpart if to == "proxies" else path
        assert original is not None
        original_media, proxy_media = _probe(original), _probe(proxy)
        require_match(original_media, proxy_media)
        new = proxy_media if to == "proxies" else original_media
        if META not in ref.metadata or not hasattr(ref.metadata[META], "keys"):
            ref.metadata[META] = {}
        ours = ref.metadata[META]
        if to == "proxies":
            ours["original_url"] = ref.target_url
            ours["proxy"] = True
        else:
            for key in ("original_url", "proxy"):
                if key in ours:
                    del ours[key]
        ref.target_url = Path(new.path).resolve().as_uri()
        width, height = new.display_size
        if "width" in ours and width and height:
            ours["width"], ours["height"] = width, height
        report.relinked += 1
    return report
