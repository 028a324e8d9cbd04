"""The music-montage planner: cuts on the beat, pace from the tempo and the style, best takes first.

Deterministic and offline. What it promises (each one a tested property):
- the edit starts at record frame 0 and every later cut lands on a beat frame (a downbeat where
  the style cuts on downbeats and the piece is a bar or longer); it ends on the beat nearest the
  target duration, so the length is within one beat of the brief;
- pace: a piece holds 1, 2 or 4 beats or 1, 2 or 4 bars, whichever lands inside the style's
  shot-length bounds (seconds) for the music's energy over the next bar (``Pacing.shot_bounds``,
  divided by the brief's ``pace``): the same style paces alike at 90 and 160 BPM, and cuts faster
  where the music is loud; pieces of two beats or more end where the bar does; section changes
  always get a cut;
- each used range lies inside one shot, one frame clear of both boundaries (a cut detected a
  frame late never flashes the next shot), unless the style allows ranges across shots;
- the best take: shots set aside by ``planner.scoring.set_aside_shots`` (the weaker of
  near-duplicates, pictures far below the library's quality) are used only when nothing else can
  fill the time (a warning says so), and the plan lists them with the reason;
- shots are ranked by quality, by how well their motion suits the energy and the section (calm
  intro/outro, lively peak: the story arc), by the interest of their best free stretch, by
  freshness, and must-include clips come first; each cut goes in at the most interesting free
  stretch of its shot (``Shot.interest``), after the shot's previous use where that is as good
  (story order); each cut's reason says why;
- variety: never the same clip twice in a row when there is more than one clip, never the same
  shot twice in a row; no clip order that repeats with a period (``period_penalty``); no source
  frame appears more than the style's ``reuse_limit`` times.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from fractions import Fraction

from analysis.models import AnalysisResult, ClipAnalysis, MusicAnalysis, Shot
from kernel.timebase import rescale_frames, seconds_to_frames
from planner.brief import Brief
from planner.errors import PlanningError
from planner.models import Cut, EditPlan, MusicBed, SetAsideShot, Transition
from planner.remote_ops import remote_ops_for
from planner.scoring import (
    SetAside,
    energy_near,
    range_interest,
    section_label,
    set_aside_shots,
    shot_motion,
    shot_quality,
    target_motion,
)
from planner.style import Style
from planner.timeline_setup import (
    beat_frames,
    beat_period_seconds,
    downbeat_frames,
    half_beat_times,
    intro_bar_times,
    music_in_frames,
    music_markers,
    timeline_setup,
)

PLANNER_NAME = "heuristic.music_montage/1"
GUARD_FRAMES = 1


@dataclass
class Source:
    """One shot as material: the usable range ``[lo, hi)`` (clip frames) and the ranges used so far.

    Where a piece goes in the shot (its in-point) is chosen by :meth:`place`: the most interesting
    stretch (``Shot.interest``) among those whose frames are used least, a little after the last
    use (story order), never covering any frame more than the reuse limit allows."""

    clip: ClipAnalysis
    shot_index: int
    shot: Shot
    lo: int
    hi: int
    margin: int = 0  # clip frames kept free at both ends of the shot for dissolve handles
    set_aside: str | None = None  # why the planners leave this shot out while better material exists
    uses: list[tuple[int, int]] = field(default_factory=list)  # used source ranges, in the order used
    quality: float = 0.0  # ranking measures, computed once (see planner.scoring)
    motion: float = 0.5
    order: int = 0  # position in the analysis, for deterministic ties
    rate_index: int = 0  # which distinct clip rate (hashing Fractions per candidate is slow)
    _spots: dict[tuple[int, int], tuple[int, int, float] | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.quality = shot_quality(self.shot, self.clip.media.rate)
        self.motion = shot_motion(self.shot)

    @property
    def key(self) -> tuple[str, int]:
        return (self.clip.id, self.shot_index)

    @property
    def used(self) -> bool:
        return bool(self.uses)

    @property
    def passes(self) -> int:
        """Most times any frame of the shot is covered already (0 when unused)."""
        return self.coverage(self.lo, self.hi)

    def coverage(self, a: int, b: int) -> int:
        """How many used ranges cover the most-covered frame of ``[a, b)``."""
        if not self.uses:
            return 0
        edges = sorted(
            [(max(a, u), 1) for u, v in self.uses if u < b and v > a]
            + [(min(b, v), -1) for u, v in self.uses if u < b and v > a]
        )
        most = depth = 0
        for _, step in edges:
            depth += step
            most = max(most, depth)
        return most

    @property
    def peak_interest(self) -> float:
        """The most interest any stretch of the shot can have (0.5 without a curve)."""
        return max(self.shot.interest) if self.shot.interest else 0.5

    def interest(self, a: int, b: int) -> float:
        """Mean picture interest of ``[a, b)`` (see planner.scoring.range_interest)."""
        return range_interest(self.shot, a, b)

    def place(self, src_len: int, reuse_limit: int) -> tuple[int, bool] | None:
        """Where a range of ``src_len`` clip frames would start, and whether it reuses frames."""
        spot = self.best_spot(src_len, reuse_limit)
        return None if spot is None else (spot[0], spot[1] > 0)

    def best_spot(self, src_len: int, reuse_limit: int) -> tuple[int, int, float] | None:
        """``(start, frames' prior coverage, interest)`` of the best range of ``src_len`` frames:
        the least-covered ranges first, then the most interesting, with a small bonus for starting
        after the previous use (story order); None when no range stays under ``reuse_limit``."""
        key = (src_len, reuse_limit)
        if key in self._spots:
            return self._spots[key]
        lo, hi = self.lo + self.margin, self.hi - self.margin
        best: tuple[tuple[int, float], tuple[int, int, float]] | None = None
        if src_len > 0 and lo + src_len <= hi:
            room = hi - src_len - lo
            steps = min(room, IN_POINT_CANDIDATES)
            starts = sorted({lo + round(k * room / steps) for k in range(steps + 1)} if steps else {lo})
            after = self.uses[-1][1] if self.uses else None
            for start in starts:
                covered = self.coverage(start, start + src_len)
                if covered >= reuse_limit:
                    continue
                interest = self.interest(start, start + src_len)
                rank = interest + (STORY_BONUS if after is not None and start >= after else 0.0)
                candidate = ((covered, -rank), (start, covered, interest))
                if best is None or candidate[0] < best[0]:
                    best = candidate
        spot = best[1] if best is not None else None
        self._spots[key] = spot
        return spot

    def take(self, start: int, src_len: int) -> None:
        self.uses.append((start, start + src_len))
        self._spots.clear()


IN_POINT_CANDIDATES = 24  # in-points tried per shot and length (evenly spaced over the free room)
STORY_BONUS = 0.08  # interest bonus for a range after the shot's previous use (keeps story order)


def make_sources(
    clips: list[ClipAnalysis],
    allow_across_shots: bool,
    handle_frames: int = 0,
    rate: Fraction | None = None,
    set_aside: dict[tuple[str, int], SetAside] | None = None,
) -> list[Source]:
    """Every shot as material (or every clip as one piece when ranges may cross shots).

    ``handle_frames`` (timeline frames at ``rate``) are kept free at both ends of a shot where the
    style dissolves, so a dissolve has source frames to overlap. ``set_aside`` (planner.scoring)
    marks the shots to leave out while better material exists (a whole clip across shots only
    when every one of its shots is set aside)."""
    set_aside = set_aside or {}
    out: list[Source] = []
    for clip in clips:
        shots = clip.shots
        asides = [set_aside.get((clip.id, k)) for k in range(len(shots))]
        if allow_across_shots:
            best = max((s.quality for s in shots if s.quality is not None), key=lambda q: q.score, default=None)
            # One piece of material: its interest curve would mix unequal slices, so none (the middle).
            shots = [Shot(start=shots[0].start, end=shots[-1].end, quality=best)]
            asides = [asides[0] if all(asides) else None]
        for index, shot in enumerate(shots):
            guard = GUARD_FRAMES if shot.length > 4 * GUARD_FRAMES else 0
            lo, hi = shot.start + guard, min(shot.end, clip.media.frames or shot.end) - guard
            margin = rescale_frames(handle_frames, rate, clip.media.rate) if handle_frames and rate else 0
            aside = asides[index]
            why = aside.reason if aside is not None else None
            if hi - lo > 2 * margin:
                out.append(Source(clip, index, shot, lo, hi, margin, why))
            elif hi > lo:
                out.append(Source(clip, index, shot, lo, hi, 0, why))
    rates: dict[Fraction, int] = {}
    for order, src in enumerate(out):
        src.order = order
        src.rate_index = rates.setdefault(src.clip.media.rate, len(rates))
    return out


@dataclass
class Piece:
    """A stretch of the timeline to fill with one shot; frames at the timeline rate."""

    rec_in: int
    rec_out: int
    energy: float
    label: str
    section_start: bool = False
    beats: list[int] = field(default_factory=list)  # the grid frames from rec_in to rec_out, inclusive
    bounds: tuple[float, float] | None = None  # the style's shot-length bounds here, seconds
    cut: Cut | None = field(default=None, repr=False)


@dataclass
class MusicWindow:
    """The part of the song the edit uses: music in (s, file time) and why; the end is chosen on
    the grid (see :func:`_piece_grid`)."""

    source_in: float
    why: str
    fade_in_seconds: float = 0.0
    intro_bars: bool = False  # the edit starts inside a beatless intro: cuts there on bar lines


MIN_INTRO_SECONDS = 0.25  # a first beat this close to the top is the top


def choose_music_window(music: MusicAnalysis, target: float, longest_shot_seconds: float) -> MusicWindow:
    """Where the music starts under the edit (``target`` seconds long, capped at the song).

    As an editor would: a song that starts on its beat starts at the top; an intro without a beat
    plays under the opening shot when one shot can hold it; otherwise the edit starts on the
    first downbeat, where the first phrase begins, and the intro is skipped. When the song is too
    short for that, the start moves back into the intro on a bar line counted back from the first
    downbeat (or the top), with a fade-in, so the edit still ends inside the song.
    """
    grid = music.beat_grid
    beats = grid.beats
    if not beats:
        raise PlanningError(f"{music.name}: no beats to cut on")
    first_beat = beats[0]
    first_down = beats[0] if grid.pulse == "none" or not grid.downbeats else min(grid.downbeats)
    latest = music.duration_seconds - target + 1e-6  # the latest start that still fits the target
    if first_beat < MIN_INTRO_SECONDS:
        return MusicWindow(0.0, "starts at the top of the song, on its first beat")
    if first_beat <= longest_shot_seconds and first_beat <= latest:
        return MusicWindow(
            0.0, f"starts at the top: the {first_beat:.2f} s intro before the first beat plays under the opening shot"
        )
    if first_down <= latest:
        return MusicWindow(
            first_down,
            f"starts on the first downbeat ({first_down:.2f} s), where the first phrase begins: "
            f"the {first_beat:.2f} s intro without a beat is skipped",
        )
    bars = [t for t in intro_bar_times(music) if t <= latest]
    start = max(bars) if bars else 0.0
    fade = min(2.0, beat_period_seconds(music) * max(1, grid.beats_per_bar))
    return MusicWindow(
        start,
        f"starts {'on a bar line counted back from the first downbeat' if bars else 'at the top'} "
        f"({start:.2f} s), inside the {first_beat:.2f} s intro without a beat: the song is too short "
        f"to skip it; fades in over {fade:.2f} s",
        fade_in_seconds=fade,
        intro_bars=True,
    )


def _piece_grid(
    analysis: AnalysisResult, rate: Fraction, target_seconds: float, window: MusicWindow
) -> tuple[list[int], set[int], set[int], float, str]:
    """Cut candidates (0, then beat frames up to the end beat, record frames), downbeats,
    section-start frames, the beat period in frames, and how the end was chosen.

    The end is the downbeat nearest the target when one lies within a beat of it (a bar ends
    there), else the beat nearest the target. Inside a beatless intro the candidates are bar
    lines counted back from the first downbeat. Sections start at the analysed sections and where
    the music comes back after a silence of a beat or longer."""
    music = analysis.music
    assert music is not None
    offset = window.source_in
    beats = [f for f in beat_frames(music, rate, offset) if f > 0]
    downs = downbeat_frames(music, rate, offset)
    if window.intro_bars:
        bars = [seconds_to_frames(t - offset, rate) for t in intro_bar_times(music) if t > offset]
        beats = sorted({*beats, *[f for f in bars if f > 0]})
        downs |= set(bars)
    if not beats:
        raise PlanningError(f"{music.name}: no beats to cut on after {offset:.2f} s")
    end_target = seconds_to_frames(target_seconds, rate)
    period_s = beat_period_seconds(music)
    reach = seconds_to_frames(period_s, rate)
    near_downs = [f for f in beats if f in downs and abs(f - end_target) <= reach]
    if near_downs:
        last = min(near_downs, key=lambda f: (abs(f - end_target), f))
        how = "the downbeat nearest the target (a bar ends there)"
    else:
        last = min(beats, key=lambda f: (abs(f - end_target), f))
        how = "the beat nearest the target"
    grid = [0, *[f for f in beats if f <= last]]
    diffs = sorted(b - a for a, b in zip(grid[1:], grid[2:])) or [grid[-1]]
    period = float(diffs[len(diffs) // 2])
    starts = [s.start for s in music.sections[1:]]
    starts += [s.end for s in music.silences if s.end - s.start >= period_s and s.start > 0]
    sections = set()
    for start in starts:
        frame = seconds_to_frames(start, rate) - music_in_frames(offset, rate)
        nearest = min(grid, key=lambda f: abs(f - frame))
        if 0 < nearest < grid[-1]:
            sections.add(nearest)
    return grid, downs, sections, period, how


def plan_pieces(
    brief: Brief,
    style: Style,
    analysis: AnalysisResult,
    rate: Fraction,
    target: float,
    window: MusicWindow | None = None,
) -> list[Piece]:
    """Split the timeline into pieces on the beat grid, sized by the energy over the next bar.

    Each piece holds 1, 2 or 4 beats, or 1, 2 or 4 bars: the count whose length lands inside the
    style's shot-length bounds for that energy (``Pacing.shot_bounds``, divided by the brief's
    pace), nearest the middle of the bounds, so the pace in seconds is the style's at any tempo.
    Pieces of two beats or more end where the bar does (a 2-beat piece on beat 1 or 3, a bar on
    the downbeat) when that is within half the piece. ``window`` is the part of the song under
    the edit (default: from the top)."""
    music = analysis.music
    assert music is not None
    window = window or MusicWindow(0.0, "")
    grid, downs, section_starts, period, _ = _piece_grid(analysis, rate, target, window)
    pacing = style.pacing
    bpb = max(1, music.beat_grid.beats_per_bar)
    counts = sorted({1, 2, 4, bpb, 2 * bpb, 4 * bpb})
    min_beats = max(1, math.ceil(pacing.min_shot_seconds * float(rate) / period - 1e-9))
    min_frames = seconds_to_frames(pacing.min_shot_seconds, rate)
    total = float(grid[-1] / rate)
    position = _bar_positions(grid, downs)
    pieces: list[Piece] = []
    i = 0
    while i < len(grid) - 1:
        t = float(grid[i] / rate) + window.source_in  # music time
        energy = energy_near(music, t, span=bpb * period / float(rate))
        lo, hi = pacing.shot_bounds(energy)
        lo, hi = lo / brief.pace, hi / brief.pace
        n = _beats_to_hold(grid, i, counts, rate, lo, hi)
        j = min(i + n, len(grid) - 1)
        if n >= 2 and j < len(grid) - 1:
            # End where the bar does: a bar-long piece on a downbeat, a 2-beat piece on beat 1 or 3.
            unit = bpb if n >= bpb else n
            reach = max(1, n // 2)
            nearby = range(max(i + 1, j - reach), min(len(grid) - 1, j + reach) + 1)
            aligned = [k for k in nearby if position[k] % unit == 0 and grid[k] - grid[i] >= min_frames]
            if aligned:
                j = min(aligned, key=lambda k: (abs(k - j), k))
        # Irregular grids (a first beat just after 0, a tempo wobble) must not make flash frames.
        while j < len(grid) - 1 and grid[j] - grid[i] < min_frames:
            j += 1
        inside = [k for k in range(i + 1, j) if grid[k] in section_starts]
        if inside:
            j = inside[0]
        if len(grid) - 1 - j < min_beats or grid[-1] - grid[j] < min_frames:
            j = len(grid) - 1  # a stub at the end joins the last piece
        label = _label(music, t, t - window.source_in, total, pacing.high_energy)
        if pieces and grid[j] - grid[i] < min_frames:
            # Too short before a section change: the previous piece runs on to it instead.
            last = pieces[-1]
            last.rec_out = grid[j]
            last.beats = last.beats + grid[i + 1 : j + 1]
        else:
            pieces.append(Piece(grid[i], grid[j], energy, label, grid[i] in section_starts, grid[i : j + 1], (lo, hi)))
        i = j
    return pieces


def _bar_positions(grid: list[int], downs: set[int]) -> list[int]:
    """Each grid frame's beat number within its bar (0 on a downbeat); counted from the start
    when the grid has no downbeat before it."""
    out: list[int] = []
    count = 0
    for k, frame in enumerate(grid):
        count = 0 if frame in downs else (count + 1 if k else 0)
        out.append(count)
    return out


def _beats_to_hold(grid: list[int], i: int, counts: list[int], rate: Fraction, lo: float, hi: float) -> int:
    """How many grid steps the piece at ``grid[i]`` holds: of ``counts``, one whose length (s) lies
    in ``[lo, hi]``, nearest the middle of the bounds (geometric mean); when none does (a tempo
    too slow or fast for every count), the one nearest the bounds."""
    middle = math.sqrt(lo * hi)
    best: tuple[float, float, int] | None = None
    for n in counts:
        j = min(i + n, len(grid) - 1)
        seconds = float((grid[j] - grid[i]) / rate)
        if seconds <= 0:
            continue
        outside = math.log(lo / seconds) if seconds < lo else math.log(seconds / hi) if seconds > hi else 0.0
        key = (outside, abs(math.log(seconds / middle)), n)
        if best is None or key < best:
            best = key
        if j == len(grid) - 1:
            break
    return best[2] if best is not None else 1


def _label(music: MusicAnalysis, t_music: float, t_edit: float, total: float, high_energy: float) -> str:
    """The section under music time ``t_music``; without analysed sections, the arc of the edit
    (first 15 % intro, last 15 % outro, loud stretches peak) by edit time ``t_edit`` of ``total`` s."""
    if music.sections:
        return section_label(music, t_music, total + t_music - t_edit, high_energy)
    if total > 0 and t_edit < 0.15 * total:
        return "intro"
    if total > 0 and t_edit >= 0.85 * total:
        return "outro"
    return "peak" if energy_near(music, t_music) >= high_energy else "build"


@dataclass
class _Choice:
    source: Source
    start: int
    src_len: int
    rewound: bool
    score: float
    interest: float = 0.0  # picture interest of the chosen range (0..1)
    why: str = ""  # what decided it, for the cut's reason


MOTION_WEIGHT = 0.6
INTEREST_WEIGHT = 0.4  # a shot's most interesting stretch counts beside its picture quality
MUST_BONUS = 2.0
PERIOD_PENALTY = 0.35  # choosing a clip that repeats the last few clips' pattern a whole period over
LONGEST_PERIOD = 16  # clip patterns up to this long count as a rotation


def period_penalty(history: list[str], clip_id: str) -> float:
    """How much picking ``clip_id`` next would make the clip order a rotation: 0 unless the order
    ending in it repeats with some period ``p`` (2..LONGEST_PERIOD) for a whole period or more;
    then ``PERIOD_PENALTY`` and a tenth more for every further clip the repetition has lasted.
    An editor's order is driven by the material, so no pattern should keep recurring."""
    seq = [*history[-3 * LONGEST_PERIOD :], clip_id]
    worst = 0.0
    for p in range(2, LONGEST_PERIOD + 1):
        run = 0
        k = len(seq) - 1
        while k - p >= 0 and seq[k] == seq[k - p]:
            run += 1
            k -= 1
        if run >= p:
            worst = max(worst, PERIOD_PENALTY + 0.1 * (run - p))
    return worst


def _choose(
    ranked: list[Source],
    piece: Piece,
    rate: Fraction,
    style: Style,
    history: list[str],
    previous: Source | None,
    must: set[str],
    multi_clip: bool,
    reuse_limit: int,
    peak_interest: float = 1.0,
) -> _Choice | None:
    """The best source for ``piece`` under the variety rules (strict first, then relaxed).

    A source's score: its quality, how well its motion suits the music here, the interest of its
    best free stretch, minus reuse (frames already used, a shot already used, a clip used in the
    last three cuts, a clip order that would repeat with a period). ``ranked`` is every source,
    must-include clips' first, each group by quality; everything but quality, motion and interest
    only subtracts, so the scan stops as soon as no later source could beat the best so far:
    exact, and fast on big libraries.
    """
    rec_len = piece.rec_out - piece.rec_in
    want_motion = target_motion(style.pacing.prefer_motion, piece.energy, piece.label)
    lengths: dict[int, int] = {}  # the piece's length in source frames, per source-rate index
    recent = history[-3:]
    penalties: dict[str, float] = {}
    ceiling = MOTION_WEIGHT + INTEREST_WEIGHT * (peak_interest - 0.5)  # the most any source adds to quality
    for strictness in (2, 1):
        best: _Choice | None = None
        for src in ranked:
            is_must = src.clip.id in must
            if best is not None and not is_must and src.quality + ceiling < best.score:
                break  # must-include sources come first in ``ranked``, so none is skipped here
            if previous is not None:
                if src is previous:
                    continue
                if strictness == 2 and multi_clip and src.clip.id == previous.clip.id:
                    continue
            src_len = lengths.get(src.rate_index)
            if src_len is None:
                src_len = lengths[src.rate_index] = rescale_frames(rec_len, rate, src.clip.media.rate)
            spot = src.best_spot(src_len, reuse_limit)
            if spot is None:
                continue
            start, covered, interest = spot
            fit = 1.0 - abs(src.motion - want_motion)
            score = src.quality + MOTION_WEIGHT * fit + INTEREST_WEIGHT * (interest - 0.5)
            score -= 0.5 * covered
            score -= 0.25 * (1 if src.used else 0)
            score -= 0.3 * recent.count(src.clip.id)
            if src.clip.id not in penalties:
                penalties[src.clip.id] = period_penalty(history, src.clip.id) if multi_clip else 0.0
            score -= penalties[src.clip.id]
            if is_must:
                score += MUST_BONUS
            score -= src.order * 1e-7  # deterministic tie-break: analysis order
            if best is None or score > best.score:
                why = (
                    "a must-include clip"
                    if is_must
                    else (f"quality {src.quality:.2f}, motion {src.motion:.2f} for a wanted {want_motion:.2f}")
                )
                best = _Choice(src, start, src_len, covered > 0, score, interest, why)
        if best is not None:
            return best
    return None


def _extend_through(previous: Cut, source: Source, new_rec_out: int, rate: Fraction, reuse_limit: int) -> bool:
    """Lengthen ``previous`` (same shot, contiguous) instead of making an invisible through-edit."""
    src_len = rescale_frames(new_rec_out - previous.record_in, rate, source.clip.media.rate)
    new_out = previous.source_in + src_len
    if new_out > source.hi or source.coverage(previous.source_out, new_out) >= reuse_limit:
        return False
    previous.source_out = new_out
    previous.record_out = new_rec_out
    source.uses[-1] = (previous.source_in, new_out)
    source._spots.clear()
    return True


@dataclass
class FillReport:
    """What filling the pieces had to give way on (each becomes a line in the plan's warnings)."""

    repeats: list[str] = field(default_factory=list)  # back-to-back clip repeats
    half_beats: int = 0  # pieces split on a half beat: no shot was long enough for a beat
    reuse_limit: int = 0  # the reuse limit reached when the style's had to be relaxed (0: not relaxed)
    set_aside_used: bool = False  # set-aside shots had to be admitted: nothing else could fill the time


# When the footage runs out under the style's reuse limit, the limit is relaxed up to this many
# passes over each frame (with a warning) before the planner gives up: an editor short of
# footage reuses shots rather than leave the cut unfinished.
MAX_REUSE = 6
HALF_BEAT_MIN_SECONDS = 0.2  # no half-beat piece shorter than this: a flash, not a shot


def fill_pieces(
    pieces: list[Piece],
    sources: list[Source],
    rate: Fraction,
    style: Style,
    brief: Brief,
    music_name: str,
    halves: dict[int, int] | None = None,
    min_piece: int = 1,
) -> tuple[list[tuple[Cut, Source]], FillReport]:
    """Give every piece a shot. Set-aside shots (``Source.set_aside``: weaker near-duplicates,
    damaged pictures) are not candidates unless their clip is a must-include. A piece no shot can
    fill is, in order: given a relaxed reuse limit when the footage ran out rather than being too
    short; split beat by beat; joined to the previous cut when that shot runs on; filled from the
    set-aside shots (said in the plan); split on its half beat (``halves``: beat frame → the record
    frame half-way to the next beat). PlanningError only when none of that works. No split on
    beats makes a piece shorter than ``min_piece`` frames (a flash: the beat period or the style's
    shortest shot, whichever is shorter).

    Returns the placed cuts with their sources, and what had to give way."""
    must = set(brief.must_include)
    active = [s for s in sources if s.set_aside is None or s.clip.id in must] or list(sources)
    multi_clip = len({s.clip.id for s in active}) > 1
    placed: list[tuple[Cut, Source]] = []
    history: list[str] = []
    queue = list(pieces)
    ranked: list[Source] = []
    ranked_for: tuple[set[str], int] | None = None
    peak_interest = 1.0
    report = FillReport()
    halves = halves or {}
    half_min = seconds_to_frames(HALF_BEAT_MIN_SECONDS, rate)
    reuse_limit = style.rules.reuse_limit
    while queue:
        piece = queue.pop(0)
        previous = placed[-1][1] if placed else None
        if ranked_for != (must, len(active)):  # re-rank only when the must-include set or material changes
            ranked = sorted(active, key=lambda s: (s.clip.id not in must, -s.quality, s.order))
            ranked_for = (set(must), len(active))
            peak_interest = max((s.peak_interest for s in active), default=0.5)
        choice = _choose(ranked, piece, rate, style, history, previous, must, multi_clip, reuse_limit, peak_interest)
        if choice is None:
            rec_len = piece.rec_out - piece.rec_in
            # Would one more pass over the footage fill it (the footage ran out, it is not too short)?
            fits_somewhere = any(
                s is not previous and s.place(rescale_frames(rec_len, rate, s.clip.media.rate), reuse_limit + 1)
                for s in active
            )
            if fits_somewhere and reuse_limit < max(MAX_REUSE, style.rules.reuse_limit):
                # The footage ran out, it is not too short: reuse before cutting faster.
                reuse_limit += 1
                report.reuse_limit = reuse_limit
                queue.insert(0, piece)
                continue
            pieces_ = _split(piece, min_piece)
            if pieces_:
                queue[:0] = pieces_
                continue
            if previous is not None and _extend_through(placed[-1][0], previous, piece.rec_out, rate, reuse_limit):
                continue
            if len(active) < len(sources):
                # Nothing better can fill it: the set-aside shots are the material left.
                active = list(sources)
                multi_clip = len({s.clip.id for s in active}) > 1
                report.set_aside_used = True
                queue.insert(0, piece)
                continue
            pieces_ = _split_half(piece, halves, half_min)
            if pieces_:
                report.half_beats += 1
                queue[:0] = pieces_
                continue
            reason = (
                f"the footage runs out at {float(piece.rec_in / rate):.1f} s even with every frame used "
                f"{reuse_limit} times (style {style.name}: reuse limit {style.rules.reuse_limit}): add footage "
                "or shorten the duration"
                if fits_somewhere
                else f"no shot is long enough for half a beat of {music_name} at {float(piece.rec_in / rate):.1f} s "
                f"(longest usable shot is {max((s.hi - s.lo for s in sources), default=0)} frames): "
                "add longer footage or slower music"
            )
            raise PlanningError(reason)
        src = choice.source
        if multi_clip and previous is not None and src.clip.id == previous.clip.id:
            report.repeats.append(
                f"{src.clip.id} repeats back to back at frame {piece.rec_in}: no other clip has a shot that fits"
            )
        src.take(choice.start, choice.src_len)
        must.discard(src.clip.id)
        history.append(src.clip.id)
        cut = Cut(
            clip_id=src.clip.id,
            source_in=choice.start,
            source_out=choice.start + choice.src_len,
            record_in=piece.rec_in,
            record_out=piece.rec_out,
            reason=_cut_reason(piece, choice, rate),
        )
        piece.cut = cut
        placed.append((cut, src))
    return placed, report


def _cut_reason(piece: Piece, choice: _Choice, rate: Fraction) -> str:
    """Why this shot, this long, from this in-point: the plan's note for the editor."""
    src = choice.source
    seconds = float((piece.rec_out - piece.rec_in) / rate)
    beats = len(piece.beats) - 1
    pace = f"{beats} beat{'s' if beats != 1 else ''}, {seconds:.2f} s"
    if piece.bounds is not None:
        pace += f" (style: {piece.bounds[0]:.2g}-{piece.bounds[1]:.2g} s here)"
    in_seconds = float((choice.start - src.shot.start) / src.clip.media.rate)
    where = f"in {in_seconds:.2f} s into the shot, its most interesting free stretch (interest {choice.interest:.2f})"
    text = (
        f"{piece.label}, energy {piece.energy:.2f}, {pace}: shot {src.shot_index + 1} of {src.clip.id} — "
        f"{choice.why}; {where}"
    )
    if choice.rewound:
        text += "; reuses frames (footage is short)"
    if src.set_aside is not None:
        text += f"; set-aside shot used because nothing else fits ({src.set_aside})"
    return text


def _split(piece: Piece, min_frames: int = 0) -> list[Piece]:
    """Halve a piece on its beats (so both halves still start and end on beats), neither half
    shorter than ``min_frames``; [] for one beat or when every split would make a flash."""
    beats = piece.beats
    fair = [k for k in range(1, len(beats) - 1) if beats[k] - beats[0] >= min_frames <= beats[-1] - beats[k]]
    if not fair:
        return []
    mid = min(fair, key=lambda k: (abs(k - len(beats) // 2), k))
    return [
        Piece(beats[0], beats[mid], piece.energy, piece.label, piece.section_start, beats[: mid + 1], piece.bounds),
        Piece(beats[mid], beats[-1], piece.energy, piece.label, False, beats[mid:], piece.bounds),
    ]


def _split_half(piece: Piece, halves: dict[int, int], min_frames: int) -> list[Piece]:
    """Split a one-beat piece on its half beat; [] when it has none or a half would be a flash."""
    if len(piece.beats) != 2:
        return []
    mid = halves.get(piece.rec_in)
    if mid is None or mid - piece.rec_in < min_frames or piece.rec_out - mid < min_frames:
        return []
    return [
        Piece(piece.rec_in, mid, piece.energy, piece.label, piece.section_start, [piece.rec_in, mid], piece.bounds),
        Piece(mid, piece.rec_out, piece.energy, piece.label, False, [mid, piece.rec_out], piece.bounds),
    ]


def add_dissolves(placed: list[tuple[Cut, Source]], pieces: list[Piece], style: Style, rate: Fraction) -> int:
    """Turn cuts into dissolves where the style's rules say so and both shots have the handles.

    Returns how many dissolves were wanted but had no handles (they stay hard cuts)."""
    rules = style.transitions
    if rules.dissolve_frames < 2 or not (rules.dissolve_at or rules.default == "dissolve"):
        return 0
    by_start = {p.rec_in: p for p in pieces}
    missing = 0
    for (prev, prev_src), (cut, src) in zip(placed, placed[1:]):
        piece = by_start.get(cut.record_in)
        wanted = rules.default == "dissolve" or "all" in rules.dissolve_at
        if piece is not None:
            wanted = wanted or ("section_change" in rules.dissolve_at and piece.section_start)
            wanted = wanted or ("low_energy" in rules.dissolve_at and piece.energy < style.pacing.low_energy)
        if not wanted:
            continue
        frames = min(rules.dissolve_frames, prev.record_duration, cut.record_duration)
        head = frames // 2
        tail = frames - head
        before = rescale_frames(head, rate, src.clip.media.rate)
        after = rescale_frames(tail, rate, prev_src.clip.media.rate)
        if frames >= 2 and cut.source_in - before >= src.lo and prev.source_out + after <= prev_src.hi:
            cut.transition_in = Transition(kind="dissolve", frames=frames)
        else:
            missing += 1
    return missing


def plan_music_montage(analysis: AnalysisResult, brief: Brief, style: Style) -> EditPlan:
    """Plan a montage to ``analysis.music`` following ``brief`` and ``style`` (see module doc)."""
    music = analysis.music
    if music is None:
        raise PlanningError("a music montage needs music: pass --music FILE or set music in the brief")
    clips = [c for c in analysis.clips if c.media.has_video and c.shots]
    if not clips:
        raise PlanningError("no usable video clips to cut")
    setup = timeline_setup(clips, brief.rate, brief.aspect or style.aspect or "16:9")
    rate = setup.rate
    target = min(brief.target_duration_seconds or min(music.duration_seconds, 60.0), music.duration_seconds)
    rules = style.transitions
    handles = (rules.dissolve_frames + 1) // 2 if rules.dissolve_at or rules.default == "dissolve" else 0
    aside = set_aside_shots(analysis)
    sources = make_sources(clips, style.rules.allow_across_shots, handles, rate, aside)
    longest = max((float((s.hi - s.lo) / s.clip.media.rate) for s in sources if s.set_aside is None), default=0.0)
    window = choose_music_window(music, target, longest)
    _, _, _, _, end_how = _piece_grid(analysis, rate, target, window)
    pieces = plan_pieces(brief, style, analysis, rate, target, window)
    offset = music_in_frames(window.source_in, rate)
    halves: dict[int, int] = {}
    beats = music.beat_grid.beats
    for t in half_beat_times(music):
        # the beat before the half (record frame) -> the half (record frame)
        k = max(0, bisect.bisect_right(beats, t) - 1)
        halves[seconds_to_frames(beats[k], rate) - offset] = seconds_to_frames(t, rate) - offset
    beat_len = seconds_to_frames(beat_period_seconds(music), rate) - 1  # frame rounding: beats vary by one
    min_piece = max(1, min(seconds_to_frames(style.pacing.min_shot_seconds, rate), beat_len))
    placed, report = fill_pieces(pieces, sources, rate, style, brief, music.name, halves, min_piece)
    cuts = [c for c, _ in placed]
    warnings = [f"{c.media.name}: variable frame rate" for c in clips if c.media.variable_frame_rate]
    warnings += report.repeats
    warnings += _music_notes(music, window, report, style)
    used_shots = {src.key for _, src in placed}
    if report.set_aside_used:
        warnings.append(
            "set-aside shots (weaker duplicates or damaged pictures) fill part of the edit: nothing else fits; "
            "add footage to leave them out"
        )
    missing = add_dissolves(placed, pieces, style, rate)
    if missing:
        warnings.append(f"{missing} dissolve(s) became hard cuts: the shots have no handles for them")
    used = {c.clip_id for c in cuts}
    known = {c.id for c in analysis.clips}
    for clip_id in brief.must_include:
        if clip_id not in known:
            warnings.append(f"must-include clip {clip_id!r} is not in the analysis")
        elif clip_id not in used:
            warnings.append(f"must-include clip {clip_id!r} has no shot that fits the edit")
    if not any(s.quality is not None for c in clips for s in c.shots):
        warnings.append("no shot quality in the analysis: shots ranked by length")
    if not music.energy and not music.sections:
        warnings.append(f"{music.name}: no energy curve or sections: pace is constant")
    end = cuts[-1].record_out
    bar_seconds = beat_period_seconds(music) * max(1, music.beat_grid.beats_per_bar)
    fade_out = min(seconds_to_frames(min(FADE_OUT_SECONDS, bar_seconds), rate), end // 4)
    fade_in = min(seconds_to_frames(window.fade_in_seconds, rate), end // 4)
    music_out = window.source_in + float(end / rate)
    return EditPlan(
        name=brief.name,
        **setup.plan_fields(),
        cuts=cuts,
        music=MusicBed(
            path=str(music.path),
            record_in=0,
            record_out=end,
            source_in_seconds=window.source_in,
            source_out_seconds=round(music_out, 6),
            fade_in_frames=fade_in,
            fade_out_frames=fade_out,
            reason=f"in at {window.source_in:.2f} s: {window.why}; out at {music_out:.2f} s: {end_how}, "
            f"with a {float(fade_out / rate):.2f} s fade-out",
        ),
        markers=music_markers(music, rate, end, window.source_in),
        planner=PLANNER_NAME,
        warnings=warnings,
        aspect=brief.aspect or style.aspect or "16:9",
        mode="music_montage",
        style=style.name,
        remote_ops=remote_ops_for(clips, cuts, setup.width, setup.height, style.rules.stabilize_shake),
        set_aside=set_aside_list(aside, used_shots),
    )


def set_aside_list(aside: dict[tuple[str, int], SetAside], used: set[tuple[str, int]]) -> list[SetAsideShot]:
    """The plan's list of set-aside shots, in analysis order, each saying whether it was used anyway."""
    return [SetAsideShot(clip_id=a.clip, shot=a.shot, reason=a.reason, used=key in used) for key, a in aside.items()]


FADE_OUT_SECONDS = 2.0  # the music's own fade at the end of the edit: a bar, at most this long


def _music_notes(music: MusicAnalysis, window: MusicWindow, report: FillReport, style: Style) -> list[str]:
    """The plan-summary lines for every fallback the music or the footage forced."""
    notes = []
    pulse = music.beat_grid.pulse
    if pulse == "variable":
        notes.append(f"{music.name}: the tempo is not steady (drift, ramp or rubato): cuts follow the tracked beats")
    elif pulse == "none":
        notes.append(
            f"{music.name}: no clear beat: cuts on its strongest onsets (chord changes, phrase starts) "
            "and half-way between them"
        )
    if window.intro_bars:
        notes.append(
            f"{music.name}: {window.why}; cuts in the intro fall on bar lines counted back from the first downbeat"
        )
    if report.half_beats:
        notes.append(f"{report.half_beats} beat(s) cut in half: no shot left was long enough for a whole beat")
    if report.reuse_limit:
        notes.append(
            f"footage reused up to {report.reuse_limit} times (style {style.name} allows {style.rules.reuse_limit}): "
            "add footage for more variety"
        )
    return notes
