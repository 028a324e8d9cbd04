"""Write/read through our adapters, a compact frame-exact summary of a timeline, and a diff that
must be explained by the loss report. Shared by test_format_matrix.py and test_independent_readers.py.

A summary keeps, per track, the items an editor would check after a conversion:

- clip: record in and duration (timeline frames), media rate, source in (media frames, start TC
  included) and source length (media frames), media path, media start/length when the format keeps
  them, enabled, speed, markers (media frames, length, name, colour);
- dissolve: cut position and in/out offsets (timeline frames).

Gaps are implied by the record positions of what follows; trailing gaps are not kept.

:func:`unexplained` compares two summaries and names every difference that the loss report does
not account for: each kind of difference lists the loss features that may explain it, and only for
the items it can happen to (a rounded source in only on a clip of another rate, a moved cut only
next to a dissolve). An empty result means "frame-exact, or exactly what the loss report says".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import opentimelineio as otio

from kernel.timebase import format_rate, rescale_frames
from nle_adapters.loss_report import analyze_losses
from nle_adapters.timeline_facts import clip_time, frames_at, media_url, timeline_time, url_to_path
from nle_adapters.write_files import render_timeline

# Our four formats: matrix name → (render_timeline name, read adapter, convert/loss-report name).
FORMATS: dict[str, tuple[str, str, str]] = {
    "otio": ("otio", "otio_json", "otio"),
    "fcpxml": ("fcpxml", "mb_fcpxml", "fcpxml"),
    "xmeml": ("xml", "mb_xmeml", "xml"),
    "edl": ("edl", "mb_cmx3600", "edl"),
}


def write(timeline: otio.schema.Timeline, fmt: str) -> list[str]:
    """``timeline`` rendered as ``fmt`` by the code `auto`, the daemon and `convert` use (EDL: one
    text per video track, the first also holding the audio)."""
    return [text for _, text in render_timeline(timeline, FORMATS[fmt][0])]


def read(text: str, fmt: str, rate: Fraction | None = None) -> otio.schema.Timeline:
    """Read ``text`` with our ``fmt`` adapter; an EDL is read at ``rate`` (what `convert --rate` passes)."""
    kwargs: dict[str, Any] = {}
    if fmt == "edl":
        kwargs["rate"] = format_rate(rate) if rate is not None else None
    result = otio.adapters.read_from_string(text, adapter_name=FORMATS[fmt][1], **kwargs)
    if not isinstance(result, otio.schema.Timeline):
        result = next(result.find_children(descended_from_type=otio.schema.Timeline))
    return result


def through(timeline: otio.schema.Timeline, fmt: str) -> otio.schema.Timeline:
    """Write ``timeline`` as ``fmt`` and read the (first) file back."""
    return read(write(timeline, fmt)[0], fmt, timeline_time(timeline).rate)


def loss_features(timeline: otio.schema.Timeline, fmt: str) -> set[str]:
    """The loss report's feature names for writing ``timeline`` as ``fmt``."""
    return {item.feature for item in analyze_losses(timeline, FORMATS[fmt][2])}


# ---------------------------------------------------------------------------------------------
# Summary


@dataclass(frozen=True)
class ClipRow:
    """One clip as an editor checks it. Frames: ``record_in``/``duration`` at the timeline rate,
    ``source_in``/``source_frames``/``media_start``/``media_frames`` at ``media_rate``."""

    record_in: int
    duration: int
    media_rate: str
    source_in: int
    source_frames: int
    path: str | None
    media_start: int | None
    media_frames: int | None
    enabled: bool
    speed: float
    markers: tuple[tuple[int, int, str, str], ...]  # (media frame, length, name, colour)


@dataclass(frozen=True)
class DissolveRow:
    """A transition: its cut (timeline frames from the track start) and in/out offsets (frames)."""

    cut: int
    in_offset: int
    out_offset: int


@dataclass
class Summary:
    rate: str
    start: int  # timeline start TC, frames at the timeline rate
    drop_frame: bool
    tracks: dict[str, list[ClipRow | DissolveRow]] = field(default_factory=dict)  # "V1", "A2"… → items


def _speed(clip: otio.schema.Clip) -> float:
    speed = 1.0
    for effect in clip.effects:
        if isinstance(effect, otio.schema.LinearTimeWarp):
            speed *= effect.time_scalar
        elif isinstance(effect, otio.schema.FreezeFrame):
            speed = 0.0
    return speed


def summarize(timeline: otio.schema.Timeline) -> Summary:
    """The compact, frame-exact description of ``timeline`` (see the module doc)."""
    time = timeline_time(timeline)
    rate = time.rate
    out = Summary(format_rate(rate), time.start_frame, time.drop_frame)
    counters = {otio.schema.TrackKind.Video: 0, otio.schema.TrackKind.Audio: 0}
    for track in timeline.tracks:
        if not isinstance(track, otio.schema.Track) or track.kind not in counters:
            continue
        counters[track.kind] += 1
        label = ("V" if track.kind == otio.schema.TrackKind.Video else "A") + str(counters[track.kind])
        rows: list[ClipRow | DissolveRow] = []
        position = 0
        for item in track:
            if isinstance(item, otio.schema.Transition):
                rows.append(DissolveRow(position, frames_at(item.in_offset, rate), frames_at(item.out_offset, rate)))
                continue
            duration = frames_at(item.source_range.duration, rate) if item.source_range else 0
            if isinstance(item, otio.schema.Clip):
                ct = clip_time(item, rate)
                url = media_url(item)
                speed = _speed(item)
                rows.append(
                    ClipRow(
                        record_in=position,
                        duration=ct.duration,
                        media_rate=format_rate(ct.rate),
                        source_in=ct.source_in,
                        source_frames=round(rescale_frames(ct.duration, rate, ct.rate) * speed),
                        path=url_to_path(url) if url else None,
                        media_start=ct.media_start,
                        media_frames=ct.media_frames,
                        enabled=bool(item.enabled and track.enabled),
                        speed=speed,
                        markers=tuple(
                            sorted(
                                (
                                    frames_at(m.marked_range.start_time, ct.rate),
                                    frames_at(m.marked_range.duration, ct.rate),
                                    m.name,
                                    str(m.color),
                                )
                                for m in item.markers
                            )
                        ),
                    )
                )
            elif not isinstance(item, otio.schema.Gap):
                # A nested track or stack: formats nest either way (FCPXML compound, xmeml sequence).
                rows.append(ClipRow(position, duration, "", 0, 0, "<nested>", None, None, True, 1, ()))
            position += duration
        if rows:  # an empty track holds nothing to lose; some writers leave it out
            out.tracks[label] = rows
        else:
            counters[track.kind] -= 1
    return out


# ---------------------------------------------------------------------------------------------
# Differences and what explains them

# A kind of difference → loss features (substrings of the report's feature names) that explain it.
EXPLAINED_BY: dict[str, tuple[str, ...]] = {
    "video tracks": ("video tracks",),
    "audio tracks": ("audio tracks",),
    "media range": ("media ranges",),
    "enabled": ("disabled",),
    "speed": ("speed change", "effects", "clip effect"),
    "marker length": ("marker durations",),
    "marker colour": ("marker colour",),
    "markers": ("timeline markers", "track marker"),
    "mixed rate": ("mixed rates",),
    "dissolve": ("transition alignment", "fades", "transitions"),
    "nested": ("nested",),
    "missing media": ("clip without media", "generator"),
}


@dataclass(frozen=True)
class Difference:
    kind: str  # a key of EXPLAINED_BY, or "exact" (never explained: must not differ)
    where: str
    detail: str


def _mixed(row: ClipRow, timeline_rate: str) -> bool:
    return row.media_rate != timeline_rate


def _clip_differences(
    label: str, index: int, want: ClipRow, got: ClipRow, rate: str, near_dissolve: bool, one_range: bool
) -> list[Difference]:
    """How one clip differs. ``one_range``: ``want`` gives this clip's media one available range
    (files with one range per clip segment, as Resolve writes, are unified per file by writers)."""
    where = f"{label} item {index + 1} ({want.path})"
    diffs: list[Difference] = []

    def add(kind: str, what: str, a: object, b: object) -> None:
        diffs.append(Difference(kind, where, f"{what}: expected {a!r}, got {b!r}"))

    if want.path != got.path:
        # A clip with no media comes back as a named offline placeholder from formats that need a file.
        add("missing media" if want.path is None else "exact", "media path", want.path, got.path)
    if (want.record_in, want.duration) != (got.record_in, got.duration):
        add(
            "dissolve" if near_dissolve else "exact",
            "record in/duration",
            (want.record_in, want.duration),
            (got.record_in, got.duration),
        )
    if want.speed != got.speed:
        add("speed", "speed", want.speed, got.speed)
    source_kind = "mixed rate" if _mixed(want, rate) else ("dissolve" if near_dissolve else "exact")
    if want.speed != got.speed:
        source_kind = "speed"
    if want.media_rate != got.media_rate:
        add(source_kind if _mixed(want, rate) else "exact", "media rate", want.media_rate, got.media_rate)
    elif (want.source_in, want.source_frames) != (got.source_in, got.source_frames):
        add(source_kind, "source in/frames", (want.source_in, want.source_frames), (got.source_in, got.source_frames))
    if (
        one_range
        and want.media_start is not None
        and (want.media_start, want.media_frames) != (got.media_start, got.media_frames)
    ):
        # Lost by a format that keeps no media range (EDL); a later writer may rebuild one from the uses.
        add(
            "media range",
            "media start/frames",
            (want.media_start, want.media_frames),
            (got.media_start, got.media_frames),
        )
    if want.enabled != got.enabled:
        add("enabled", "enabled", want.enabled, got.enabled)
    if want.markers != got.markers:
        if len(want.markers) != len(got.markers):
            add("markers", "markers", want.markers, got.markers)
        else:
            for w, g in zip(want.markers, got.markers):
                if w == g:
                    continue
                if w[3] != g[3]:
                    add("marker colour", "marker colour", w, g)
                if w[1] != g[1]:
                    add("marker length", "marker length", w, g)
                if (w[0], w[2]) != (g[0], g[2]):
                    add("mixed rate" if _mixed(want, rate) else "exact", "marker", w, g)
    return diffs


def differences(want: Summary, got: Summary) -> list[Difference]:
    """Every way ``got`` differs from ``want``, each tagged with the kind of loss that may explain it."""
    diffs: list[Difference] = []
    ranges: dict[str | None, set[tuple[int | None, int | None]]] = {}
    for rows in want.tracks.values():
        for row in rows:
            if isinstance(row, ClipRow):
                ranges.setdefault(row.path, set()).add((row.media_start, row.media_frames))
    for key in ("rate", "start", "drop_frame"):
        if getattr(want, key) != getattr(got, key):
            diffs.append(
                Difference("exact", "timeline", f"{key}: expected {getattr(want, key)!r}, got {getattr(got, key)!r}")
            )
    for prefix, kind in (("V", "video tracks"), ("A", "audio tracks")):
        w_labels = [k for k in want.tracks if k.startswith(prefix)]
        g_labels = [k for k in got.tracks if k.startswith(prefix)]
        if len(w_labels) != len(g_labels):
            diffs.append(Difference(kind, prefix, f"{len(w_labels)} tracks written, {len(g_labels)} read back"))
        for label in w_labels:
            if label not in got.tracks:
                continue
            w_rows, g_rows = want.tracks[label], got.tracks[label]
            dissolves = {i for i, r in enumerate(w_rows) if isinstance(r, DissolveRow)}
            if [type(r) for r in w_rows] != [type(r) for r in g_rows]:
                nested = any(isinstance(r, ClipRow) and r.path == "<nested>" for r in w_rows)
                kind_ = "nested" if nested else ("dissolve" if dissolves else "exact")
                diffs.append(
                    Difference(kind_, label, f"items {len(w_rows)} written, {len(g_rows)} read:\n{w_rows}\n{g_rows}")
                )
                continue
            for i, (w, g) in enumerate(zip(w_rows, g_rows)):
                if isinstance(w, DissolveRow):
                    if w != g:
                        diffs.append(Difference("dissolve", f"{label} item {i + 1}", f"expected {w}, got {g}"))
                    continue
                near = bool({i - 1, i + 1} & dissolves) or bool(dissolves and i > min(dissolves))
                one_range = len(ranges.get(w.path, ())) == 1  # type: ignore[union-attr]
                diffs += _clip_differences(label, i, w, g, want.rate, near, one_range)  # type: ignore[arg-type]
    return diffs


def unexplained(want: Summary, got: Summary, losses: set[str]) -> list[Difference]:
    """The differences between ``want`` and ``got`` that no feature in ``losses`` accounts for."""
    left = []
    for diff in differences(want, got):
        keys = EXPLAINED_BY.get(diff.kind, ())
        if not any(key in loss for key in keys for loss in losses):
            left.append(diff)
    return left


def explain(diffs: list[Difference], losses: set[str]) -> str:
    """A failure message: each unexplained difference, then what the loss report said."""
    lines = [f"{d.kind}: {d.where}: {d.detail}" for d in diffs[:12]]
    if len(diffs) > 12:
        lines.append(f"… and {len(diffs) - 12} more")
    lines.append(f"loss report: {sorted(losses) or 'nothing'}")
    return "\n".join(lines)


__all__ = [
    "FORMATS",
    "ClipRow",
    "DissolveRow",
    "Summary",
    "differences",
    "explain",
    "loss_features",
    "read",
    "summarize",
    "through",
    "unexplained",
    "write",
]
