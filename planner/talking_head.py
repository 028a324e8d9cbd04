"""The talking-head planner: tighten speech by cutting pauses and filler words.

From each clip's transcript (word timings when present, else segment timings):
- filler words (the brief's list, matched without punctuation or case) are dropped;
- words closer together than ``min_silence_seconds`` stay in one run, longer pauses are cut;
- each run keeps ``padding_seconds`` of room either side (runs whose padding meets are merged),
  never reaching into the previous or next sentence: a cut never splits a sentence's first or
  last word off, and trimming to the target drops whole sentences (key-message sentences last);
- used ranges are split at detected hard cuts so every cut lies inside one shot;
- optional J/L cuts: speech goes on A1 as cut; the picture cut moves ``jl_cut_frames`` earlier
  (L cut) or later (J cut), alternately, where the shots have the frames for it.

When no clip has a transcript, the clips with audio fall back to their non-silent spans
(``ClipAnalysis.silences``); when some do, clips without speech are left out (B-roll).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from fractions import Fraction

from analysis.models import AnalysisResult, ClipAnalysis, TranscriptSegment
from kernel.timebase import rescale_frames, seconds_to_frames
from planner.brief import Brief
from planner.errors import PlanningError
from planner.models import Cut, EditPlan, PlanMarker
from planner.style import Style
from planner.timeline_setup import timeline_setup

PLANNER_NAME = "heuristic.talking_head/1"
_WORD = re.compile(r"[\w']+")


@dataclass
class Sentence:
    """Kept speech spans of one sentence (seconds in the clip's file) and why it matters."""

    clip: ClipAnalysis
    spans: list[tuple[float, float]]
    text: str
    key_hits: int = 0

    @property
    def seconds(self) -> float:
        return sum(b - a for a, b in self.spans)


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _runs(segment: TranscriptSegment, fillers: set[str], min_silence: float) -> list[tuple[float, float, float, float]]:
    """Spans of non-filler speech in a segment, split at pauses of ``min_silence`` or more and at
    every filler word. Each span is ``(start, end, earliest, latest)``: padding may not reach
    past ``earliest``/``latest`` (the end/start of a cut filler), so a filler never creeps back."""
    words = segment.words or []
    if not words:
        if segment.end > segment.start and _norm(segment.text) and _norm(segment.text) not in fillers:
            return [(segment.start, segment.end, -1.0, float("inf"))]
        return []
    runs: list[list[float]] = []
    after_filler = -1.0
    broken = True
    for w in words:
        if w.end <= w.start:
            continue
        if _norm(w.text) in fillers:
            if runs and not broken:
                runs[-1][3] = w.start
            after_filler = w.end
            broken = True
            continue
        if runs and not broken and w.start - runs[-1][1] < min_silence:
            runs[-1][1] = max(runs[-1][1], w.end)
        else:
            runs.append([w.start, w.end, after_filler, float("inf")])
        broken = False
    return [(a, b, lo, hi) for a, b, lo, hi in runs]


def sentences_of(clip: ClipAnalysis, brief: Brief) -> list[Sentence]:
    """Padded speech spans per sentence; without a transcript, the clip's non-silent stretches."""
    duration = clip.media.frames / float(clip.media.rate)
    fillers = {_norm(w) for w in brief.filler_words}
    pad = brief.padding_seconds
    raw: list[tuple[list[tuple[float, float, float, float]], str]] = []
    cut_words: list[tuple[float, float]] = []  # every filler in the clip: padding never reaches into one
    if clip.transcript is not None and clip.transcript.segments:
        for seg in clip.transcript.segments:
            runs = _runs(seg, fillers, brief.min_silence_seconds)
            if runs:
                raw.append((runs, seg.text.strip()))
            cut_words.extend((w.start, w.end) for w in seg.words if _norm(w.text) in fillers)
    else:
        edges = [0.0]
        for quiet in sorted(clip.silences, key=lambda s: s.start):
            if quiet.end - quiet.start >= brief.min_silence_seconds:
                edges.extend([quiet.start, quiet.end])
        edges.append(duration)
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a > 0.05:
                raw.append(([(a, b, -1.0, float("inf"))], ""))
    filler_ends = sorted(e for _, e in cut_words)
    filler_starts = sorted(s for s, _ in cut_words)
    keys = [set(_norm(m).split()) for m in brief.key_messages]
    out: list[Sentence] = []
    for n, (runs, text) in enumerate(raw):
        # Padding stops halfway to the neighbouring sentence so the two never share frames.
        lo_limit = 0.0 if n == 0 else (raw[n - 1][0][-1][1] + runs[0][0]) / 2
        hi_limit = duration if n == len(raw) - 1 else (runs[-1][1] + raw[n + 1][0][0][0]) / 2
        padded: list[list[float]] = []
        for a, b, earliest, latest in runs:
            k = bisect.bisect_right(filler_ends, a)
            earliest = max(earliest, filler_ends[k - 1] if k else -1.0)
            k = bisect.bisect_left(filler_starts, b)
            latest = min(latest, filler_starts[k] if k < len(filler_starts) else float("inf"))
            a, b = max(lo_limit, earliest, a - pad), min(hi_limit, latest, b + pad)
            if padded and a <= padded[-1][1]:
                padded[-1][1] = max(padded[-1][1], b)
            else:
                padded.append([a, b])
        words = set(_norm(text).split())
        hits = sum(1 for k in keys if k and len(k & words) >= max(1, len(k) // 2))
        out.append(Sentence(clip, [(a, b) for a, b in padded if b > a], text, hits))
    return [s for s in out if s.spans]


def _choose(sentences: list[Sentence], target: float | None) -> list[Sentence]:
    """Whole sentences up to ``target`` seconds: key-message sentences first, then in order."""
    if target is None or sum(s.seconds for s in sentences) <= target:
        return sentences
    ranked = sorted(range(len(sentences)), key=lambda i: (-sentences[i].key_hits, i))
    chosen: set[int] = set()
    total = 0.0
    for i in ranked:
        if total + sentences[i].seconds <= target:
            chosen.add(i)
            total += sentences[i].seconds
    return [s for i, s in enumerate(sentences) if i in chosen]


def _place(clip: ClipAnalysis, a: float, b: float, rate: Fraction, record: int, reason: str) -> list[Cut]:
    """Cuts for the clip span ``[a, b)`` seconds from record frame ``record``, split at hard cuts."""
    media = clip.media
    lo, hi = seconds_to_frames(a, media.rate), min(media.frames, seconds_to_frames(b, media.rate))
    cuts = []
    for shot in clip.shots:
        s_in, s_out = max(lo, shot.start), min(hi, shot.end)
        if s_out <= s_in:
            continue
        rec_len = rescale_frames(s_out - s_in, media.rate, rate)
        while rec_len > 0 and s_in + rescale_frames(rec_len, rate, media.rate) > s_out:
            rec_len -= 1  # rounding must not push the out point past the shot
        if rec_len <= 0:
            continue
        src_len = rescale_frames(rec_len, rate, media.rate)
        cuts.append(
            Cut(
                clip_id=clip.id,
                source_in=s_in,
                source_out=s_in + src_len,
                record_in=record,
                record_out=record + rec_len,
                reason=reason,
            )
        )
        record += rec_len
    return cuts


def _jl(cuts: list[Cut], clips: dict[str, ClipAnalysis], rate: Fraction, offset: int) -> int:
    """Move picture cuts ``offset`` frames off the sound cuts, L then J alternately. Returns count."""
    done = 0
    for k, (prev, nxt) in enumerate(zip(cuts, cuts[1:])):
        if prev.clip_id == nxt.clip_id and prev.source_out == nxt.source_in:
            continue  # a split at a hard cut, not an edit
        if min(prev.record_duration, nxt.record_duration) <= 2 * offset:
            continue
        a, b = clips[prev.clip_id], clips[nxt.clip_id]
        shot_a = next(s for s in a.shots if s.start <= prev.source_in and prev.source_out <= s.end)
        shot_b = next(s for s in b.shots if s.start <= nxt.source_in and nxt.source_out <= s.end)
        d = offset if k % 2 == 0 else -offset  # + : L cut (picture early), - : J cut (picture late)
        new_cut = prev.record_out - d
        a_len = rescale_frames(new_cut - prev.record_in, rate, a.media.rate)
        b_len = rescale_frames(nxt.record_out - new_cut, rate, b.media.rate)
        if prev.source_in + a_len > shot_a.end or nxt.source_out - b_len < shot_b.start:
            continue
        prev.source_out, prev.record_out = prev.source_in + a_len, new_cut
        nxt.source_in, nxt.record_in = nxt.source_out - b_len, new_cut
        done += 1
    return done


def plan_talking_head(analysis: AnalysisResult, brief: Brief, style: Style) -> EditPlan:
    """Tighten the clips' speech into one edit (see module doc)."""
    clips = [c for c in analysis.clips if c.shots and c.media.frames > 0]
    if not clips:
        raise PlanningError("no usable clips to cut")
    aspect = brief.aspect or style.aspect or "16:9"
    setup = timeline_setup(
        [c for c in clips if c.media.has_video] or clips, brief.rate, brief.aspect or style.aspect or "16:9"
    )
    rate = setup.rate
    warnings: list[str] = []
    spoken = [c for c in clips if c.transcript is not None and c.transcript.segments]
    if spoken:
        # Clips without speech are B-roll here, not interview material.
        clips = spoken
    else:
        warnings.append("no transcripts in the analysis: cut on silences only (filler words stay)")
        clips = [c for c in clips if c.media.audio_channels > 0] or clips
    sentences = [s for c in clips for s in sentences_of(c, brief)]
    if not sentences:
        raise PlanningError("no speech found in the clips: nothing to keep for a talking-head edit")
    chosen = _choose(sentences, brief.target_duration_seconds)
    if not chosen:
        raise PlanningError(f"no whole sentence fits in {brief.target_duration_seconds:g} s: raise the target duration")
    video: list[Cut] = []
    markers: list[PlanMarker] = []
    record = 0
    last_clip = None
    for sentence in chosen:
        if sentence.clip.id != last_clip:
            markers.append(PlanMarker(frame=record, name=sentence.clip.media.name, kind="chapter", color="GREEN"))
            last_clip = sentence.clip.id
        if sentence.key_hits:
            markers.append(
                PlanMarker(frame=record, name=f"key message: {sentence.text[:60]}", kind="note", color="YELLOW")
            )
        for a, b in sentence.spans:
            reason = f"speech {a:.2f}–{b:.2f} s" + (f": “{sentence.text[:60]}”" if sentence.text else "")
            placed = _place(sentence.clip, a, b, rate, record, reason)
            video.extend(placed)
            if placed:
                record = placed[-1].record_out
    if not video:
        raise PlanningError("the kept speech is shorter than one frame")
    kept = record / float(rate)
    if brief.target_duration_seconds and kept < brief.target_duration_seconds - style.rules.duration_tolerance_seconds:
        warnings.append(f"only {kept:.1f} s of speech kept (target {brief.target_duration_seconds:g} s)")
    audio: list[Cut] = []
    if brief.jl_cut_frames:
        audio = [c.model_copy(update={"kind": "audio", "track": 1}) for c in video]
        moved = _jl(video, {c.id: c for c in clips}, rate, brief.jl_cut_frames)
        if not moved:
            warnings.append("J/L cuts: no edit point had the frames to offset the picture")
    return EditPlan(
        name=brief.name,
        **setup.plan_fields(),
        cuts=video + audio,
        markers=sorted(markers, key=lambda m: m.frame),
        planner=PLANNER_NAME,
        warnings=warnings,
        aspect=aspect,
        mode="talking_head",
        style=style.name,
    )
