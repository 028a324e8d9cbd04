"""What writing a timeline as FCPXML cannot keep, one plain sentence each (for loss reports)."""

from __future__ import annotations

from collections import Counter

import opentimelineio as otio

_KEPT_COLORS = {
    otio.schema.MarkerColor.RED,  # to-do marker
    otio.schema.MarkerColor.GREEN,  # completed to-do marker
    otio.schema.MarkerColor.BLUE,  # standard marker
}


def fcpxml_losses(timeline: otio.schema.Timeline) -> list[str]:
    """Everything in ``timeline`` that ``mb_fcpxml`` writes differently or not at all.

    An empty list means the FCPXML file holds the whole timeline (as far as our reader can tell).
    """
    counts: Counter[str] = Counter()
    tracks = [t for t in timeline.tracks if isinstance(t, otio.schema.Track)]
    for track in tracks:
        if not track.enabled:
            counts["disabled track (its clips are written disabled)"] += 1
        for item in track.find_children():
            if isinstance(item, otio.schema.Transition):
                if item.transition_type != otio.schema.TransitionTypes.SMPTE_Dissolve:
                    counts["transition that is not a dissolve (written as Cross Dissolve)"] += 1
                continue
            if not isinstance(item, otio.core.Item):
                continue
            for marker in item.markers:
                if marker.color not in _KEPT_COLORS and (marker.metadata.get("fcpxml") or {}).get("kind") is None:
                    counts[f"{marker.color.lower()} marker colour (FCP markers are blue, red or green)"] += 1
            if item.effects:
                counts["clip effect or speed change (not written)"] += len(item.effects)
            if isinstance(item, otio.schema.Clip):
                ref = item.media_reference
                if isinstance(ref, otio.schema.MissingReference):
                    counts["clip without media (written as an offline asset)"] += 1
                elif isinstance(ref, otio.schema.GeneratorReference) and not (ref.parameters or {}).get("effect_uid"):
                    counts["generator FCP has no effect for (written as a named gap)"] += 1
        counts["track marker (moved onto the clip under it)"] += len(track.markers)
    counts["timeline marker (moved onto the clip under it)"] += len(timeline.tracks.markers)
    kinds = {t.kind for t in tracks} - {otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio}
    for kind in sorted(kinds):
        counts[f"{kind} track (not written)"] += 1
    return [f"{n} × {what}" for what, n in counts.items() if n]
