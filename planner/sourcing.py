"""Shot sourcing: for every :class:`ShotNeed`, where its picture comes from, and why.

For each need, in order of preference:

1. **On-screen text** (the need asks for a title, caption, lower third, end card …) → a **title** card.
2. **Footage**: the best :mod:`planner.shot_search` match for the need's description (its words, and
   the looks it names — dark, still, people … — against the analysis's measures) whose score is at
   least ``threshold`` and whose shot still has ``need.seconds`` free (a range already given to an
   earlier need is never used again). The range starts at the matched spoken words (else at the
   start of the shot's free part, so the rest stays in one piece) and stays inside the shot.
3. **Generation** on the GPU worker, with a tool from the catalogue for the mode:

   * ``first_last_frame`` when the need is a **transition** (it says transition, bridge, morph …) and
     the shots before and after it come from footage: the last frame of the one and the first frame
     of the other are the two ends of the bridge;
   * ``image_to_video`` from a frame of the best *partial* match (score at least ``partial_threshold``,
     on more than the shot's length or shape), so the generated shot looks like the rest of the footage
     ("a dog at night" over footage without dogs: a frame of a dark shot);
   * ``text_to_video`` from the description otherwise.
4. A **title** card with the description when no tool can generate it.

Every choice carries a reason for the editor and up to :data:`MAX_ALTERNATIVES` alternatives, best
first: footage that scored lower (ranges nobody else uses, so the estimate step can swap generation
for footage when over budget), other tools for the same mode (cheaper ones), and a title card as the
last resort. Transitions are sourced after every other need, so a bridge knows its neighbours.

The generation tool comes from a :class:`ToolChooser`: ``mode → tool ids, best first``. With a
catalogue (:mod:`planner.tool_catalogue`) the best quality tool of the mode is first, cheaper ones
follow; :func:`chooser_from_tools` makes one from a plain list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from analysis.models import AnalysisResult
from planner.brief import Brief
from planner.llm_schemas import BeatSheet, ShotList
from planner.production import (
    GenerateMode,
    ImageRef,
    ProductionPlan,
    ProductionShot,
    ShotNeed,
    ShotSource,
)
from planner.shot_search import SearchError, SearchHit, ShotIndex
from planner.tool_catalogue import ToolCatalogue

FOOTAGE_THRESHOLD = 0.45  # share of the need's words a shot must match to be used as it is
PARTIAL_THRESHOLD = 0.15  # … to lend a frame to image-to-video
MAX_ALTERNATIVES = 4
MAX_CANDIDATES = 60  # best search hits considered per need
DEFAULT_SHOT_SECONDS = 4.0
_EPS = 0.02  # seconds: ranges that touch do not overlap; a range this much short still fits

_TITLE = re.compile(
    r"\b(title cards?|titles?|intertitles?|captions?|text cards?|lower thirds?|end cards?|credits|"
    r"on-screen text|text on screen|slate)\b",
    re.I,
)
_TRANSITION = re.compile(r"\b(transitions?|transitional|bridge|bridging|morph(s|ing)?|segue|dissolve into)\b", re.I)
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{1,500})[\"“”«»]")

ToolChooser = Callable[[GenerateMode], list[str]]


def chooser_from_catalogue(catalogue: ToolCatalogue) -> ToolChooser:
    """Tool ids for a mode from the catalogue: best quality first, then cheaper per output second."""

    def choose(mode: GenerateMode) -> list[str]:
        tools = list(catalogue.generators(mode))  # cheapest first
        order = {t.id: k for k, t in enumerate(tools)}
        return [t.id for t in sorted(tools, key=lambda t: (-t.quality, order[t.id]))]

    return choose


def chooser_from_tools(tools: Sequence[tuple[str, Sequence[GenerateMode]]]) -> ToolChooser:
    """Tool ids for a mode from ``[(tool id, modes it makes), ...]``, in the order given."""

    def choose(mode: GenerateMode) -> list[str]:
        return [tool for tool, modes in tools if mode in modes]

    return choose


# ---------------------------------------------------------------------------------------------- needs


def needs_from_descriptions(descriptions: Sequence[str], total_seconds: float | None = None) -> list[ShotNeed]:
    """One need per description, the total (if given) shared equally, else DEFAULT_SHOT_SECONDS each."""
    texts = [" ".join(d.split()) for d in descriptions]
    texts = [t for t in texts if t]
    if not texts:
        return []
    each = DEFAULT_SHOT_SECONDS if total_seconds is None else min(600.0, max(0.5, total_seconds / len(texts)))
    return [ShotNeed(index=k, description=t[:2000], seconds=round(each, 3)) for k, t in enumerate(texts)]


def needs_from_brief(brief: Brief) -> list[ShotNeed]:
    """The brief's own shot list (``shots = ["…", "…"]``), sharing its target duration when it has one."""
    return needs_from_descriptions(brief.shots, brief.target_duration_seconds)


def needs_from_beats(beats: BeatSheet) -> list[ShotNeed]:
    """One need per story beat of the LLM planner's beat sheet: what it is for, for its target length."""
    needs = []
    for k, beat in enumerate(beats.beats):
        text = f"{beat.title}: {beat.purpose}" if beat.purpose else beat.title
        needs.append(
            ShotNeed(index=k, description=text[:2000], seconds=min(600.0, beat.target_seconds), beat=beat.title)
        )
    return needs


def needs_from_shot_list(
    shots: ShotList, analysis: AnalysisResult | None = None, beat: str | None = None
) -> list[ShotNeed]:
    """One need per pick of the LLM planner's shot list: its reason says what the shot must show (the
    picked shot's description, or the clip and range, when the model gave no reason)."""
    needs = []
    for k, pick in enumerate(shots.shots):
        text = pick.reason.strip()
        if not text and analysis is not None:
            text = _description_at(analysis, pick.clip_id, pick.source_in_seconds) or ""
        if not text:
            text = f"{pick.clip_id} {pick.source_in_seconds:.1f}-{pick.source_out_seconds:.1f} s"
        seconds = min(600.0, max(0.04, pick.source_out_seconds - pick.source_in_seconds))
        needs.append(ShotNeed(index=k, description=text[:2000], seconds=seconds, beat=beat))
    return needs


def _description_at(analysis: AnalysisResult, clip_id: str, seconds: float) -> str | None:
    for clip in analysis.clips:
        if clip.id == clip_id and clip.media.has_video:
            fps = float(clip.media.rate)
            for shot in clip.shots:
                if shot.start / fps <= seconds < shot.end / fps:
                    return shot.description
    return None


def is_title(need: ShotNeed) -> bool:
    return bool(_TITLE.search(need.description))


def is_transition(need: ShotNeed) -> bool:
    return bool(_TRANSITION.search(need.description) or (need.beat and _TRANSITION.search(need.beat)))


# ---------------------------------------------------------------------------------------------- sourcing


@dataclass
class _Choice:
    source: ShotSource
    alternatives: list[ShotSource]


class _Sourcer:
    def __init__(
        self,
        analysis: AnalysisResult,
        choose_tool: ToolChooser,
        threshold: float,
        partial_threshold: float,
    ) -> None:
        self.analysis = analysis
        self.index = ShotIndex(analysis)
        self.choose_tool = choose_tool
        self.threshold = threshold
        self.partial_threshold = partial_threshold
        self.used: dict[str, list[tuple[float, float]]] = {}
        self.fps = {c.id: float(c.media.rate) for c in analysis.clips if c.media.has_video}
        self.notes: list[str] = []

    # -- footage ranges
    def _free_range(self, hit: SearchHit, seconds: float) -> tuple[float, float] | None:
        """A ``seconds`` long range inside the hit's shot, free of used ranges, as near the matched
        part as it can be (overlapping it when that part is smaller than the shot)."""
        start, end = hit.shot_in_seconds, hit.shot_out_seconds
        if end - start < seconds - _EPS:
            return None
        free = [(start, end)]
        for u_in, u_out in self.used.get(hit.clip_id, []):
            nxt = []
            for a, b in free:
                if u_out <= a + _EPS or u_in >= b - _EPS:
                    nxt.append((a, b))
                    continue
                if u_in - a >= 0.04:
                    nxt.append((a, u_in))
                if b - u_out >= 0.04:
                    nxt.append((u_out, b))
            free = nxt
        length = min(seconds, end - start)
        focused = hit.source_out_seconds - hit.source_in_seconds < end - start - _EPS  # spoken words matched
        best: tuple[float, float, float] | None = None
        for a, b in free:
            if b - a < length - _EPS:
                continue
            # From the matched words on (they open the shot), else from the start of the free part, so
            # what is left of the shot stays in one piece for the next need.
            lo = max(a, min(hit.source_in_seconds, b - length)) if focused else a
            distance = abs(lo - hit.source_in_seconds)
            if best is None or distance < best[0]:
                best = (distance, lo, min(b, lo + length))
        if best is None:
            return None
        _, lo, hi = best
        # Spoken words that matched must be in the range, not just near it.
        if focused and (hi <= hit.source_in_seconds + _EPS or lo >= hit.source_out_seconds - _EPS):
            return None
        return round(lo, 3), round(hi, 3)

    def _footage(self, hit: SearchHit, span: tuple[float, float], primary: bool) -> ShotSource:
        lead = "best match" if primary else "footage"
        rule = f" ≥ {self.threshold:.2f}" if hit.score >= self.threshold else f" < {self.threshold:.2f}"
        reason = f"{lead}: {hit.clip_name} {span[0]:.2f}-{span[1]:.2f} s (score {hit.score:.2f}{rule}; {hit.why})"
        return ShotSource(
            kind="footage",
            reason=reason[:2000],
            clip_id=hit.clip_id,
            source_in_seconds=span[0],
            source_out_seconds=span[1],
            match_score=min(1.0, hit.score),
        )

    def _candidates(self, need: ShotNeed) -> tuple[list[SearchHit], list[tuple[SearchHit, tuple[float, float]]]]:
        """(every video hit, best first; the hits with a free range of the need's length)."""
        try:
            hits = [h for h in self.index.search(need.description, limit=MAX_CANDIDATES) if h.has_video]
        except SearchError:
            return [], []
        fitting = []
        for hit in hits:
            span = self._free_range(hit, need.seconds)
            if span is not None:
                fitting.append((hit, span))
        return hits, fitting

    def _take(self, clip_id: str, span: tuple[float, float]) -> None:
        self.used.setdefault(clip_id, []).append(span)

    # -- generation
    def _generate(
        self,
        mode: GenerateMode,
        need: ShotNeed,
        reason: str,
        image: ImageRef | None = None,
        last: ImageRef | None = None,
    ) -> list[ShotSource]:
        """One source per tool for ``mode``, best first (empty when no tool makes it)."""
        return [
            ShotSource(
                kind="generate",
                reason=f"{reason} with {tool}"[:2000],
                tool=tool,
                mode=mode,
                prompt=need.description[:4000],
                image=image,
                last_image=last,
            )
            for tool in self.choose_tool(mode)
        ]

    def _frame(self, hit: SearchHit) -> ImageRef:
        """The frame of a hit that conditions generation: the middle of what matched."""
        seconds = (hit.source_in_seconds + hit.source_out_seconds) / 2
        fps = self.fps.get(hit.clip_id, 25.0)
        return ImageRef(clip_id=hit.clip_id, seconds=round(min(seconds, hit.shot_out_seconds - 1 / fps), 3))

    def _title(self, need: ShotNeed, reason: str) -> ShotSource:
        quoted = _QUOTED.search(need.description)
        text = (quoted.group(1) if quoted else need.description).strip()
        return ShotSource(kind="title", reason=reason[:2000], text=text[:500] or "Title")

    # -- one need
    def source(self, need: ShotNeed, bridge: tuple[ShotSource, ShotSource] | None = None) -> _Choice:
        desc = _short(need.description)
        hits, fitting = self._candidates(need)
        good = [(h, s) for h, s in fitting if h.score >= self.threshold]
        below = [(h, s) for h, s in fitting if h.score < self.threshold]

        if is_title(need):
            alternatives = [self._footage(h, s, False) for h, s in fitting[: MAX_ALTERNATIVES - 1]]
            return _Choice(self._title(need, f"'{desc}' asks for on-screen text: a title card"), alternatives)

        if bridge is not None:
            before, after = bridge
            assert before.clip_id is not None and after.clip_id is not None
            assert before.source_out_seconds is not None and after.source_in_seconds is not None
            fps = self.fps.get(before.clip_id, 25.0)
            first = ImageRef(clip_id=before.clip_id, seconds=round(max(0.0, before.source_out_seconds - 1 / fps), 3))
            last = ImageRef(clip_id=after.clip_id, seconds=round(after.source_in_seconds, 3))
            why = (
                f"transition: a bridge from the last frame of {before.clip_id} ({first.seconds:.2f} s) "
                f"to the first frame of {after.clip_id} ({last.seconds:.2f} s), first/last-frame generation"
            )
            made = self._generate("first_last_frame", need, why, first, last)
            if made:
                alternatives = made[1:] + [self._footage(h, s, False) for h, s in fitting]
                alternatives.append(self._title(need, "a title card instead of the bridge"))
                return _Choice(made[0], alternatives[:MAX_ALTERNATIVES])
            self.notes.append(f"shot {need.index + 1}: no first_last_frame tool for the bridge; sourced as any shot")

        if good:
            hit, span = good[0]
            self._take(hit.clip_id, span)
            alternatives = [self._footage(h, s, False) for h, s in fitting[1:] if not _overlaps(h, s, hit, span)]
            alternatives = alternatives[: MAX_ALTERNATIVES - 1]
            made = self._generate("text_to_video", need, f"generate '{desc}' from its description")
            alternatives += made[:1]
            return _Choice(self._footage(hit, span, True), alternatives[:MAX_ALTERNATIVES])

        best = hits[0] if hits else None
        if best is None:
            why = "no footage matches its words"
        elif not good and any(h.score >= self.threshold for h in hits):
            strong = next(h for h in hits if h.score >= self.threshold)
            length = strong.shot_out_seconds - strong.shot_in_seconds
            where = (
                f"the footage that matches ({strong.clip_name} shot at {strong.shot_in_seconds:.2f} s, "
                f"score {strong.score:.2f})"
            )
            if length < need.seconds - _EPS:
                why = f"{where} is {length:.2f} s long, shorter than the {need.seconds:g} s needed"
            else:
                why = f"{where} has no {need.seconds:g} s left that an earlier shot does not use"
        else:
            why = (
                f"no footage matches well enough (best: {best.clip_name}, "
                f"score {best.score:.2f} < {self.threshold:.2f})"
            )
        footage_alts = [self._footage(h, s, False) for h, s in below[: MAX_ALTERNATIVES - 1]]
        partial = next((h for h in hits if h.score >= self.partial_threshold and _about_the_picture(h)), None)
        generated: list[ShotSource] = []
        if partial is not None:
            frame = self._frame(partial)
            generated = self._generate(
                "image_to_video",
                need,
                f"{why}; image-to-video from the closest shot's frame ({partial.clip_name} at "
                f"{frame.seconds:.2f} s, score {partial.score:.2f}: {partial.why})",
                frame,
            )
        generated += self._generate("text_to_video", need, f"{why}; generate '{desc}' from its description")
        if generated:
            alternatives = generated[1:2] + footage_alts + [self._title(need, "a title card instead")]
            return _Choice(generated[0], alternatives[:MAX_ALTERNATIVES])
        return _Choice(
            self._title(need, f"{why}, and the catalogue has no tool that generates video: a title card"),
            footage_alts,
        )


def _memo(choose: ToolChooser) -> ToolChooser:
    """``choose`` asked once per mode (a catalogue reads its database each time)."""
    seen: dict[str, list[str]] = {}

    def chosen(mode: GenerateMode) -> list[str]:
        if mode not in seen:
            seen[mode] = list(choose(mode))
        return seen[mode]

    return chosen


def _about_the_picture(hit: SearchHit) -> bool:
    """Does the hit match more than the shot's length or shape (a long shot is no model for "a long walk")?"""
    shape_only = {m.word for m in hit.features if m.feature in ("seconds", "aspect")}
    return any(word not in shape_only for word in hit.matched)


def _overlaps(hit: SearchHit, span: tuple[float, float], other: SearchHit, other_span: tuple[float, float]) -> bool:
    return hit.clip_id == other.clip_id and span[0] < other_span[1] - _EPS and other_span[0] < span[1] - _EPS


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def source_shots(
    needs: list[ShotNeed],
    analysis: AnalysisResult,
    brief: Brief,
    catalogue: ToolCatalogue | None = None,
    *,
    choose_tool: ToolChooser | None = None,
    threshold: float = FOOTAGE_THRESHOLD,
    partial_threshold: float = PARTIAL_THRESHOLD,
) -> ProductionPlan:
    """A production plan with a source, a reason and alternatives for every need (estimates empty:
    :mod:`planner.estimate` fills them). ``choose_tool`` wins over ``catalogue``; with neither,
    nothing can be generated and shots without footage become title cards."""
    if choose_tool is None:
        choose_tool = chooser_from_catalogue(catalogue) if catalogue is not None else (lambda mode: [])
    choose_tool = _memo(choose_tool)
    sourcer = _Sourcer(analysis, choose_tool, threshold, partial_threshold)
    ordered = sorted(needs, key=lambda n: n.index)
    chosen: dict[int, _Choice] = {}
    for need in ordered:
        if not is_transition(need):
            chosen[need.index] = sourcer.source(need)
    for k, need in enumerate(ordered):
        if not is_transition(need):
            continue
        before = chosen.get(ordered[k - 1].index) if k > 0 else None
        after = chosen.get(ordered[k + 1].index) if k + 1 < len(ordered) else None
        ends = None
        if before and after and before.source.kind == "footage" and after.source.kind == "footage":
            ends = (before.source, after.source)
        chosen[need.index] = sourcer.source(need, bridge=ends)
    shots = [
        ProductionShot(need=n, source=chosen[n.index].source, alternatives=chosen[n.index].alternatives)
        for n in ordered
    ]
    counts = {kind: sum(1 for s in shots if s.source.kind == kind) for kind in ("footage", "generate", "title")}
    notes = [
        f"{counts['footage']} shot(s) from footage, {counts['generate']} generated, {counts['title']} title card(s)",
        *sourcer.notes,
    ]
    if counts["generate"] == 0 and not any(choose_tool(m) for m in ("text_to_video", "image_to_video")):
        notes.append("no generation tool is available: shots without footage are title cards")
    return ProductionPlan(
        name=brief.name,
        currency=catalogue.settings().currency if catalogue is not None else "USD",
        shots=shots,
        budget=brief.budget,
        deadline_seconds=brief.deadline_seconds,
        notes=notes,
    )
