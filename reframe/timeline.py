"""Reframe every picture clip of an OTIO timeline to the timeline's aspect (face/subject-aware).

For each clip on a video track whose picture's aspect differs from the timeline's, the subject is
watched over exactly the clip's source frames (:mod:`reframe.track`), the virtual camera operator
smooths a crop window along it (:mod:`reframe.path`), and the keyframes go into the clip's
metadata in the shape :mod:`nle_adapters.reframe_meta` documents. Every writer and the renderer read them
from there; an editor sees position keyframes they can adjust.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from nle_adapters.reframe_meta import KEY
from nle_adapters.timeline_facts import META, clip_time, media_url, our_meta, timeline_rate, url_to_path
from reframe.detect import INSTALL_HINT, face_detector
from reframe.path import Operator, keyframes, operate, window_size
from reframe.track import choose_subject, observe

SAMPLES_PER_SECOND = 5.0


@dataclass
class ReframeReport:
    clips: int = 0
    by_subject: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def aspect_fraction(text: str) -> Fraction:
    """``"9:16"`` → 9/16."""
    a, b = text.replace("x", ":").split(":")
    return Fraction(int(a), int(b))


def reframe_clip(
    path: Path,
    first: int,
    last: int,
    source: tuple[int, int],
    rate: Fraction,
    aspect: Fraction,
    *,
    speech: Sequence[tuple[float, float]] | None = None,
    operator: Operator = Operator(),
    use_faces: bool = True,
) -> dict:
    """The reframe metadata (see :mod:`nle_adapters.reframe_meta`) for frames ``[first, last)`` of ``path``."""
    win_w, win_h = window_size(source, aspect)
    detector = face_detector() if use_faces else None
    fps = float(rate)
    step = max(1, round(fps / SAMPLES_PER_SECOND))
    samples = observe(path, first, last, source, detector, step, fps)
    subject = choose_subject(samples, first, last, source, (win_w, win_h), fps, speech)
    xs = operate(subject.xs, win_w, fps, win_w / 2, source[0] - win_w / 2, operator)
    ys = operate(subject.ys, win_h, fps, win_h / 2, source[1] - win_h / 2, operator)
    text = f"{aspect.numerator}:{aspect.denominator}"
    return {
        "version": 1,
        "aspect": text,
        "source": [int(source[0]), int(source[1])],
        "window": [round(win_w, 3), round(win_h, 3)],
        "keyframes": keyframes(first, xs, ys),
        "subject": subject.kind,
        "tolerance_px": 0.5,
    }


def reframe_timeline(
    timeline: otio.schema.Timeline,
    width: int,
    height: int,
    *,
    speech: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    operator: Operator = Operator(),
) -> ReframeReport:
    """Add reframe keyframes to every picture clip whose aspect is not ``width:height``.

    ``speech``: per media path (as a plain path string), spans with speech in seconds — used to pick
    the speaker when several faces do not fit the window together."""
    aspect = Fraction(width, height)
    rate = timeline_rate(timeline)
    report = ReframeReport()
    if face_detector() is None:
        report.warnings.append(f"reframe: {INSTALL_HINT}")
    todo = [
        clip
        for track in timeline.video_tracks()
        for clip in track.find_clips(shallow_search=True)
        if media_url(clip) is not None
    ]
    for done, clip in enumerate(todo):
        ref_meta = our_meta(clip.media_reference)
        src_w, src_h = int(ref_meta.get("width") or 0), int(ref_meta.get("height") or 0)
        if ref_meta.get("has_video") is False or not src_w or not src_h:
            continue
        if abs(Fraction(src_w, src_h) - aspect) <= aspect / 100:
            continue  # already the timeline's shape
        if progress:
            progress(f"reframe: {clip.name}", done, len(todo))
        time = clip_time(clip, rate)
        first = time.source_in - (time.media_start or 0)
        count = max(1, math.ceil(time.duration * time.rate / rate))
        path = url_to_path(media_url(clip) or "")
        meta = reframe_clip(
            Path(path),
            first,
            first + count,
            (src_w, src_h),
            time.rate,
            aspect,
            speech=(speech or {}).get(path),
            operator=operator,
        )
        if META not in clip.metadata:
            clip.metadata[META] = {}
        clip.metadata[META][KEY] = meta
        report.clips += 1
        report.by_subject[meta["subject"]] = report.by_subject.get(meta["subject"], 0) + 1
    if progress:
        progress("reframe", len(todo), len(todo))
    return report


def speech_by_path(clips) -> dict[str, list[tuple[float, float]]]:
    """Per media path, the spans with speech (seconds): the transcript's segments where there is
    one, else the clip's sound between its silences; clips without sound are left out."""
    out: dict[str, list[tuple[float, float]]] = {}
    for clip in clips:
        media = clip.media
        if clip.transcript is not None and clip.transcript.segments:
            spans = [(s.start, s.end) for s in clip.transcript.segments]
        elif media.audio_channels > 0 and clip.silences:
            spans, at = [], 0.0
            for quiet in sorted(clip.silences, key=lambda s: s.start):
                if quiet.start > at:
                    spans.append((at, quiet.start))
                at = max(at, quiet.end)
            if at < media.duration_seconds:
                spans.append((at, media.duration_seconds))
        else:
            continue
        out[str(Path(media.path).resolve())] = spans
    return out
