"""Media pool clips → analysis → plan → OTIO timeline: the file pipeline, fed from Resolve.

The footage comes from the media pool (``media_pool.PoolScan``) instead of a folder; the music
is an audio-only clip in the same bin (or a file given explicitly). Everything after that is
the same code the ``auto`` command runs on files.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from analysis.beats import analyze_music
from analysis.engine import analyze_media_items
from analysis.footage import Progress
from analysis.models import AnalysisResult
from nle_adapters.plan_to_otio import build_timeline
from planner.brief import Brief
from planner.make_plan import make_plan
from planner.models import EditPlan
from resolve_bridge.media_pool import PoolScan
from resolve_bridge.pool_raw import PoolError


def plan_from_pool(
    scan: PoolScan,
    *,
    music: Path | None = None,
    duration_seconds: float | None = None,
    rate: Fraction | None = None,
    name: str = "Montage",
    progress: Progress | None = None,
) -> tuple[EditPlan, AnalysisResult, otio.schema.Timeline]:
    """Analyze the pool's video clips, cut them to the music, and build the OTIO timeline."""
    if not scan.clips:
        raise PoolError("the bin has no video clips to cut — put footage in the bin (or select clips)")
    if music is None:
        if not scan.audio:
            raise PoolError(
                "the bin has no music: add an audio-only clip (e.g. song.wav) to the bin, or pass --music FILE"
            )
        music = scan.audio[0].media.path
    missing = [c.media.path for c in scan.clips if not Path(c.media.path).is_file()]
    if missing:
        raise PoolError(f"{missing[0]}: media file is offline — relink it in Resolve before auto-editing")
    clips = analyze_media_items([c.media for c in scan.clips], progress=progress)
    if progress:
        progress(f"beats: {Path(music).name}", 0, 1)
    analysis = AnalysisResult(clips=clips, music=analyze_music(music))
    # The same planner plain `montage-bridge auto` uses: a music montage in the default style.
    plan = make_plan(analysis, Brief(name=name, target_duration_seconds=duration_seconds, rate=rate))
    return plan, analysis, build_timeline(plan, analysis)
