"""Write OTIO timelines as CMX 3600 EDLs, frame-exact, without touching the input.

- ``FCM: DROP FRAME`` / ``NON-DROP FRAME`` from the timeline (``metadata.montage_bridge.drop_frame``,
  else the default for the rate), and record TCs counted from ``global_start_time``;
- one video track per EDL (``video_track`` picks it, 1-based) plus every audio track as ``A``/``A2``/
  ``A3``… events (written with the first video track only, so several EDLs never repeat the audio);
- dissolves as the CMX ``C`` + ``D nnn`` pair; a transition's in-offset is folded into the cut (the
  outgoing shot ends, and the dissolve starts, ``in_offset`` frames earlier), which shows the same
  frames;
- 8-character reels with ``* FROM CLIP NAME:`` and ``* FROM FILE:`` comments, ``* LOC:`` markers;
- ``M2`` lines for LinearTimeWarp / FreezeFrame.

Source timecodes are written at the timeline rate (an EDL has one rate); mixed-rate clips are
rescaled with the project's one rounding rule and listed by the loss report.
"""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio

from analysis.timebase import frames_to_timecode, rescale_frames
from nle_adapters.edl.common import make_reel
from nle_adapters.errors import UnsupportedFeature
from nle_adapters.timeline_facts import (
    META,
    ClipTime,
    TimelineTime,
    clip_time,
    frames_at,
    media_url,
    timeline_time,
    url_to_path,
)

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


def _reel(clip: otio.schema.Clip) -> str:
    metadata = clip.metadata
    if not len(metadata):
        metadata = {}
    for key in (META, "cmx_3600"):
        if key in metadata:
            meta = metadata[key]
            if hasattr(meta, "keys") and "reel" in meta and meta["reel"]:
                return make_reel(str(meta["reel"]))
    url = media_url(clip)
    return make_reel(url_to_path(url) if url else clip.name or "AX")


def _speed(clip: otio.schema.Clip) -> float | None:
    """The clip's speed as a factor (1.0 = normal), or None when it has no time effect."""
    for effect in clip.effects:
        if isinstance(effect, otio.schema.FreezeFrame):
            return 0.0
        if isinstance(effect, otio.schema.LinearTimeWarp):
            return float(effect.time_scalar)
    return None


class _Writer:
    def __init__(self, timeline: otio.schema.Timeline) -> None:
        self.time: TimelineTime = timeline_time(timeline)
        self.lines: list[str] = []
        self.number = 0

    def tc(self, frames: int) -> str:
        return frames_to_timecode(frames, self.time.rate, self.time.drop_frame)

    def event(
        self, reel: str, channel: str, trans: str, s_in: int, s_out: int, r_in: int, r_out: int, new: bool = True
    ) -> None:
        if new:
            self.number += 1
        kind = f"{trans:<4} {'':3}" if trans == "C" else f"{trans[0]:<4} {int(trans[1:]):03d}"
        self.lines.append(
            f"{self.number:03d}  {reel:<8} {channel:<5} {kind} "
            f"{self.tc(s_in)} {self.tc(s_out)} {self.tc(r_in)} {self.tc(r_out)}"
        )

    def source_frames(self, clip: otio.schema.Clip, ct: ClipTime) -> tuple[int, int, float | None]:
        """Source in/out at the timeline rate (EDL sources share the record rate), and the speed."""
        s_in = ct.source_in if ct.rate == self.time.rate else rescale_frames(ct.source_in, ct.rate, self.time.rate)
        speed = _speed(clip)
        if speed is None:
            return s_in, s_in + ct.duration, None
        span = int(Fraction(ct.duration) * Fraction(speed).limit_denominator(10000) + Fraction(1, 2))
        return s_in, s_in + max(span, 1 if speed == 0 else span), speed

    def comments(self, clip: otio.schema.Clip) -> None:
        self.lines.append(f"* FROM CLIP NAME:  {clip.name}")
        url = media_url(clip)
        if url:
            self.lines.append(f"* FROM FILE: {url_to_path(url)}")

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
        previous: tuple[str, int, int] | None = None  # reel and source out of the last clip, for "from" halves
        for index, item in enumerate(items):
            if isinstance(item, otio.schema.Transition):
                pending = item
                continue
            duration = frames_at(item.source_range.duration, rate) if item.source_range else 0
            if isinstance(item, otio.schema.Clip):
                ct = clip_time(item, rate)
                reel = _reel(item)
                s_in, s_out, speed = self.source_frames(item, ct)
                r_in, r_out = start + position, start + position + duration
                # An in-offset on the next transition ends this shot early: the dissolve starts there.
                nxt = items[index + 1] if index + 1 < len(items) else None
                cut_back = frames_at(nxt.in_offset, rate) if isinstance(nxt, otio.schema.Transition) else 0
                cut_back = min(cut_back, duration)
                if pending is not None and previous is not None:
                    lead = frames_at(pending.in_offset, rate)
                    length = lead + frames_at(pending.out_offset, rate)
                    reel_prev, prev_out = previous
                    self.event(reel_prev, channel, "C", prev_out, prev_out, r_in - lead, r_in - lead)
                    self.event(
                        _reel(item),
                        channel,
                        f"D{length}",
                        s_in - lead,
                        s_out - cut_back,
                        r_in - lead,
                        r_out - cut_back,
                        new=False,
                    )
                else:
                    self.event(reel, channel, "C", s_in, s_out - cut_back, r_in, r_out - cut_back)
                if speed is not None:
                    fps = float(rate) * speed
                    self.lines.append(f"M2   {reel:<8}       {fps:05.1f}                {self.tc(s_in)}")
                self.comments(item)
                self.markers(item, ct, r_in)
                previous = (reel, s_out - cut_back)
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
    writer = _Writer(timeline)
    title = timeline.name or "Untitled"
    if len(videos) > 1:
        title = f"{title} V{video_track}"
    writer.lines.append(f"TITLE: {title}")
    writer.lines.append(f"FCM: {'DROP FRAME' if writer.time.drop_frame else 'NON-DROP FRAME'}")
    if videos:
        writer.track(videos[video_track - 1], "V")
    if include_audio is None:
        include_audio = video_track == 1
    if include_audio:
        for number, track in enumerate(audios, start=1):
            writer.track(track, "A" if number == 1 else f"A{number}")
    return "\n".join(writer.lines) + "\n"
