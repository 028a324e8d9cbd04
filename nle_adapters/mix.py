"""The mix and the captions as the timeline carries them: one shape every writer, reader and the render use.

The render (``render/``) and the timeline writers (FCPXML, FCP7 XML, the Resolve build) must give
the same mix, so the ducking envelope is computed here once and both read it.

Ducking: music dips under speech by ``depth_db``; the dip starts ``attack`` seconds *before* a
speech span, holds during it and comes back over ``release`` seconds after it ends. Spans closer
together than ``attack + release`` merge (no pumping between words). Because merged spans lie at
least ``attack + release`` apart, the envelope is exactly piecewise linear in dB with four
breakpoints per span: ``(a - attack, 0)``, ``(a, depth)``, ``(b, depth)``, ``(b + release, 0)``.

The shape in OTIO metadata (``metadata["montage_bridge"]``), documented in docs/render.md:

- on an audio clip, ``"mix"``: ``{"volume": [[frame, dB], ...], "fade_in": s, "fade_out": s}``.
  ``volume``: gain keyframes, ``frame`` in timeline frames from the clip's first record frame
  (its record in; may lie outside the clip when a ramp starts before it), ``dB`` the gain there,
  linear in dB between keyframes and held before the first and after the last. ``fade_in`` /
  ``fade_out``: seconds of fade from/to silence at the clip's start/end (the micro-fades at
  audio cuts, ``MICRO_FADE_SECONDS``); absent or 0 = none. A transition (dissolve, music fade)
  on that side replaces the micro-fade.
- on the timeline, ``"ducking"``: ``{"depth_db", "attack", "release"}`` (what made the keyframes),
  and ``"captions"``: ``[{"start": frame, "end": frame, "text": str}, ...]`` with record frames
  counted from the timeline's first frame (0 = ``global_start_time``), half-open, sorted.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio

from nle_adapters.timeline_facts import META, frames_at, meta_view, our_meta, timeline_rate

# Micro-fade at every audio cut: long enough to remove the click of a cut mid-waveform, short
# enough not to be heard as a fade (5 ms; NLE defaults range 2-10 ms).
MICRO_FADE_SECONDS = 0.005


@dataclass(frozen=True)
class Ducking:
    """How far music dips under speech (dB, negative) and how fast (seconds)."""

    depth_db: float = -12.0
    attack: float = 0.25
    release: float = 0.5

    def __post_init__(self) -> None:
        if self.depth_db > 0 or self.depth_db < -60:
            raise ValueError(f"ducking depth must be between -60 and 0 dB, got {self.depth_db}")
        if self.attack <= 0 or self.release <= 0:
            raise ValueError("ducking attack and release must be positive seconds")

    def as_dict(self) -> dict:
        return {"depth_db": self.depth_db, "attack": self.attack, "release": self.release}


# Style-set ducking (planner/styles/*.toml names). Styles carried by dialogue duck deeper; music-led
# styles keep the music up. Unknown styles get the default.
STYLE_DUCKING: dict[str, Ducking] = {
    "documentary": Ducking(-15.0, 0.3, 0.6),
    "vlog": Ducking(-12.0, 0.2, 0.4),
    "wedding": Ducking(-10.0, 0.4, 0.8),
    "cinematic": Ducking(-10.0, 0.5, 1.0),
    "dynamic": Ducking(-8.0, 0.15, 0.3),
    "social_vertical": Ducking(-10.0, 0.15, 0.3),
}


def ducking_for_style(style: str | None) -> Ducking:
    """The ducking a style asks for (the default for no or an unknown style)."""
    return STYLE_DUCKING.get((style or "").lower(), Ducking())


def merge_spans(spans: list[tuple[float, float]], bridge: float) -> list[tuple[float, float]]:
    """Sort and merge spans (seconds) that overlap or lie less than ``bridge`` seconds apart."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start - merged[-1][1] < bridge:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def duck_spans(spans: list[tuple[float, float]], ducking: Ducking) -> list[tuple[float, float]]:
    """The speech spans (seconds) the envelope ducks under, merged as the module doc says."""
    return merge_spans(spans, ducking.attack + ducking.release)


def duck_gain_db(t: float, spans: list[tuple[float, float]], ducking: Ducking) -> float:
    """The music gain (dB) at ``t`` seconds (the envelope the render applies and the keyframes hold)."""
    fraction = 0.0
    for a, b in duck_spans(spans, ducking):
        ramp = min((t - (a - ducking.attack)) / ducking.attack, ((b + ducking.release) - t) / ducking.release)
        fraction = max(fraction, min(1.0, max(0.0, ramp)))
    return ducking.depth_db * fraction


def duck_breakpoints(spans: list[tuple[float, float]], ducking: Ducking) -> list[tuple[float, float]]:
    """The envelope as (seconds, dB) breakpoints, linear in dB between them, 0 dB outside."""
    points: list[tuple[float, float]] = []
    for a, b in duck_spans(spans, ducking):
        points += [(a - ducking.attack, 0.0), (a, ducking.depth_db), (b, ducking.depth_db), (b + ducking.release, 0.0)]
    return points


def clip_keyframes(
    breakpoints: list[tuple[float, float]], rec_in: int, rec_out: int, rate: Fraction
) -> list[list[float]]:
    """The breakpoints that matter to a clip over record frames ``[rec_in, rec_out)``, as
    ``[[frame from rec_in, dB], ...]`` rounded to whole frames; [] when the clip is never ducked."""
    length = rec_out - rec_in
    frames = [(round(Fraction(t).limit_denominator(1_000_000) * rate) - rec_in, db) for t, db in breakpoints]
    keys: list[list[float]] = []
    for i, (frame, db) in enumerate(frames):
        nxt = frames[i + 1][0] if i + 1 < len(frames) else None
        prev = frames[i - 1][0] if i > 0 else None
        # Keep a point inside the clip, or the one just outside each edge that shapes a ramp crossing it.
        inside = 0 <= frame <= length
        shapes = (frame < 0 and nxt is not None and nxt > 0) or (frame > length and prev is not None and prev < length)
        if inside or shapes:
            if keys and keys[-1][0] == frame:
                keys[-1] = [frame, round(db, 3)]
            else:
                keys.append([frame, round(db, 3)])
    if all(db == 0 for _, db in keys):
        return []
    return keys


def gain_at(keys: list[list[float]], frame: float) -> float:
    """The gain (dB) keyframes ``keys`` give at ``frame`` (clip-relative): linear, held at the ends."""
    if not keys:
        return 0.0
    if frame <= keys[0][0]:
        return float(keys[0][1])
    for (f0, g0), (f1, g1) in zip(keys, keys[1:]):
        if frame <= f1:
            return float(g0 + (g1 - g0) * (frame - f0) / (f1 - f0)) if f1 != f0 else float(g1)
    return float(keys[-1][1])


def clip_mix(clip: otio.core.SerializableObject) -> dict:
    """A clip's ``mix`` (see the module doc): ``{"volume": [...], "fade_in": s, "fade_out": s}`` or {}."""
    meta = meta_view(clip)
    mix = meta["mix"] if "mix" in meta else None
    if not mix:
        return {}
    out: dict = {}
    volume = [[float(f), float(g)] for f, g in (mix.get("volume") or [])] if "volume" in mix else []
    if volume:
        out["volume"] = [[int(f) if float(f).is_integer() else f, g] for f, g in volume]
    for side in ("fade_in", "fade_out"):
        if side in mix and float(mix[side] or 0) > 0:
            out[side] = float(mix[side])
    return out


def set_clip_mix(clip: otio.core.SerializableObject, mix: dict) -> None:
    """Store ``mix`` (the module doc's shape) on ``clip``; an empty mix removes it."""
    if META not in clip.metadata:
        clip.metadata[META] = {}
    meta = clip.metadata[META]
    if mix:
        meta["mix"] = mix
    elif "mix" in meta:
        del meta["mix"]


def timeline_captions(timeline: otio.schema.Timeline) -> list[dict]:
    """The timeline's captions: ``[{"start": frame, "end": frame, "text": str}]`` (module doc), or []."""
    meta = meta_view(timeline)
    if "captions" not in meta:
        return []
    out = []
    for cue in meta["captions"]:
        start, end, text = int(cue["start"]), int(cue["end"]), str(cue.get("text") or "")
        if end > start and text.strip():
            out.append({"start": start, "end": end, "text": text})
    return sorted(out, key=lambda c: (c["start"], c["end"]))


def set_timeline_captions(timeline: otio.schema.Timeline, cues: list[dict]) -> None:
    """Store caption cues (record frames from the first frame, half-open) on ``timeline``."""
    if META not in timeline.metadata:
        timeline.metadata[META] = {}
    timeline.metadata[META]["captions"] = [
        {"start": int(c["start"]), "end": int(c["end"]), "text": str(c["text"])} for c in cues
    ]


def _audio_role(track: otio.schema.Track) -> str:
    """``music`` for a track whose clips all play audio-only media (or named "music"), else ``dialogue``."""
    if "music" in (track.name or "").lower():
        return "music"
    clips = [c for c in track if isinstance(c, otio.schema.Clip)]
    facts = [_ref_meta(c) for c in clips]
    if clips and all(f.get("has_video") is False for f in facts):
        return "music"
    return "dialogue"


def _ref_meta(clip: otio.schema.Clip) -> dict:
    ref = clip.media_reference
    return our_meta(ref) if ref is not None else {}


def _spans(track: otio.schema.Track, rate: Fraction) -> list[tuple[otio.core.Composable, int, int, bool, bool]]:
    """Each clip of ``track`` with its record frames and whether a transition touches its start/end."""
    out = []
    position = 0
    children = list(track)
    for index, child in enumerate(children):
        if isinstance(child, otio.schema.Transition):
            continue
        length = frames_at(child.trimmed_range().duration, rate)
        if isinstance(child, otio.schema.Clip):
            before = index > 0 and isinstance(children[index - 1], otio.schema.Transition)
            after = index + 1 < len(children) and isinstance(children[index + 1], otio.schema.Transition)
            out.append((child, position, position + length, before, after))
        position += length
    return out


def apply_mix(
    timeline: otio.schema.Timeline,
    ducking: Ducking | None,
    speech_spans: list[tuple[float, float]] | None = None,
    *,
    micro_fades: bool = True,
) -> int:
    """Write the mix into ``timeline``'s audio clips (module doc shape); returns how many clips are ducked.

    Music tracks (see :func:`_audio_role`) are ducked under ``speech_spans`` (seconds from the first
    frame), or, when None, under the record spans of the dialogue tracks' clips. Every audio clip
    gets micro-fades at its cuts (not where a transition is). ``ducking`` None: no ducking."""
    rate = timeline_rate(timeline)
    audio = [t for t in timeline.tracks if isinstance(t, otio.schema.Track) and t.kind == otio.schema.TrackKind.Audio]
    roles = {id(t): _audio_role(t) for t in audio}
    if speech_spans is None:
        speech_spans = [
            (float(Fraction(a) / rate), float(Fraction(b) / rate))
            for t in audio
            if roles[id(t)] == "dialogue"
            for _, a, b, _, _ in _spans(t, rate)
        ]
    breakpoints = duck_breakpoints(speech_spans, ducking) if ducking else []
    ducked = 0
    for track in audio:
        for clip, rec_in, rec_out, joined_in, joined_out in _spans(track, rate):
            mix: dict = {}
            if roles[id(track)] == "music" and breakpoints:
                keys = clip_keyframes(breakpoints, rec_in, rec_out, rate)
                if keys:
                    mix["volume"] = keys
                    ducked += 1
            if micro_fades:
                if not joined_in:
                    mix["fade_in"] = MICRO_FADE_SECONDS
                if not joined_out:
                    mix["fade_out"] = MICRO_FADE_SECONDS
            set_clip_mix(clip, mix)
    if META not in timeline.metadata:
        timeline.metadata[META] = {}
    if ducking is not None:
        timeline.metadata[META]["ducking"] = ducking.as_dict()
    return ducked


__all__ = [
    "MICRO_FADE_SECONDS",
    "STYLE_DUCKING",
    "Ducking",
    "apply_mix",
    "clip_keyframes",
    "clip_mix",
    "duck_breakpoints",
    "duck_gain_db",
    "duck_spans",
    "ducking_for_style",
    "gain_at",
    "merge_spans",
    "set_clip_mix",
    "set_timeline_captions",
    "timeline_captions",
]
