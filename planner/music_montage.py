"""The music-montage planner: cuts on the beat, pace from the music's energy, best shots first.

Deterministic and offline. What it promises (each one a property test):
- the edit starts at record frame 0 and every later cut lands on a beat frame (a downbeat where
  the style cuts on downbeats and the piece is a bar or longer); it ends on the beat nearest the
  target duration, so the length is within one beat of the brief;
- pace: a piece lasts ``beats_per_bar / cuts_per_bar(energy)`` beats, where the style maps the
  music's energy over the next bar to cuts per bar and the brief's ``pace`` scales it; shot-length
  bounds clamp it; section changes always get a cut;
- each used range lies inside one shot, one frame clear of both boundaries (a cut detected a
  frame late never flashes the next shot), unless the style allows ranges across shots;
- shots are ranked by quality, by how well their motion suits the energy and the section (calm
  intro/outro, lively peak: the story arc), by freshness, and must-include clips come first;
- variety: never the same clip twice in a row when there is more than one clip, never the same
  shot twice in a row; no source frame appears more than the style's ``reuse_limit`` times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from analysis.models import AnalysisResult, ClipAnalysis, Shot
from analysis.timebase import rescale_frames, seconds_to_frames
from planner.brief import Brief
from planner.errors import PlanningError
from planner.models import Cut, EditPlan, MusicBed, Transition
from planner.remote_ops import remote_ops_for
from planner.scoring import energy_near, section_label, shot_motion, shot_quality, target_motion
from planner.style import Style
from planner.timeline_setup import beat_frames, downbeat_frames, music_markers, timeline_setup

PLANNER_NAME = "heuristic.music_montage/1"
GUARD_FRAMES = 1


@dataclass
class Source:
    """One shot as material: the usable range ``[lo, hi)`` (clip frames) and how much is used."""

    clip: ClipAnalysis
    shot_index: int
    shot: Shot
    lo: int
    hi: int
    cursor: int
    margin: int = 0  # clip frames kept free at both ends of the shot for dissolve handles
    passes: int = 0  # completed front-to-back passes; frames are covered at most passes + 1 times
    used: bool = False
    quality: float = 0.0  # ranking measures, computed once (see planner.scoring)
    motion: float = 0.5
    order: int = 0  # position in the analysis, for deterministic ties
    rate_index: int = 0  # which distinct clip rate (hashing Fractions per candidate is slow)

    def __post_init__(self) -> None:
        self.quality = shot_quality(self.shot, self.clip.media.rate)
        self.motion = shot_motion(self.shot)

    @property
    def key(self) -> tuple[str, int]:
        return (self.clip.id, self.shot_index)

    def place(self, src_len: int, reuse_limit: int) -> tuple[int, bool] | None:
        """Where a range of ``src_len`` clip frames would start, and whether that rewinds (reuse)."""
        lo, hi = self.lo + self.margin, self.hi - self.margin
        if src_len <= 0 or lo + src_len > hi:
            return None
        if self.cursor + src_len <= hi:
            return max(self.cursor, lo), False
        if self.passes + 1 < reuse_limit:
            return lo, True
        return None

    def take(self, start: int, src_len: int, rewound: bool) -> None:
        if rewound:
            self.passes += 1
        self.cursor = start + src_len
        self.used = True


def make_sources(
    clips: list[ClipAnalysis], allow_across_shots: bool, handle_frames: int = 0, rate: Fraction | None = None
) -> list[Source]:
    """Every shot as material (or every clip as one piece when ranges may cross shots).

    ``handle_frames`` (timeline frames at ``rate``) are kept free at both ends of a shot where the
    style dissolves, so a dissolve has source frames to overlap."""
    out: list[Source] = []
    for clip in clips:
        shots = clip.shots
        if allow_across_shots:
            best = max((s.quality for s in shots if s.quality is not None), key=lambda q: q.score, default=None)
            shots = [Shot(start=shots[0].start, end=shots[-1].end, quality=best)]
        for index, shot in enumerate(shots):
            guard = GUARD_FRAMES if shot.length > 4 * GUARD_FRAMES else 0
            lo, hi = shot.start + guard, min(shot.end, clip.media.frames or shot.end) - guard
            margin = rescale_frames(handle_frames, rate, clip.media.rate) if handle_frames and rate else 0
            if hi - lo > 2 * margin:
                out.append(Source(clip, index, shot, lo, hi, lo + margin, margin))
            elif hi > lo:
                out.append(Source(clip, index, shot, lo, hi, lo))
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
    cut: Cut | None = field(default=None, repr=False)


def _piece_grid(
    analysis: AnalysisResult, rate: Fraction, target_seconds: float
) -> tuple[list[int], set[int], set[int], float]:
    """Cut candidates (0 then beat frames up to the end beat), downbeats, section-start frames,
    and the beat period in frames."""
    music = analysis.music
    assert music is not None
    beats = [f for f in beat_frames(music, rate) if f > 0]
    if not beats:
        raise PlanningError(f"{music.name}: no beats to cut on")
    end_target = seconds_to_frames(target_seconds, rate)
    last = min(beats, key=lambda f: (abs(f - end_target), f))
    grid = [0, *[f for f in beats if f <= last]]
    diffs = sorted(b - a for a, b in zip(grid[1:], grid[2:])) or [grid[-1]]
    period = float(diffs[len(diffs) // 2])
    sections = set()
    for section in music.sections[1:]:
        frame = seconds_to_frames(section.start, rate)
        nearest = min(grid, key=lambda f: abs(f - frame))
        if 0 < nearest < grid[-1]:
            sections.add(nearest)
    return grid, downbeat_frames(music, rate), sections, period


def plan_pieces(brief: Brief, style: Style, analysis: AnalysisResult, rate: Fraction, target: float) -> list[Piece]:
    """Split the timeline into pieces on the beat grid, sized by the energy over the next bar."""
    music = analysis.music
    assert music is not None
    grid, downs, section_starts, period = _piece_grid(analysis, rate, target)
    pacing = style.pacing
    bpb = max(1, music.beat_grid.beats_per_bar)
    min_beats = max(1, math.ceil(pacing.min_shot_seconds * float(rate) / period - 1e-9))
    max_beats = max(min_beats, math.floor(pacing.max_shot_seconds * float(rate) / period + 1e-9))
    min_frames = seconds_to_frames(pacing.min_shot_seconds, rate)
    total = float(grid[-1] / rate)
    pieces: list[Piece] = []
    i = 0
    while i < len(grid) - 1:
        t = float(grid[i] / rate)
        energy = energy_near(music, t, span=bpb * period / float(rate))
        cuts_per_bar = pacing.cuts_per_bar(energy) * brief.pace
        n = min(max_beats, max(min_beats, round(bpb / cuts_per_bar)))
        j = min(i + n, len(grid) - 1)
        if pacing.cut_on == "downbeat" and n >= bpb and j < len(grid) - 1:
            # Land on the nearest downbeat within half a bar, never shorter than min_beats.
            window = [k for k in range(max(i + min_beats, j - bpb // 2), min(len(grid) - 1, j + bpb // 2) + 1)]
            on_down = [k for k in window if grid[k] in downs]
            if on_down:
                j = min(on_down, key=lambda k: (abs(k - j), k))
        # Irregular grids (a first beat just after 0, a tempo wobble) must not make flash frames.
        while j < len(grid) - 1 and grid[j] - grid[i] < min_frames:
            j += 1
        inside = [k for k in range(i + 1, j) if grid[k] in section_starts]
        if inside:
            j = inside[0]
        if len(grid) - 1 - j < min_beats or grid[-1] - grid[j] < min_frames:
            j = len(grid) - 1  # a stub at the end joins the last piece
        label = section_label(music, t, total, pacing.high_energy)
        if pieces and grid[j] - grid[i] < min_frames:
            # Too short before a section change: the previous piece runs on to it instead.
            last = pieces[-1]
            last.rec_out = grid[j]
            last.beats = last.beats + grid[i + 1 : j + 1]
        else:
            pieces.append(Piece(grid[i], grid[j], energy, label, grid[i] in section_starts, grid[i : j + 1]))
        i = j
    return pieces


@dataclass
class _Choice:
    source: Source
    start: int
    src_len: int
    rewound: bool
    score: float


MOTION_WEIGHT = 0.6
MUST_BONUS = 2.0


def _choose(
    ranked: list[Source],
    piece: Piece,
    rate: Fraction,
    style: Style,
    recent: list[str],
    previous: Source | None,
    must: set[str],
    multi_clip: bool,
) -> _Choice | None:
    """The best source for ``piece`` under the variety rules (strict first, then relaxed).

    ``ranked`` is every source, must-include clips' first, each group by quality. A source's score
    is at most its quality + the motion weight (+ the must-include bonus), and everything else
    only subtracts, so the scan stops as soon as no later source could beat the best so far:
    exact, and fast on big libraries.
    """
    rec_len = piece.rec_out - piece.rec_in
    want_motion = target_motion(style.pacing.prefer_motion, piece.energy, piece.label)
    lengths: dict[int, int] = {}  # the piece's length in source frames, per source-rate index
    for strictness in (2, 1):
        best: _Choice | None = None
        for src in ranked:
            is_must = src.clip.id in must
            if best is not None and not is_must and src.quality + MOTION_WEIGHT < best.score:
                break  # must-include sources come first in ``ranked``, so none is skipped here
            if previous is not None:
                if src is previous:
                    continue
                if strictness == 2 and multi_clip and src.clip.id == previous.clip.id:
                    continue
            src_len = lengths.get(src.rate_index)
            if src_len is None:
                src_len = lengths[src.rate_index] = rescale_frames(rec_len, rate, src.clip.media.rate)
            spot = src.place(src_len, style.rules.reuse_limit)
            if spot is None:
                continue
            start, rewound = spot
            score = src.quality
            score += MOTION_WEIGHT * (1.0 - abs(src.motion - want_motion))
            score -= 0.5 * (src.passes + (1 if rewound else 0))
            score -= 0.25 * (1 if src.used else 0)
            score -= 0.3 * recent.count(src.clip.id)
            if is_must:
                score += MUST_BONUS
            score -= src.order * 1e-7  # deterministic tie-break: analysis order
            if best is None or score > best.score:
                best = _Choice(src, start, src_len, rewound, score)
        if best is not None:
            return best
    return None


def _extend_through(previous: Cut, source: Source, new_rec_out: int, rate: Fraction) -> bool:
    """Lengthen ``previous`` (same shot, contiguous) instead of making an invisible through-edit."""
    src_len = rescale_frames(new_rec_out - previous.record_in, rate, source.clip.media.rate)
    if previous.source_in + src_len > source.hi:
        return False
    previous.source_out = previous.source_in + src_len
    previous.record_out = new_rec_out
    source.cursor = previous.source_out
    return True


def fill_pieces(
    pieces: list[Piece], sources: list[Source], rate: Fraction, style: Style, brief: Brief, music_name: str
) -> tuple[list[tuple[Cut, Source]], list[str]]:
    """Give every piece a shot; a piece no shot can fill is split beat by beat before giving up.

    Returns the placed cuts with their sources, and a warning for each back-to-back clip repeat."""
    must = set(brief.must_include)
    multi_clip = len({s.clip.id for s in sources}) > 1
    placed: list[tuple[Cut, Source]] = []
    recent: list[str] = []
    queue = list(pieces)
    ranked: list[Source] = []
    ranked_for: set[str] | None = None
    repeats: list[str] = []
    while queue:
        piece = queue.pop(0)
        previous = placed[-1][1] if placed else None
        if ranked_for != must:  # re-rank only when the must-include set changes
            ranked = sorted(sources, key=lambda s: (s.clip.id not in must, -s.quality, s.order))
            ranked_for = set(must)
        choice = _choose(ranked, piece, rate, style, recent[-3:], previous, must, multi_clip)
        if choice is None:
            halves = _split(piece)
            if halves:
                queue[:0] = halves
                continue
            if previous is not None and _extend_through(placed[-1][0], previous, piece.rec_out, rate):
                continue
            rec_len = piece.rec_out - piece.rec_in
            reason = (
                f"the footage runs out at {float(piece.rec_in / rate):.1f} s with reuse limit "
                f"{style.rules.reuse_limit} (style {style.name}): add footage, shorten the duration, "
                "or use a style with a higher reuse_limit"
                if any(s.lo + rescale_frames(rec_len, rate, s.clip.media.rate) <= s.hi for s in sources)
                else f"no shot is long enough for one beat of {music_name} "
                f"(longest usable shot is {max((s.hi - s.lo for s in sources), default=0)} frames): "
                "add longer footage or slower music"
            )
            raise PlanningError(reason)
        src = choice.source
        if multi_clip and previous is not None and src.clip.id == previous.clip.id:
            repeats.append(
                f"{src.clip.id} repeats back to back at frame {piece.rec_in}: no other clip has a shot that fits"
            )
        src.take(choice.start, choice.src_len, choice.rewound)
        must.discard(src.clip.id)
        recent.append(src.clip.id)
        cut = Cut(
            clip_id=src.clip.id,
            source_in=choice.start,
            source_out=choice.start + choice.src_len,
            record_in=piece.rec_in,
            record_out=piece.rec_out,
            reason=(
                f"{piece.label}, energy {piece.energy:.2f}: shot {src.shot_index + 1} of {src.clip.id} "
                f"(quality {shot_quality(src.shot, src.clip.media.rate):.2f}, motion {shot_motion(src.shot):.2f})"
                + (" — reused" if choice.rewound or src.passes else "")
            ),
        )
        piece.cut = cut
        placed.append((cut, src))
    return placed, repeats


def _split(piece: Piece) -> list[Piece]:
    """Halve a piece on its beats (so both halves still start and end on beats); [] for one beat."""
    beats = piece.beats
    if len(beats) < 3:
        return []
    mid = len(beats) // 2
    return [
        Piece(beats[0], beats[mid], piece.energy, piece.label, piece.section_start, beats[: mid + 1]),
        Piece(beats[mid], beats[-1], piece.energy, piece.label, False, beats[mid:]),
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
    pieces = plan_pieces(brief, style, analysis, rate, target)
    rules = style.transitions
    handles = (rules.dissolve_frames + 1) // 2 if rules.dissolve_at or rules.default == "dissolve" else 0
    sources = make_sources(clips, style.rules.allow_across_shots, handles, rate)
    placed, repeats = fill_pieces(pieces, sources, rate, style, brief, music.name)
    cuts = [c for c, _ in placed]
    warnings = [f"{c.media.name}: variable frame rate" for c in clips if c.media.variable_frame_rate] + repeats
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
    return EditPlan(
        name=brief.name,
        **setup.plan_fields(),
        cuts=cuts,
        music=MusicBed(path=str(music.path), record_in=0, record_out=end),
        markers=music_markers(music, rate, end),
        planner=PLANNER_NAME,
        warnings=warnings,
        aspect=brief.aspect or style.aspect or "16:9",
        mode="music_montage",
        style=style.name,
        remote_ops=remote_ops_for(clips, cuts, setup.width, setup.height, style.rules.stabilize_shake),
    )
