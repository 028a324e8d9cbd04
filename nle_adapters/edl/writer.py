"""Write OTIO timelines as CMX 3600 EDLs, frame-exact, without touching the input.

- ``FCM: DROP FRAME`` / ``NON-DROP FRAME`` from the timeline (``metadata.montage_bridge.drop_frame``,
  else the default for the rate), and record TCs counted from ``global_start_time``;
- one video track per EDL (``video_track`` picks it, 1-based) plus every audio track as ``A``/``A2``/
  ``A3``… events (written with the first video track only, so several EDLs never repeat the audio);
- dissolves as the CMX ``C`` + ``D nnn`` pair, fades from and to a gap or the track's edge (black
  or silence) as a dissolve from or to the ``BL`` reel; a transition's in-offset is folded into the cut (the
  outgoing shot ends, and the dissolve starts, ``in_offset`` frames earlier), which shows the same
  frames;
- 8-character reels, one per media and never one for two (:class:`~nle_adapters.edl.common.ReelNames`:
  ``A001_C001.mov``/``A001_C002.mov`` are ``A001C001``/``A001C002``, not both ``A001_C00``), with
  ``* FROM CLIP NAME:`` (after a dissolve ``FROM`` the outgoing and ``TO`` the incoming clip, as Avid
  and Premiere write) and ``* FROM FILE:`` (the full path) comments, ``* LOC:`` markers;
- a leading gap (nothing at the timeline's start on any track written) as a ``BL`` event from the
  start: readers take the first record TC for the start, so the EDL says where the timeline starts;
- ``M2`` lines for LinearTimeWarp / FreezeFrame.

Source timecodes are the media's own timecode labels, whatever the record rate: what Resolve,
Premiere and Avid match on conform. A 25 fps clip in a 23.976 list is counted at 25 fps from its own
start TC, a 29.97 DF clip gets its DF label (``;``), and the source out is the media frame the clip
reaches at real time (record time rescaled with the project's one rounding rule, nearest frame half
up, never past the media's end). CMX 3600 has one rate, so such an event's source duration differs
from its record duration; the loss report says so, and a ``* SOURCE FPS: 25 NDF`` comment after the
event lets our reader count it back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio

from kernel.timebase import frames_to_timecode, rescale_frames, seconds_to_frames
from nle_adapters.edl.common import ReelNames, source_fps_comment
from nle_adapters.errors import UnsupportedFeature
from nle_adapters.timeline_facts import (
    META,
    ClipTime,
    TimelineTime,
    clip_time,
    frames_at,
    media_drop_frame,
    media_url,
    stated_drop_frame,
    timeline_time,
    url_to_path,
)

# Above this a "rate" is an audio sample rate, not a timecode rate: such media are labelled at the
# record rate (the old single-rate behaviour) rather than with a meaningless 48000 fps timecode.
MAX_TIMECODE_RATE = Fraction(120)


class EmptyEdl(UnsupportedFeature):
    """The chosen tracks hold nothing an EDL event can describe (only gaps or nested sequences)."""


_COLOR_NAMES = {
    otio.schema.MarkerColor.RED: "RED",
    otio.schema.MarkerColor.GREEN: "GREEN",
    otio.schema.MarkerColor.BLUE: "BLUE",
    otio.schema.MarkerColor.YELLOW: "YELLOW",
    otio.schema.MarkerColor.PINK: "PINK",
    otio.schema.MarkerColor.PURPLE: "PURPLE",
    otio.schema.MarkerColor.CYAN: "CYAN",
    otio.schema.MarkerColor.WHITE: "WHITE",
    otio.schema.MarkerColor.BLACK: "BLACK",
    otio.schema.MarkerColor.ORANGE: "ORANGE",
    otio.schema.MarkerColor.MAGENTA: "MAGENTA",
}


def _stated_reel(clip: otio.schema.Clip) -> str | None:
    """The reel the clip's metadata states (read from an EDL), or None."""
    metadata = clip.metadata
    if not len(metadata):
        return None
    for key in (META, "cmx_3600"):
        if key in metadata:
            meta = metadata[key]
            if hasattr(meta, "keys") and "reel" in meta and meta["reel"]:
                return str(meta["reel"])
    return None


def _media_key(clip: otio.schema.Clip) -> tuple[str, str]:
    """(identity, name) of ``clip``'s media for reel naming: its path, else its clip name."""
    url = media_url(clip)
    if url:
        path = url_to_path(url)
        return path, path
    return "clip:" + (clip.name or ""), clip.name or "AX"


def timeline_reels(timeline: otio.schema.Timeline) -> ReelNames:
    """Every media's reel in ``timeline``: unique within it, the same in each of its EDLs."""
    reels = ReelNames()
    for clip in timeline.find_clips():
        key, name = _media_key(clip)
        reels.add(key, name, _stated_reel(clip))
    return reels


def _speed(clip: otio.schema.Clip) -> float | None:
    """The clip's speed as a factor (1.0 = normal), or None when it has no time effect."""
    for effect in clip.effects:
        if isinstance(effect, otio.schema.FreezeFrame):
            return 0.0
        if isinstance(effect, otio.schema.LinearTimeWarp):
            return float(effect.time_scalar)
    return None


def source_counting(
    clip: otio.schema.Clip, ct: ClipTime, time: TimelineTime, stated: bool | None
) -> tuple[Fraction, bool]:
    """(rate, drop frame) that ``clip``'s source TCs are counted in: its media's own timecode.

    Media at an audio sample rate (no timecode of their own at that rate) count at the record rate."""
    if ct.rate > MAX_TIMECODE_RATE:
        return time.rate, time.drop_frame
    return ct.rate, media_drop_frame(clip, ct.rate, time, stated)


@dataclass(frozen=True)
class _Source:
    """One clip's source side: media frames (start TC included) and how its labels are counted.

    ``first`` is the media frame at the clip's first record frame; ``speed`` the time effect factor
    (None: normal speed, 0: freeze frame); ``end`` the media's exclusive end frame when known."""

    reel: str
    rate: Fraction
    drop: bool
    first: int
    speed: Fraction | None
    record_rate: Fraction
    end: int | None

    def at(self, offset: int) -> int:
        """The media frame at record frame ``offset`` from the clip's first frame (negative: before it,
        as a dissolve's lead-in), in real time, nearest frame half up (the project's one rounding)."""
        if self.speed == 0:
            return self.first
        factor = Fraction(1) if self.speed is None else self.speed
        if factor == 1 and self.rate == self.record_rate:
            return self.first + offset  # same rate, normal speed: frame for frame, no rounding at all
        return self.first + seconds_to_frames(Fraction(offset) * factor / self.record_rate, self.rate)

    def out(self, offset: int) -> int:
        """The exclusive source out for a shot that ends ``offset`` record frames after the clip's first
        frame: never past the media's last frame (a rescaled duration can round one frame over)."""
        if self.speed == 0:
            return self.first + 1
        value = self.at(offset)
        if self.end is not None and self.first < self.end < value:
            value = self.end
        return value

    def tc(self, frames: int) -> str:
        return frames_to_timecode(frames, self.rate, self.drop)


class _Writer:
    def __init__(self, timeline: otio.schema.Timeline) -> None:
        self.time: TimelineTime = timeline_time(timeline)
        self.drop_stated = stated_drop_frame(timeline)
        self.reels = timeline_reels(timeline)
        self.lines: list[str] = []
        self.number = 0
        self.first: tuple[int, str] | None = None  # (record in, channel) of the earliest event

    def tc(self, frames: int) -> str:
        """A record timecode: the list's rate and FCM."""
        return frames_to_timecode(frames, self.time.rate, self.time.drop_frame)

    def event(
        self,
        source: _Source,
        channel: str,
        trans: str,
        s_in: int,
        s_out: int,
        r_in: int,
        r_out: int,
        new: bool = True,
    ) -> None:
        """One event line; source frames are labelled in ``source``'s own counting."""
        if new:
            self.number += 1
        if self.first is None or r_in < self.first[0]:
            self.first = (r_in, channel)
        kind = f"{trans:<4} {'':3}" if trans == "C" else f"{trans[0]:<4} {int(trans[1:]):03d}"
        self.lines.append(
            f"{self.number:03d}  {source.reel:<8} {channel:<5} {kind} "
            f"{source.tc(s_in)} {source.tc(s_out)} {self.tc(r_in)} {self.tc(r_out)}"
        )

    def lead_black(self, until: int, channel: str) -> None:
        """A ``BL`` event from the timeline's start to record frame ``until``: the EDL then says where
        the timeline starts although its first clip starts later (a leading gap). CMX readers (ours,
        pycmx, Resolve, Premiere, Avid) take the first record TC for the start and ``BL`` for black."""
        start = self.time.start_frame
        black = _Source("BL", self.time.rate, self.time.drop_frame, 0, None, self.time.rate, None)
        self.event(black, channel, "C", 0, until - start, start, until)
        # A remark after it: pycmx drops a first event that has no statement after it (FCM before it).
        self.lines.append("* LEADING BLACK: THE TIMELINE STARTS HERE")

    def source(self, clip: otio.schema.Clip, ct: ClipTime) -> _Source:
        """The clip's source side: its media's own timecode counting, speed and end."""
        rate, drop = source_counting(clip, ct, self.time, self.drop_stated)
        first = ct.source_in if rate == ct.rate else rescale_frames(ct.source_in, ct.rate, rate)
        end = None
        if ct.media_start is not None and ct.media_frames is not None and rate == ct.rate:
            end = ct.media_start + ct.media_frames
        speed = _speed(clip)
        exact_speed = None if speed is None else Fraction(speed).limit_denominator(10000)
        return _Source(self.reels.reel(_media_key(clip)[0]), rate, drop, first, exact_speed, self.time.rate, end)

    def comments(
        self, clip: otio.schema.Clip, source: _Source, dissolve: bool = False, outgoing: str | None = None
    ) -> None:
        """The event's notes. A dissolve event names both sides as Avid and Premiere do: ``FROM CLIP
        NAME`` the outgoing clip (none from black), ``TO CLIP NAME`` the incoming one (pycmx and
        Resolve give FROM to the event's first edit, the outgoing half)."""
        if dissolve:
            if outgoing is not None:
                self.lines.append(f"* FROM CLIP NAME:  {outgoing}")
            self.lines.append(f"* TO CLIP NAME:  {clip.name}")
        else:
            self.lines.append(f"* FROM CLIP NAME:  {clip.name}")
        url = media_url(clip)
        if url:
            self.lines.append(f"* FROM FILE: {url_to_path(url)}")
        if (source.rate, source.drop) != (self.time.rate, self.time.drop_frame):
            # The source TCs above are not counted like the record TCs: say how, for our reader (and people).
            self.lines.append(source_fps_comment(source.rate, source.drop))

    def markers(self, clip: otio.schema.Clip, ct: ClipTime, r_in: int) -> None:
        for marker in clip.markers:
            local = frames_at(marker.marked_range.start_time, ct.rate) - ct.source_in
            if ct.rate != self.time.rate:
                local = rescale_frames(local, ct.rate, self.time.rate)
            color = _COLOR_NAMES.get(marker.color, "RED")
            self.lines.append(f"* LOC: {self.tc(r_in + local)} {color:<7} {marker.name}".rstrip())

    def track(self, track: otio.schema.Track, channel: str) -> None:
        start = self.time.start_frame
        rate = self.time.rate
        items = list(track)
        position = 0
        pending: otio.schema.Transition | None = None
        # Source, source out and clip name of the last clip, for "from" halves.
        previous: tuple[_Source, int, str] | None = None
        black = _Source("BL", rate, self.time.drop_frame, 0, None, rate, None)
        for index, item in enumerate(items):
            if isinstance(item, otio.schema.Transition):
                nxt = items[index + 1] if index + 1 < len(items) else None
                if previous is not None and not isinstance(nxt, otio.schema.Clip):
                    # A fade to black (silence on an audio track): the outgoing shot's zero-length
                    # "from" event, then a dissolve to the BL reel over the fade's frames.
                    length = frames_at(item.in_offset, rate) + frames_at(item.out_offset, rate)
                    at = start + position - frames_at(item.in_offset, rate)
                    prev_source, prev_out, prev_name = previous
                    self.event(prev_source, channel, "C", prev_out, prev_out, at, at)
                    self.event(black, channel, f"D{length}", 0, length, at, at + length, new=False)
                    self.lines.append(f"* FROM CLIP NAME:  {prev_name}")
                    previous = None
                    continue
                pending = item
                continue
            duration = frames_at(item.source_range.duration, rate) if item.source_range else 0
            if isinstance(item, otio.schema.Clip):
                ct = clip_time(item, rate)
                source = self.source(item, ct)
                r_in, r_out = start + position, start + position + duration
                # An in-offset on the next transition ends this shot early: the dissolve starts there.
                nxt = items[index + 1] if index + 1 < len(items) else None
                cut_back = frames_at(nxt.in_offset, rate) if isinstance(nxt, otio.schema.Transition) else 0
                cut_back = min(cut_back, duration)
                s_in, s_out = source.first, source.out(duration - cut_back)
                if pending is not None and previous is not None:
                    lead = frames_at(pending.in_offset, rate)
                    length = lead + frames_at(pending.out_offset, rate)
                    prev_source, prev_out, _ = previous
                    self.event(prev_source, channel, "C", prev_out, prev_out, r_in - lead, r_in - lead)
                    self.event(
                        source, channel, f"D{length}", source.at(-lead), s_out, r_in - lead, r_out - cut_back, new=False
                    )
                elif pending is not None:
                    # A fade from black (silence): a zero-length BL event, then a dissolve to the clip.
                    lead = frames_at(pending.in_offset, rate)
                    length = lead + frames_at(pending.out_offset, rate)
                    self.event(black, channel, "C", 0, 0, r_in - lead, r_in - lead)
                    self.event(
                        source, channel, f"D{length}", source.at(-lead), s_out, r_in - lead, r_out - cut_back, new=False
                    )
                else:
                    self.event(source, channel, "C", s_in, s_out, r_in, r_out - cut_back)
                if source.speed is not None:
                    fps = float(rate) * float(source.speed)
                    self.lines.append(f"M2   {source.reel:<8}       {fps:05.1f}                {source.tc(s_in)}")
                outgoing = previous[2] if pending is not None and previous is not None else None
                self.comments(item, source, pending is not None, outgoing)
                self.markers(item, ct, r_in)
                previous = (source, s_out, item.name)
            else:
                previous = None
            pending = None
            position += duration


def write_edl(timeline: otio.schema.Timeline, video_track: int = 1, include_audio: bool | None = None) -> str:
    """Render ``timeline`` as CMX 3600 text: video track ``video_track`` (1-based) plus the audio
    tracks (by default only with video track 1). The timeline is only read, never changed."""
    videos = [t for t in timeline.tracks if isinstance(t, otio.schema.Track) and t.kind == otio.schema.TrackKind.Video]
    audios = [t for t in timeline.tracks if isinstance(t, otio.schema.Track) and t.kind == otio.schema.TrackKind.Audio]
    if videos and not 1 <= video_track <= len(videos):
        raise UnsupportedFeature(
            f"the timeline has {len(videos)} video track(s); there is no video track {video_track}"
        )
    if include_audio is None:
        include_audio = video_track == 1
    title = timeline.name or "Untitled"
    if len(videos) > 1:
        title = f"{title} V{video_track}"

    def render(lead: tuple[int, str] | None = None) -> _Writer:
        writer = _Writer(timeline)
        writer.lines.append(f"TITLE: {title}")
        writer.lines.append(f"FCM: {'DROP FRAME' if writer.time.drop_frame else 'NON-DROP FRAME'}")
        if lead is not None:
            writer.lead_black(*lead)
        if videos:
            writer.track(videos[video_track - 1], "V")
        if include_audio:
            for number, track in enumerate(audios, start=1):
                writer.track(track, "A" if number == 1 else f"A{number}")
        return writer

    writer = render()
    if writer.number == 0:
        # A list with no events is not an EDL any reader (ours included) accepts: refuse, never write it.
        what = f"video track {video_track}" if videos else "this timeline"
        extra = " or its audio tracks" if videos and include_audio and audios else ""
        raise EmptyEdl(
            f"{what}{extra} holds no clip an EDL can describe (only gaps or nested sequences): no EDL written"
        )
    if writer.first is not None and writer.first[0] > writer.time.start_frame:
        # Nothing at the timeline's start (a leading gap on every track written): a reader takes the
        # first record TC for the start, so black from the start to the first event says where it is.
        writer = render(writer.first)
    return "\n".join(writer.lines) + "\n"


def edl_video_tracks(timeline: otio.schema.Timeline) -> list[int]:
    """The video tracks (1-based) that get an EDL: those holding at least one clip, V1 also when an
    audio track does (the audio is written with V1). A timeline with no video track writes its audio
    as "V1". Empty when nothing at all can be written."""
    tracks = [t for t in timeline.tracks if isinstance(t, otio.schema.Track)]
    videos = [t for t in tracks if t.kind == otio.schema.TrackKind.Video]
    audio_clips = any(
        isinstance(item, otio.schema.Clip) for t in tracks if t.kind == otio.schema.TrackKind.Audio for item in t
    )
    numbers = [n for n, t in enumerate(videos, start=1) if any(isinstance(i, otio.schema.Clip) for i in t)]
    if audio_clips and 1 not in numbers:
        numbers.insert(0, 1)
    return numbers
