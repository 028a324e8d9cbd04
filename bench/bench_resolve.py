"""Build a 1,000-clip, 4-track timeline in the fake Resolve: calls made and wall time.

Targets (issue 6): at most one AppendToTimeline call per track, and under 1 s for the whole build
(OTIO → build spec → timeline, tracks, batched appends, read-back verification, markers) against
the in-process fake. Writes bench/results/resolve.json.
"""

from __future__ import annotations

import json
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.models import AnalysisResult, ClipAnalysis, Shot  # noqa: E402
from kernel.atomic_io import write_text_atomic  # noqa: E402
from kernel.media import MediaItem  # noqa: E402
from kernel.timebase import rescale_frames  # noqa: E402
from nle_adapters.plan_to_otio import build_timeline  # noqa: E402
from planner.models import Cut, EditPlan, PlanMarker  # noqa: E402
from resolve_bridge.fake import FakeResolve  # noqa: E402
from resolve_bridge.timeline_builder import build_in_resolve, spec_from_otio  # noqa: E402

CLIPS, TRACKS, MEDIA = 1000, 4, 20
RATES = [Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001), Fraction(24)]


def make_inputs() -> tuple[EditPlan, AnalysisResult]:
    clips = []
    for i in range(MEDIA):
        rate = RATES[i % len(RATES)]
        media = MediaItem(
            path=Path(f"/bench/media/clip{i:02d}.mov"),
            name=f"clip{i:02d}.mov",
            rate=rate,
            frames=100_000,
            start_frame=3600 * 24 * (i + 1),
            width=1920,
            height=1080,
            audio_channels=2,
        )
        clips.append(ClipAnalysis(id=f"c{i}", media=media, shots=[Shot(start=0, end=100_000)]))
    rate = Fraction(24000, 1001)
    cuts = []
    per_track = CLIPS // TRACKS
    for n in range(CLIPS):
        track, slot = n % TRACKS + 1, n // TRACKS
        clip = clips[n % MEDIA]
        rec_in = slot * 30 + track
        length = rescale_frames(24, rate, clip.media.rate)
        src_in = (slot * 97) % 90_000
        cuts.append(
            Cut(
                clip_id=clip.id,
                track=track,
                source_in=src_in,
                source_out=src_in + length,
                record_in=rec_in,
                record_out=rec_in + 24,
            )
        )
    markers = [PlanMarker(frame=f, name="beat") for f in range(0, per_track * 30, 12)]
    plan = EditPlan(name="Bench", rate=rate, cuts=cuts, markers=markers, planner="bench")
    return plan, AnalysisResult(clips=clips)


def main() -> int:
    plan, analysis = make_inputs()
    timeline = build_timeline(plan, analysis)
    fake = FakeResolve("21")
    for clip in analysis.clips:
        fake.media_pool.add_media(clip.media)
    t0 = time.perf_counter()
    spec = spec_from_otio(timeline)
    t1 = time.perf_counter()
    result = build_in_resolve(fake, timeline, method="append")
    t2 = time.perf_counter()
    calls = [n for name, n in fake.calls if name == "AppendToTimeline"]
    report = {
        "clips": CLIPS,
        "tracks": TRACKS,
        "append_calls": len(calls),
        "clips_per_call": calls,
        "placed": result.placed,
        "ok": result.ok,
        "spec_seconds": round(t1 - t0, 3),
        "build_seconds": round(t2 - t1, 3),
        "target": "<= 1 AppendToTimeline per track, build < 1 s",
    }
    report["meets_target"] = len(calls) <= TRACKS and report["build_seconds"] < 1.0 and result.ok
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    write_text_atomic(out / "resolve.json", json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    assert len(spec.clips) == CLIPS
    return 0 if report["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
