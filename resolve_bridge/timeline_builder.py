"""Build an OTIO timeline (``nle_adapters.plan_to_otio.build_timeline``) in DaVinci Resolve.

Two first-class paths, both ending in the same read-back verification (``apply.verify``):

- **append**: create the timeline (rate, resolution, start TC), add tracks, then ONE batched
  ``AppendToTimeline`` per track with absolute ``recordFrame``, ``trackIndex`` and ``mediaType``;
- **import**: write a Resolve-shaped OTIO (bare paths, absolute source ranges, markers at
  timeline level) or FCPXML 1.10, then ``ImportTimelineFromFile`` with ``sourceClipsPath``.

Frame rules (resolve_api.md §3 items 15–18): ``recordFrame`` = timeline start + record offset;
``startFrame``/``endFrame`` are frame indexes into the file (start TC removed), end exclusive;
Resolve *floors* a mixed-rate clip's length onto the timeline grid, so ``endFrame`` is chosen as
the shortest source length whose floored length is the planned one. Where no source length can
give it (a slower source on a faster timeline, now and then) the clip lands one frame short and
the build says so.
"""

from __future__ import annotations

import functools
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from kernel.atomic_io import write_text_atomic
from kernel.media_url import url_to_path as path_of
from kernel.timebase import format_rate, frames_to_timecode, parse_rate, rate_from_float, round_half_up
from nle_adapters.mix import clip_mix
from nle_adapters.plan_to_otio import META
from nle_adapters.reframe_meta import clip_reframe, resolve_properties, window_moves
from nle_adapters.resolve_otio import resolve_import_problems, to_resolve_shape
from nle_adapters.timeline_facts import our_meta
from nle_adapters.write_files import WriteError, serialize_timeline
from resolve_bridge.apply import BuildResult, Log, apply_spec, import_spec_file, pool_items_for
from resolve_bridge.capabilities import Capabilities
from resolve_bridge.errors import ResolveBuildError
from resolve_bridge.spec import BuildSpec, ClipPlacement, MarkerSpec, TransitionSpec, source_length_for

MARKER_COLOR_MAP = {
    otio.schema.MarkerColor.RED: "Red",
    otio.schema.MarkerColor.BLUE: "Blue",
    otio.schema.MarkerColor.GREEN: "Green",
    otio.schema.MarkerColor.YELLOW: "Yellow",
    otio.schema.MarkerColor.PURPLE: "Purple",
    otio.schema.MarkerColor.CYAN: "Cyan",
    otio.schema.MarkerColor.ORANGE: "Sand",
    otio.schema.MarkerColor.PINK: "Pink",
    otio.schema.MarkerColor.MAGENTA: "Fuchsia",
    otio.schema.MarkerColor.WHITE: "Cream",
    otio.schema.MarkerColor.BLACK: "Cocoa",
}
# Default marker colour per kind when the OTIO marker has none we can map.
KIND_COLORS = {"beat": "Blue", "downbeat": "Red", "section": "Purple", "chapter": "Green", "note": "Yellow"}
# Clip colour for a flagged clip (first flag wins); anything else flagged is Orange.
FLAG_COLORS = {"shaky": "Orange", "soft": "Yellow", "blurry": "Yellow", "dark": "Navy", "clipped": "Apricot"}


@functools.lru_cache(maxsize=64)
def _exact(rate: float) -> Fraction:
    return rate_from_float(rate)


def _frames(t: otio.opentime.RationalTime, rate: Fraction) -> int:
    """A RationalTime as a whole frame count at ``rate`` (nearest, half up)."""
    source_rate = _exact(t.rate)
    if source_rate == rate and float(t.value).is_integer():
        return int(t.value)
    return round_half_up(Fraction(t.value) * rate / source_rate)


def timeline_format(timeline: otio.schema.Timeline) -> tuple[Fraction, bool, int, int, int]:
    """(rate, drop_frame, start frame, width, height) of an OTIO timeline in our conventions."""
    meta = our_meta(timeline)
    if meta.get("rate"):
        rate = parse_rate(str(meta["rate"]))
    elif timeline.global_start_time is not None:
        rate = rate_from_float(timeline.global_start_time.rate)
    else:
        raise ResolveBuildError(f"timeline '{timeline.name}' has no frame rate (no global_start_time)")
    drop = bool(meta.get("drop_frame", False))
    start = _frames(timeline.global_start_time, rate) if timeline.global_start_time is not None else 0
    return rate, drop, start, int(meta.get("width", 1920)), int(meta.get("height", 1080))


def _clip_color(flags: list[str]) -> str:
    if not flags:
        return ""
    return FLAG_COLORS.get(str(flags[0]).lower(), "Orange")


def _marker_spec(marker: otio.schema.Marker, frame: int, rate: Fraction) -> MarkerSpec:
    meta = our_meta(marker)
    kind = str(meta.get("kind", "note"))
    color = MARKER_COLOR_MAP.get(marker.color) or KIND_COLORS.get(kind, "Blue")
    return MarkerSpec(
        frame=frame,
        name=marker.name or kind,
        color=color,
        note=kind,
        duration=max(1, _frames(marker.marked_range.duration, rate)),
        custom_data=f"montage-bridge:{kind}",
    )


def spec_from_otio(timeline: otio.schema.Timeline, *, name: str | None = None) -> BuildSpec:
    """Turn an OTIO timeline into the frames Resolve needs (see module docstring for the rules)."""
    rate, drop, start, width, height = timeline_format(timeline)
    clips: list[ClipPlacement] = []
    markers: list[MarkerSpec] = []
    warnings: list[str] = []
    moving = 0
    for marker in timeline.tracks.markers:
        markers.append(_marker_spec(marker, _frames(marker.marked_range.start_time, rate), rate))
    transitions: list[TransitionSpec] = []
    kinds = (("video", timeline.video_tracks()), ("audio", timeline.audio_tracks()))
    for kind, tracks in kinds:
        for index, track in enumerate(tracks, 1):
            for marker in track.markers:
                markers.append(_marker_spec(marker, _frames(marker.marked_range.start_time, rate), rate))
            ranges = track.range_of_all_children()
            for child in track:
                if isinstance(child, otio.schema.Transition):
                    # The cut sits where the outgoing clip ends, i.e. at the transition's own position.
                    cut = start + _frames(ranges[child].start_time, rate)
                    transitions.append(
                        TransitionSpec(
                            track_type=kind,
                            track_index=index,
                            cut_frame=cut,
                            before=_frames(child.in_offset, rate),
                            after=_frames(child.out_offset, rate),
                        )
                    )
                    continue
                if not isinstance(child, otio.schema.Clip):
                    continue
                clips.append(_placement(child, ranges[child], kind, index, rate, drop, start, warnings))
                moving += _reframe_and_proxy(child, clips[-1], (width, height) if kind == "video" else None)
                record_in = _frames(ranges[child].start_time, rate)
                for marker in child.markers:
                    offset = marker.marked_range.start_time - child.source_range.start_time
                    markers.append(_marker_spec(marker, record_in + _frames(offset, rate), rate))
    if not clips:
        raise ResolveBuildError(f"timeline '{timeline.name}' has no clips to place")
    warnings += _mix_notes(timeline)
    if moving:
        warnings.append(
            f"reframe of {moving} clip(s) follows a moving subject, but Resolve's scripting API sets one "
            "Pan/Tilt/Zoom per item (no keyframes): each is framed at its middle frame — import the FCPXML or "
            "FCP 7 XML (File > Import > Timeline) for the moving crop"
        )
    markers.sort(key=lambda m: m.frame)
    return BuildSpec(
        name=name or timeline.name or "Montage",
        rate=format_rate(rate),
        drop_frame=drop,
        start_timecode=frames_to_timecode(start, rate, drop),
        start_frame=start,
        width=width,
        height=height,
        video_tracks=max(1, len(timeline.video_tracks())),
        audio_tracks=max(1, len(timeline.audio_tracks())),
        clips=clips,
        markers=markers,
        warnings=warnings,
        transitions=transitions,
    )


def _mix_notes(timeline: otio.schema.Timeline) -> list[str]:
    """What of the timeline's mix (``nle_adapters.mix``) the scripting API cannot set, for the build
    report: Resolve's documented API has no audio level or keyframe setter, and ``SetFades`` (21.1+)
    takes whole frames, so 5 ms micro-fades do not fit (music fades do: ``fade_in/out_frames``)."""
    mixes = [clip_mix(c) for c in timeline.find_clips()]
    ducked = sum(1 for m in mixes if m.get("volume"))
    micro = sum(1 for m in mixes if m.get("fade_in") or m.get("fade_out"))
    notes = []
    if ducked:
        notes.append(
            f"music ducking on {ducked} clip(s) not applied: Resolve's scripting API cannot set audio levels or "
            "keyframes — import the FCPXML (File > Import > Timeline) for the mix, or duck in the Fairlight page"
        )
    if micro:
        notes.append(
            f"micro-fades on {micro} clip(s) not applied: SetFades takes whole frames and a 5 ms fade is shorter "
            "than one (the FCPXML carries them)"
        )
    return notes


def _reframe_and_proxy(clip: otio.schema.Clip, placement: ClipPlacement, frame: tuple[int, int] | None) -> bool:
    """The clip's reframe as item properties (the window at the clip's middle frame: the API sets
    one value per item), and the proxy its reference was relinked from (``proxies.relink``).
    True when the window moves within the clip (what the API cannot follow)."""
    framed = clip_reframe(clip) if frame is not None else None  # pictures only
    moves = False
    if framed is not None and frame is not None:
        first, last = placement.start_frame, placement.end_frame - 1  # media frames, as the keyframes
        placement.transform = dict(resolve_properties(framed, frame, (first + last) / 2))
        moves = window_moves(framed, first, last)
    ref_meta = our_meta(clip.media_reference)
    if ref_meta.get("proxy") and ref_meta.get("original_url"):
        # A timeline on proxies: Resolve gets the original in the pool with the proxy linked to it.
        placement.proxy_path, placement.path = placement.path, path_of(str(ref_meta["original_url"]))
    return moves


def _placement(
    clip: otio.schema.Clip,
    where: otio.opentime.TimeRange,
    kind: str,
    index: int,
    rate: Fraction,
    drop: bool,
    start: int,
    warnings: list[str],
) -> ClipPlacement:
    ref = clip.media_reference
    url = getattr(ref, "target_url", None)
    if not url:
        raise ResolveBuildError(f"clip '{clip.name}' has no media file (missing or generator reference)")
    path = path_of(url)
    ref_meta = our_meta(ref)
    avail = ref.available_range
    if ref_meta.get("rate"):
        media_rate = parse_rate(str(ref_meta["rate"]))
    elif avail is not None:
        media_rate = rate_from_float(avail.start_time.rate)
    else:
        media_rate = rate_from_float(clip.source_range.start_time.rate)
    media_start = _frames(avail.start_time, media_rate) if avail is not None else 0
    media_frames = _frames(avail.duration, media_rate) if avail is not None else 0
    first = _frames(clip.source_range.start_time, media_rate) - media_start
    record = start + _frames(where.start_time, rate)
    duration = _frames(clip.source_range.duration, rate)
    label = f"{clip.name} on {kind[0].upper()}{index} at {frames_to_timecode(record, rate, drop)}"
    if first < 0:
        raise ResolveBuildError(
            f"{label}: source starts {-first} frame(s) before its media's start timecode — the timeline's source "
            "ranges must include the media's start TC"
        )
    n, made = source_length_for(duration, rate, media_rate)
    if media_frames and first + n > media_frames:
        n = media_frames - first
        made = int(Fraction(n) * rate / media_rate)
    if made != duration:
        warnings.append(
            f"{label}: Resolve rounds a {format_rate(media_rate)} fps clip down on a {format_rate(rate)} fps timeline, "
            f"so it runs {made} frames instead of {duration}"
        )
    meta = our_meta(clip)
    flags = [str(f) for f in meta.get("flags", []) or []]
    # Speed: a LinearTimeWarp (our FCPXML reader turns timeMap into one); fades: the clip's own
    # metadata, in timeline frames (``fade_in_frames``/``fade_out_frames``, as the plan's music bed).
    scalar = 1.0
    for effect in clip.effects:
        if isinstance(effect, otio.schema.LinearTimeWarp):
            scalar *= float(effect.time_scalar)
    speed = round(scalar * 100.0, 3) if scalar > 0 else 100.0
    return ClipPlacement(
        key=str(meta.get("clip_id", clip.name)),
        name=clip.name or os.path.basename(path),
        path=path,
        track_type=kind,
        track_index=index,
        record_frame=record,
        duration=made,
        start_frame=first,
        end_frame=first + n,
        media_rate=format_rate(media_rate),
        media_start_frame=media_start,
        clip_color=_clip_color(flags),
        flags=flags,
        fade_in=max(0, int(meta.get("fade_in_frames", 0) or 0)),
        fade_out=max(0, int(meta.get("fade_out_frames", 0) or 0)),
        speed=speed,
    )


# ---------------------------------------------------------------- import-path files


def resolve_shaped_otio(timeline: otio.schema.Timeline, spec: BuildSpec) -> otio.schema.Timeline:
    """A copy Resolve's OTIO import accepts (``nle_adapters.resolve_otio.to_resolve_shape``: Clip.2 with a
    ``media_references`` map, bare paths, ``available_range`` on each reference, source ranges in the
    media's timecode space, ``global_start_time``), with every marker moved to timeline level: the
    build adds them through the API afterwards, where frames are exact, and skips ones already there.
    """
    shaped = to_resolve_shape(timeline)
    for clip in shaped.find_clips():
        clip.markers[:] = []
    for track in shaped.tracks:
        track.markers[:] = []
    shaped.tracks.markers[:] = []
    rate = spec.exact_rate
    colors = {v: k for k, v in MARKER_COLOR_MAP.items()}
    for marker in spec.markers:
        shaped.tracks.markers.append(
            otio.schema.Marker(
                name=marker.name,
                marked_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(marker.frame, float(rate)),
                    otio.opentime.RationalTime(marker.duration, float(rate)),
                ),
                color=colors.get(marker.color, otio.schema.MarkerColor.BLUE),
                metadata={META: {"kind": marker.note}},
            )
        )
    return shaped


def write_import_file(timeline: otio.schema.Timeline, spec: BuildSpec, fmt: str, out_dir: Path) -> Path:
    """Write the file ``ImportTimelineFromFile`` will read: ``otio`` (Resolve-shaped) or ``fcpxml``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "".join(ch if ch.isalnum() or ch in "-_ " else "_" for ch in spec.name).strip() or "timeline"
    if fmt == "otio":
        target = out_dir / f"{stem}.otio"
        text = otio.adapters.write_to_string(resolve_shaped_otio(timeline, spec), "otio_json")
        problems = resolve_import_problems(text)
        if problems:
            # Resolve would answer None without a reason; say it here, before anything is imported.
            raise ResolveBuildError(f"this timeline cannot be imported into Resolve as OTIO: {problems[0]}")
        write_text_atomic(target, text)
    elif fmt in ("fcpxml", "xml"):
        target = out_dir / f"{stem}.{fmt}"
        write_text_atomic(target, serialize_timeline(timeline, fmt))
    else:
        raise ResolveBuildError(f"cannot import a timeline through {fmt!r}; use otio, fcpxml or xml")
    return target


def _source_root(spec: BuildSpec) -> str | None:
    folders = sorted({os.path.dirname(c.path) for c in spec.clips})
    try:
        return os.path.commonpath(folders) if folders else None
    except ValueError:  # different drives on Windows
        return folders[0]


def build_in_resolve(
    resolve: Any,
    timeline: otio.schema.Timeline,
    *,
    method: str = "auto",
    import_format: str = "auto",
    name: str | None = None,
    bin_name: str = "Montage Bridge",
    work_dir: Path | None = None,
    log: Log | None = None,
    bins: dict[str, list[str]] | None = None,
) -> BuildResult:
    """Build ``timeline`` in the connected Resolve and return what was built, verified.

    ``method``: ``append``, ``import`` or ``auto`` (append where the build can place clips on
    tracks, i.e. 18.5+, otherwise import). ``import_format``: ``otio``, ``fcpxml``, ``xml`` or
    ``auto`` (OTIO where Resolve imports it, 19.1+, otherwise FCPXML, else FCP 7 XML).
    ``bins`` ({bin name: file paths}) imports those files into their own bins first (e.g. the GPU
    worker's outputs into "processed"); both paths then find them in the pool by file path.
    """
    say: Log = log or (lambda _: None)
    caps = Capabilities.of(resolve)
    spec = spec_from_otio(timeline, name=name)
    for folder_name, paths in (bins or {}).items():
        if paths:
            pool_items_for(resolve, paths, folder_name, say)
    notes: list[str] = []
    if method == "auto":
        method = "append" if caps.can_place_on_tracks else "import"
        if method == "import":
            notes.append(caps.limits()[0])
    if method == "append":
        # Dissolves, fades and speed go in with 21.1's calls where this Resolve has them (apply.finish).
        result = apply_spec(resolve, spec, bin_name=bin_name, log=say)
    elif method == "import":
        fmt = import_format if import_format != "auto" else ("otio" if caps.can_import_otio else "fcpxml")
        if fmt == "otio" and not caps.can_import_otio:
            raise ResolveBuildError(f"{caps.label} does not import OTIO (19.1+): use --import-format fcpxml")
        folder = work_dir or Path(tempfile.gettempdir()) / "montage-bridge" / "resolve-import"
        if any(c.proxy_path for c in spec.clips):
            # The pool gets the originals (proxies linked to them in ``finish``), as on the append path.
            from proxies.relink import relink_timeline

            timeline = timeline.deepcopy()
            relink_timeline(timeline, "originals")
        try:
            path = write_import_file(timeline, spec, fmt, folder)
        except WriteError as exc:
            if import_format != "auto" or fmt != "fcpxml":
                raise
            # Every Resolve imports FCP 7 XML; use it when the FCPXML writer cannot hold this timeline.
            notes.append(f"FCPXML could not be written ({exc}); imported FCP 7 XML instead")
            path = write_import_file(timeline, spec, "xml", folder)
        result = import_spec_file(resolve, spec, str(path), source_clips_path=_source_root(spec), log=say)
    else:
        raise ResolveBuildError(f"unknown build method {method!r}; use append, import or auto")
    result.warnings[:0] = notes
    return result
