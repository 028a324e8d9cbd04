"""`auto --captions` and `auto --render`: what happens to the written timeline after `auto` cut it.

Kept apart from ``auto.py`` so the render and speech stacks load only when those flags are given.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from kernel.atomic_io import write_text_atomic
from montage_bridge import json_output
from montage_bridge.console import err
from montage_bridge.progress import ProgressReporter
from nle_adapters.mix import set_timeline_captions
from nle_adapters.write_files import write_timeline_files
from render import captions as cap
from render.errors import RenderError
from render.layout import Layout, layout_timeline
from render.loudness import DEFAULT_TARGET
from render.render import RenderOptions, RenderReport, render_timeline


def caption_layout(timeline: otio.schema.Timeline) -> tuple[Layout, bool]:
    """The layout whose dialogue the captions follow: the dialogue tracks, or — a music montage has
    none — the picture clips' own speech at the times they are on screen. Second value: True for
    the latter (their sound is not in the mix: said in a warning)."""
    layout = layout_timeline(timeline)
    if any(t.role == "dialogue" and t.pieces for t in layout.audio):
        return layout, False
    return layout_timeline(timeline, clip_audio="on"), True


def transcribe(layout: Layout, speech_model: str | None) -> dict:
    """Speech analysis (cached by content) of every file the layout's dialogue plays."""
    from analysis.engine import EngineOptions, analyze_paths

    paths = sorted({p.media.path for t in layout.audio if t.role != "music" for p in t.pieces if p.media.has_audio})
    if not paths:
        return {}
    with err.status(f"transcribing {len(paths)} file(s) for captions"):
        result = analyze_paths(paths, EngineOptions(speech=True, speech_model=speech_model))
    if result.failures:
        raise RenderError(result.failures[0].message)
    return {clip.media.path: clip.transcript for clip in result.clips if clip.transcript is not None}


def cues_to_frames(cues: list[cap.Cue], rate: Fraction) -> list[dict]:
    """Caption cues (seconds) as the timeline's caption metadata: record frames, half-open, at least 1 frame."""
    out = []
    for cue in cues:
        start = round(Fraction(cue.start).limit_denominator(1000) * rate)
        end = max(start + 1, round(Fraction(cue.end).limit_denominator(1000) * rate))
        out.append({"start": start, "end": end, "text": cue.text})
    return out


def add_captions(
    timeline: otio.schema.Timeline, out_dir: Path, stem: str, formats: tuple[str, ...], speech_model: str | None
) -> list[Path]:
    """Transcribe the used clips, put the re-timed captions into ``timeline`` and its files (FCPXML
    captions, OTIO metadata), and write ``stem.srt``/``stem.vtt``. Returns the files written."""
    layout, on_screen = caption_layout(timeline)
    transcripts = transcribe(layout, speech_model)
    words = cap.retime_words(layout, transcripts) if transcripts else []
    cues = cap.build_cues(words, float(layout.duration / layout.rate)) if words else []
    if not cues:
        json_output.warn("no speech survives the edit: no captions written")
        return []
    if on_screen:
        json_output.warn(
            "the timeline has no dialogue track: the captions are what the clips on screen "
            "say (their sound is not in the mix)"
        )
    set_timeline_captions(timeline, cues_to_frames(cues, layout.rate))
    written = write_timeline_files(timeline, out_dir, stem, formats)
    for suffix, text in ((".srt", cap.to_srt(cues)), (".vtt", cap.to_vtt(cues))):
        path = out_dir / f"{stem}{suffix}"
        write_text_atomic(path, text)
        written.append(path)
    return [p for p in written if p.suffix in (".srt", ".vtt", ".fcpxml")]


def render_preview(
    timeline: otio.schema.Timeline, output: Path, progress: str = "auto", *, as_json: bool = False
) -> RenderReport:
    """Render ``timeline`` to ``output`` with the render defaults and check it; print the report
    unless ``as_json`` (the caller puts it in its JSON result). ``progress``: a ``--progress`` mode."""
    from montage_bridge.commands.render import _print_report

    with ProgressReporter("auto", progress, as_json=as_json) as bar:
        bar.start("render", "render", item=output.name, unit="seconds")
        report = render_timeline(
            timeline,
            output,
            RenderOptions(loudness=DEFAULT_TARGET),
            progress=lambda done, total: bar.update("render", done=done, total=total),
        )
        bar.end("render")
    if as_json:
        for warning in report.warnings:
            json_output.warn(warning)
    else:
        _print_report(report)
    return report


__all__ = ["add_captions", "caption_layout", "cues_to_frames", "render_preview", "transcribe"]
