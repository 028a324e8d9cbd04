"""Read CMX 3600 EDLs into OTIO timelines, frame-exact.

What the upstream ``cmx_3600`` adapter gets wrong and this reader does (research/interchange.md §1c):
- ``FCM: DROP FRAME`` / ``NON-DROP FRAME`` decide the counting, whatever the separator (``:`` or ``;``);
  a later FCM line changes the counting for the events after it (EDL-X writes several);
- the first record TC becomes ``global_start_time`` (not a negative track offset);
- ``* LOC:`` markers with ``:`` or ``;`` timecodes, and Resolve's `` |C:ResolveColorX |M:name |D:n``
  marker events (timeline markers on the stack);
- audio channel codes ``A``, ``A2``, ``A7``, ``AA``, ``B``, ``AA/V``, ``A2/V`` and ``AUD 3`` lines, one
  OTIO audio track per channel;
- dissolves (``D nnn``) as OTIO transitions, ``M2`` speed as LinearTimeWarp / FreezeFrame;
- ``* SOURCE FPS: 25 NDF`` comments (ours) count that event's source TCs at the media's own rate and
  DF/NDF (mixed-rate lists: source TCs are each media's own labels, record TCs the list's);
- lines it does not understand (EDL-X option headers, reel tables) are skipped with a warning kept in
  ``timeline.metadata["montage_bridge"]["warnings"]``; a file with no events at all is an error.

The EDL holds no frame rate: pass ``rate``, or it is inferred from FCM and the largest frame field
(and flagged ``rate_inferred`` in the metadata).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

import opentimelineio as otio

from kernel.timebase import (
    TimecodeError,
    format_rate,
    parse_timeline_rate,
    rescale_frames,
    supports_drop_frame,
    timecode_to_frames,
)
from nle_adapters.edl.common import BLACK_REELS, LOC_COLORS, parse_source_fps
from nle_adapters.errors import TimelineParseError
from nle_adapters.timeline_facts import META, rt, time_range

_TC = r"\d{1,2}[:;.]\d{2}[:;.]\d{2}[:;.,]\d{2,3}"
_EVENT = re.compile(
    rf"^\s*(?P<num>\d{{1,6}})\s+(?P<reel>\S+)\s+(?P<chan>\S+)\s+(?P<trans>C|D|W\d{{3}}|K[BO]?)\s+"
    rf"(?:(?P<dur>\d{{1,4}})\s+)?(?P<sin>{_TC})\s+(?P<sout>{_TC})\s+(?P<rin>{_TC})\s+(?P<rout>{_TC})\s*$",
    re.IGNORECASE,
)
_EVENT_START = re.compile(r"^\s*\d{1,6}\s+\S+\s+\S+\s+(C|D|W\d{3}|K[BO]?)\b", re.IGNORECASE)
_FCM = re.compile(r"^\s*FCM:\s*(?P<mode>.*?)\s*$", re.IGNORECASE)
_TITLE = re.compile(r"^\s*TITLE:\s*(?P<title>.*?)\s*$", re.IGNORECASE)
_M2 = re.compile(rf"^\s*M2\s+(?P<reel>\S+)\s+(?P<speed>-?\d+(?:\.\d+)?)\s+(?P<tc>{_TC})\s*$", re.IGNORECASE)
_AUD = re.compile(r"^\s*AUD\s+(?P<chans>[\d\s]+?)\s*$", re.IGNORECASE)
_LOC = re.compile(rf"^\*\s*LOC:\s*(?P<tc>{_TC})\s*(?P<color>\w+)?\s*(?P<name>.*?)\s*$", re.IGNORECASE)
_RESOLVE_MARKER = re.compile(r"^\s*\|C:(?P<color>\S+)\s*\|M:(?P<name>.*?)\s*\|D:(?P<dur>\d+)\s*$")
_FROM_NAME = re.compile(r"^\*\s*FROM CLIP NAME:\s*(?P<v>.*?)\s*$", re.IGNORECASE)
_TO_NAME = re.compile(r"^\*\s*TO CLIP NAME:\s*(?P<v>.*?)\s*$", re.IGNORECASE)
_FROM_PATH = re.compile(r"^\*\s*(?:FROM CLIP|FROM FILE|OTIO REFERENCE FROM):\s*(?P<v>.*?)\s*$", re.IGNORECASE)
_SOURCE_FILE = re.compile(r"^\*\s*SOURCE FILE:\s*(?P<v>.*?)\s*$", re.IGNORECASE)
_TC_FIND = re.compile(_TC)


@dataclass
class _Event:
    line: int
    number: str
    reel: str
    video: bool
    audio: list[int]
    transition: str
    transition_frames: int
    tcs: tuple[str, str, str, str]
    drop: bool | None  # FCM in force for this event (None: no FCM line yet)
    comments: list[str] = field(default_factory=list)
    clip_name: str | None = None
    from_name: str | None = None  # ``* FROM CLIP NAME:`` / ``* TO CLIP NAME:`` as written after this event
    to_name: str | None = None
    source_path: str | None = None
    source_file: str | None = None
    locators: list[tuple[str, str, str]] = field(default_factory=list)
    resolve_marker: tuple[str, str, int] | None = None
    speed: float | None = None
    # ``* SOURCE FPS:`` — the rate and DF (None: by separator) its source TCs count in; None: the list's.
    source_counting: tuple[Fraction, bool | None] | None = None


def _channels(code: str, source: str, line: int) -> tuple[bool, list[int]]:
    """``V``/``A``/``A2``/``AA``/``B``/``AA/V``/``A2/V``/``A7``/``NONE`` → (video?, audio channel numbers)."""
    video, audio = False, []
    for part in code.upper().split("/"):
        if part == "V":
            video = True
        elif part == "B":
            video = True
            audio.append(1)
        elif part == "AA":
            audio += [1, 2]
        elif part == "A":
            audio.append(1)
        elif re.fullmatch(r"A\d{1,2}", part):
            audio.append(int(part[1:]))
        elif part == "NONE":
            continue
        else:
            raise TimelineParseError(
                source, f"unknown channel code {code!r}", line=line, hint="expected V, A, A2, AA, B"
            )
    return video, sorted(set(audio))


def _scan(text: str, source: str) -> tuple[str, list[_Event], list[str]]:
    """First pass: split the EDL into events with their comments, keeping TCs as text."""
    title = ""
    events: list[_Event] = []
    warnings: list[str] = []
    drop: bool | None = None
    current: _Event | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped:
            continue
        if m := _TITLE.match(line):
            title = m["title"]
            continue
        if m := _FCM.match(line):
            mode = m["mode"].upper().replace("-", " ")
            drop = "NON" not in mode and "DROP" in mode
            continue
        if m := _EVENT.match(line):
            video, audio = _channels(m["chan"], source, number)
            trans = m["trans"].upper()
            if trans != "C" and m["dur"] is None:
                raise TimelineParseError(source, f"transition {trans} without a duration", line=number)
            current = _Event(
                line=number,
                number=m["num"],
                reel=m["reel"],
                video=video,
                audio=audio,
                transition=trans,
                transition_frames=int(m["dur"] or 0),
                tcs=(m["sin"], m["sout"], m["rin"], m["rout"]),
                drop=drop,
            )
            events.append(current)
            continue
        if _EVENT_START.match(line):
            raise TimelineParseError(
                source, f"event line is malformed: {stripped[:60]!r}", line=number, hint="expected 4 timecodes"
            )
        if current is not None and (m := _M2.match(line)):
            current.speed = float(m["speed"])
            continue
        if current is not None and (m := _AUD.match(line)):
            current.audio = sorted(set(current.audio) | {int(c) for c in m["chans"].split()})
            continue
        if current is not None and (m := _RESOLVE_MARKER.match(line)):
            color = m["color"].upper().removeprefix("RESOLVECOLOR")
            current.resolve_marker = (color, m["name"], int(m["dur"]))
            continue
        if stripped.startswith("*"):
            if current is None:
                continue  # header comments (* FORMAT:, * EDL-X LIST OPTIONS:) carry nothing we need
            if counting := parse_source_fps(stripped):
                current.source_counting = counting
            elif m := _LOC.match(stripped):
                current.locators.append((m["tc"], (m["color"] or "RED").upper(), m["name"]))
            elif m := _FROM_NAME.match(stripped):
                current.from_name = m["v"]
            elif m := _TO_NAME.match(stripped):
                current.to_name = m["v"]
            elif m := _FROM_PATH.match(stripped):
                current.source_path = m["v"]
            elif m := _SOURCE_FILE.match(stripped):
                current.source_file = m["v"]
            else:
                current.comments.append(stripped.lstrip("* ").strip())
            continue
        warnings.append(f"line {number}: skipped unrecognised line {stripped[:60]!r}")
    if not events:
        raise TimelineParseError(source, "no CMX 3600 events found", hint="is this an EDL?")
    for index, event in enumerate(events):
        # Clip names. After a dissolve (Avid, Premiere, Resolve, ours): FROM names the outgoing clip
        # (the event's first, "from" half) and TO the incoming one. A FROM alone names this event's
        # clip (a cut; and dissolves in lists that write only FROM, as this project's did).
        if event.to_name is not None:
            event.clip_name = event.to_name
            before = events[index - 1] if index > 0 else None
            if event.from_name is not None and before is not None and before.number == event.number:
                before.clip_name = before.clip_name or event.from_name
        elif event.from_name is not None:
            event.clip_name = event.from_name
    for index, event in enumerate(events):
        # The zero-length "from" half of a dissolve repeats the outgoing shot's source out: it counts
        # like that shot (whose SOURCE FPS comment follows its own event, not this one).
        nxt = events[index + 1] if index + 1 < len(events) else None
        if event.source_counting is None and nxt is not None and nxt.transition != "C" and event.tcs[0] == event.tcs[1]:
            before = next((e for e in reversed(events[:index]) if e.reel == event.reel), None)
            if before is not None:
                event.source_counting = before.source_counting
    return title, events, warnings


def infer_rate(events: list[_Event]) -> Fraction:
    """Guess the rate an EDL was cut at from FCM and the largest frame field (an EDL states none)."""
    # Source TCs with a SOURCE FPS comment are counted at their media's rate: they say nothing about the list's.
    tcs = [tc for e in events for tc in (e.tcs[2:] if e.source_counting else e.tcs)]
    max_ff = max(int(re.split(r"[:;.,]", tc)[-1]) for tc in tcs)
    drop = any(e.drop for e in events) or any(";" in tc for tc in tcs)
    if drop:
        return Fraction(30000, 1001) if max_ff < 30 else Fraction(60000, 1001)
    for limit, rate in ((24, 24), (25, 25), (30, 30), (50, 50)):
        if max_ff < limit:
            return Fraction(rate)
    return Fraction(60)


def _to_frames(tc: str, rate: Fraction, drop: bool | None, source: str, line: int) -> int:
    """Timecode → frames: FCM decides DF; without FCM the separator does (``;`` = DF)."""
    use_drop = drop if drop is not None else (";" in tc)
    use_drop = use_drop and supports_drop_frame(rate)
    try:
        return timecode_to_frames(tc, rate, drop_frame=use_drop)
    except TimecodeError as exc:
        if use_drop:
            # A label that does not exist in DF counting (e.g. 00:01:00:00) in a DF list: count it NDF
            # rather than refuse the whole file; editors do write such source TCs.
            try:
                return timecode_to_frames(tc, rate, drop_frame=False)
            except TimecodeError:
                pass
        raise TimelineParseError(source, str(exc), line=line) from exc


def _source_frames(event: _Event, rate: Fraction, source: str) -> tuple[int, int]:
    """Source in/out in frames: at the list's rate and FCM, or as the event's SOURCE FPS comment says
    (then DF from the comment, else from each TC's separator)."""
    if event.source_counting is None:
        return _to_frames(event.tcs[0], rate, event.drop, source, event.line), _to_frames(
            event.tcs[1], rate, event.drop, source, event.line
        )
    src_rate, drop = event.source_counting
    return (
        _to_frames(event.tcs[0], src_rate, drop, source, event.line),
        _to_frames(event.tcs[1], src_rate, drop, source, event.line),
    )


def _media_reference(event: _Event, name: str) -> otio.core.MediaReference:
    # The reel lives on the clip's metadata; the reference stays bare (OTIO metadata is costly to build).
    if event.source_path:
        path = (
            event.source_path.replace("\\", "/") if re.match(r"^[A-Za-z]:\\", event.source_path) else event.source_path
        )
        return otio.schema.ExternalReference(target_url=path)
    return otio.schema.MissingReference(name=event.source_file or name)


class _TrackSet:
    """Record-time placement for one channel: extra tracks open when events overlap."""

    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind
        self.tracks: list[tuple[otio.schema.Track, list[int]]] = []

    def track_for(self, record_in: int, joins: bool) -> tuple[otio.schema.Track, list[int]]:
        for track, pos in self.tracks:
            if (joins and pos[0] == record_in) or (not joins and pos[0] <= record_in):
                return track, pos
        suffix = "" if not self.tracks else f" ({len(self.tracks) + 1})"
        track = otio.schema.Track(name=self.name + suffix, kind=self.kind)
        self.tracks.append((track, [0]))
        return self.tracks[-1]


def read_edl(text: str, rate: str | Fraction | None = None, source: str = "<edl>") -> otio.schema.Timeline:
    """Parse CMX 3600 ``text`` into a Timeline at ``rate`` (inferred when None)."""
    title, events, warnings = _scan(text, source)
    rate_inferred = rate is None
    exact = infer_rate(events) if rate is None else parse_timeline_rate(rate)
    fcm_drop = next((e.drop for e in events if e.drop is not None), None)
    drop_frame = (fcm_drop if fcm_drop is not None else any(";" in e.tcs[2] for e in events)) and supports_drop_frame(
        exact
    )
    frames = [
        (*_source_frames(e, exact, source), *(_to_frames(tc, exact, e.drop, source, e.line) for tc in e.tcs[2:]))
        for e in events
    ]
    start = min(f[2] for f in frames)
    timeline = otio.schema.Timeline(name=title or source.rsplit("/", 1)[-1])
    timeline.global_start_time = rt(start, exact)
    timeline.metadata[META] = {
        "rate": format_rate(exact),
        "drop_frame": drop_frame,
        "rate_inferred": rate_inferred,
        "warnings": warnings,
        "source_format": "cmx_3600",
    }
    video = _TrackSet("V1", otio.schema.TrackKind.Video)
    audio: dict[int, _TrackSet] = {}
    for index, (event, (s_in, _s_out, r_in, r_out)) in enumerate(zip(events, frames)):
        nxt = events[index + 1] if index + 1 < len(events) else None
        from_half = nxt is not None and nxt.transition != "C" and frames[index + 1][2] == r_in
        if event.resolve_marker is not None:
            color, name, dur = event.resolve_marker
            timeline.tracks.markers.append(
                otio.schema.Marker(
                    name=name,
                    marked_range=time_range(r_in - start, dur, exact),
                    color=LOC_COLORS.get(color, otio.schema.MarkerColor.BLUE),
                    metadata={META: {"resolve_color": color}},
                )
            )
            continue
        if r_out < r_in:
            raise TimelineParseError(source, "record out is before record in", line=event.line)
        targets: list[_TrackSet] = []
        if event.video:
            targets.append(video)
        for channel in event.audio:
            if channel not in audio:
                audio[channel] = _TrackSet(f"A{channel}", otio.schema.TrackKind.Audio)
            targets.append(audio[channel])
        is_transition = event.transition != "C"
        for target in targets:
            track, pos = target.track_for(r_in - start, joins=is_transition)
            record_in = r_in - start
            if record_in > pos[0]:
                track.append(otio.schema.Gap(source_range=time_range(0, record_in - pos[0], exact)))
                pos[0] = record_in
            if is_transition and len(track) and event.transition_frames > 0:
                track.append(
                    otio.schema.Transition(
                        name="Dissolve" if event.transition == "D" else f"Wipe {event.transition[1:]}",
                        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve
                        if event.transition == "D"
                        else otio.schema.TransitionTypes.Custom,
                        in_offset=rt(0, exact),
                        out_offset=rt(event.transition_frames, exact),
                        metadata={META: {"edl_transition": event.transition}},
                    )
                )
            if r_out == r_in:
                # The zero-length "from" half of a dissolve pair repeats the shot already on the track,
                # unless the dissolve's in-offset used that shot up entirely: keep it then. A zero-length
                # event not followed by a dissolve is a shot that a later dissolve consumed: keep it too.
                last = track[-1] if len(track) else None
                keep = not from_half or not isinstance(last, otio.schema.Clip)
                if keep and event.reel.upper() not in BLACK_REELS:
                    track.append(_clip(event, s_in, r_in, r_out, exact, start))
                continue
            track.append(_clip(event, s_in, r_in, r_out, exact, start))
            pos[0] = r_out - start
    for target in [video, *(audio[k] for k in sorted(audio))]:
        for track, _ in target.tracks:
            timeline.tracks.append(track)
    return timeline


def _clip(event: _Event, s_in: int, r_in: int, r_out: int, rate: Fraction, start: int) -> otio.core.Item:
    duration = r_out - r_in
    if event.reel.upper() in BLACK_REELS:
        return otio.schema.Gap(source_range=time_range(0, duration, rate), metadata={META: {"edl_black": True}})
    name = event.clip_name or event.source_file or event.reel
    src_rate = event.source_counting[0] if event.source_counting else rate
    reference = _media_reference(event, name)
    if event.source_counting is not None:
        # The media's own counting, so writers label its frames as the EDL did (e.g. DF in an NDF list).
        src_drop = event.source_counting[1]
        if src_drop is None:
            src_drop = ";" in event.tcs[0] and supports_drop_frame(src_rate)
        reference.metadata[META] = {"rate": format_rate(src_rate), "drop_frame": src_drop}
    clip = otio.schema.Clip(
        name=name,
        media_reference=reference,
        # Source in at the media's rate, duration in record frames (ClipTime's convention).
        source_range=time_range(s_in, duration, src_rate, duration_rate=rate),
        metadata={META: {"reel": event.reel, "source_rate": format_rate(src_rate)}},
    )
    if event.comments:
        clip.metadata["cmx_3600"] = {"comments": list(event.comments)}
    if event.speed is not None:
        scalar = event.speed / float(rate)
        if event.speed == 0:
            clip.effects.append(otio.schema.FreezeFrame())
        else:
            clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=scalar))
        clip.metadata[META]["speed_fps"] = event.speed
    for tc, color, text in event.locators:
        drop = event.drop if event.drop is not None else ";" in tc
        try:
            loc = timecode_to_frames(tc, rate, drop_frame=drop and supports_drop_frame(rate))
        except TimecodeError:
            continue
        # LOC timecodes are record time; OTIO clip markers live in the clip's source time (media rate).
        offset = loc - r_in if src_rate == rate else rescale_frames(loc - r_in, rate, src_rate)
        clip.markers.append(
            otio.schema.Marker(
                name=text,
                marked_range=time_range(s_in + offset, 0, src_rate),
                color=LOC_COLORS.get(color, otio.schema.MarkerColor.RED),
            )
        )
    return clip
