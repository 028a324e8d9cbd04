"""The foundation's music-montage planner: cuts on beats, each used range inside one shot.

Deterministic and offline. Rules:
- the edit starts with the music at record frame 0; every later cut lands on a beat frame
  (the beat time rounded to the nearest timeline frame);
- each piece lasts ``beats_per_cut`` beats, falling back to fewer when no shot is long enough;
- a used range lies inside one shot, ``guard`` frames clear of both boundaries, so a cut detected
  a frame late still never shows a flash of the next shot;
- consecutive pieces come from different clips whenever there is more than one clip;
- a shot is used front to back before any of it is used again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from analysis.errors import MontageError
from analysis.models import AnalysisResult, ClipAnalysis, Shot
from analysis.timebase import default_drop_frame, rescale_frames, seconds_to_frames
from planner.models import Cut, EditPlan, MusicBed, PlanMarker

PLANNER_NAME = "heuristic.beat_sync/1"


class PlanningError(MontageError):
    """The footage and music cannot make the requested edit."""


@dataclass
class _Slot:
    clip: ClipAnalysis
    shot: Shot
    cursor: int

    @property
    def lo(self) -> int:
        return self.shot.start


def choose_timeline_rate(clips: list[ClipAnalysis]) -> Fraction:
    """The rate most clips share; ties go to the clip that sorts first (deterministic)."""
    counts = Counter(c.media.rate for c in clips)
    best = max(counts.values())
    return next(c.media.rate for c in clips if counts[c.media.rate] == best)


def _slots(clips: list[ClipAnalysis], guard: int) -> list[_Slot]:
    """Shots interleaved across clips (clip A shot 1, clip B shot 1, …) for variety."""
    per_clip = [[s for s in c.shots] for c in clips]
    out: list[_Slot] = []
    depth = max((len(s) for s in per_clip), default=0)
    for i in range(depth):
        for clip, shots in zip(clips, per_clip):
            if i < len(shots):
                shot = shots[i]
                g = guard if shot.length > 4 * guard else 0
                inner = Shot(start=shot.start + g, end=shot.end - g)
                out.append(_Slot(clip=clip, shot=inner, cursor=inner.start))
    return out


def plan_beat_montage(
    analysis: AnalysisResult,
    *,
    duration_seconds: float | None = None,
    beats_per_cut: int = 2,
    rate: Fraction | None = None,
    drop_frame: bool | None = None,
    start_timecode: str | None = None,
    name: str = "Montage",
    guard: int = 1,
) -> EditPlan:
    """Plan a montage cut to ``analysis.music``'s beats, ``duration_seconds`` long (default: the
    music's length, at most 60 s). Frames are timeline frames at ``rate`` (default: the clips'
    most common rate)."""
    if analysis.music is None:
        raise PlanningError("a music montage needs music: pass --music FILE")
    clips = [c for c in analysis.clips if c.media.has_video and c.shots]
    if not clips:
        raise PlanningError("no usable video clips to cut")
    rate = rate or choose_timeline_rate(clips)
    drop = default_drop_frame(rate) if drop_frame is None else drop_frame
    start_tc = start_timecode or ("01:00:00;00" if drop else "01:00:00:00")
    music = analysis.music
    target = min(duration_seconds or min(music.duration_seconds, 60.0), music.duration_seconds)
    beat_frames = sorted({seconds_to_frames(b, rate) for b in music.beat_grid.beats if b < music.duration_seconds})
    end_limit = seconds_to_frames(target, rate)
    # Boundaries: 0, then beats; the edit ends on the beat nearest the target duration.
    inner_beats = [f for f in beat_frames if f > 0]
    if not inner_beats:
        raise PlanningError(f"{music.name}: no beats to cut on")
    last = min(inner_beats, key=lambda f: (abs(f - end_limit), f))
    candidates = [0, *[f for f in inner_beats if f <= last]]

    slots = _slots(clips, guard)
    cuts: list[Cut] = []
    i = 0
    rotation = 0
    previous_clip: str | None = None
    multi = len({c.id for c in clips}) > 1
    repeats: list[str] = []
    while i < len(candidates) - 1:
        placed = False
        for n in range(beats_per_cut, 0, -1):
            j = min(i + n, len(candidates) - 1)
            rec_in, rec_out = candidates[i], candidates[j]
            pick = _pick(slots, rotation, rec_out - rec_in, rate, previous_clip if multi else None)
            repeat = False
            if pick is None and multi:
                # Only the previous clip can hold this piece: a repeat beats no edit at all.
                pick = _pick(slots, rotation, rec_out - rec_in, rate, None)
                repeat = pick is not None
            if pick is None:
                continue
            slot_index, src_len = pick
            slot = slots[slot_index]
            if repeat:
                repeats.append(
                    f"{slot.clip.id} repeats back to back at frame {rec_in}: no other clip has a shot long enough"
                )
            cuts.append(
                Cut(
                    clip_id=slot.clip.id,
                    source_in=slot.cursor,
                    source_out=slot.cursor + src_len,
                    record_in=rec_in,
                    record_out=rec_out,
                    reason=f"{j - i} beat(s) from shot at {slot.shot.start}–{slot.shot.end} of {slot.clip.id}",
                )
            )
            slot.cursor += src_len
            previous_clip = slot.clip.id
            rotation = slot_index + 1
            i = j
            placed = True
            break
        if not placed:
            longest = max(s.shot.length for s in slots)
            raise PlanningError(
                f"no shot is long enough for one beat at {music.beat_grid.tempo_bpm:.1f} BPM "
                f"(longest usable shot is {longest} frames): add longer footage or slower music"
            )
    downbeats = {seconds_to_frames(b, rate) for b in music.beat_grid.downbeats}
    markers = [
        PlanMarker(frame=f, name="downbeat", kind="downbeat", color="RED")
        if f in downbeats
        else PlanMarker(frame=f, name="beat", kind="beat", color="BLUE")
        for f in beat_frames
        if f < candidates[-1]
    ]
    return EditPlan(
        name=name,
        rate=rate,
        start_timecode=start_tc,
        drop_frame=drop,
        width=max(c.media.width for c in clips),
        height=max(c.media.height for c in clips),
        cuts=cuts,
        music=MusicBed(path=str(music.path), record_in=0, record_out=candidates[-1]),
        markers=markers,
        planner=PLANNER_NAME,
        warnings=[f"{c.media.name}: variable frame rate" for c in clips if c.media.variable_frame_rate] + repeats,
    )


def _pick(slots: list[_Slot], start: int, record_len: int, rate: Fraction, avoid: str | None) -> tuple[int, int] | None:
    """First slot (in rotation from ``start``) with room for ``record_len`` timeline frames.

    When every shot is used up, cursors rewind (reuse) before giving up.
    """
    for attempt in range(2):
        for k in range(len(slots)):
            idx = (start + k) % len(slots)
            slot = slots[idx]
            if avoid is not None and slot.clip.id == avoid:
                continue
            src_len = rescale_frames(record_len, rate, slot.clip.media.rate)
            if src_len > 0 and slot.cursor + src_len <= slot.shot.end:
                return idx, src_len
        if attempt == 0:
            for slot in slots:
                slot.cursor = slot.lo
    return None
