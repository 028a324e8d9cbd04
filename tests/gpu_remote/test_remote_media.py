"""montage_bridge.remote_media against a real worker: op chains, the source-match check, unsupported ops."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from analysis.models import AnalysisResult, ClipAnalysis, Shot
from analysis.probe import probe_media
from montage_bridge.remote_media import (
    GpuOptions,
    RemoteProcessingError,
    mismatch,
    run_remote_ops,
    upscale_factor,
)
from planner.models import Cut, EditPlan, RemoteOp
from tests.gpu_remote.conftest import TOKEN, WorkerProc
from tests.gpu_remote.test_timecode import clip_with_tc


def _setup(tmp_path: Path, ops: list[str], *, start_shift: int = 0) -> tuple[EditPlan, AnalysisResult]:
    src = clip_with_tc(tmp_path / "cam.mov", "25", "10:00:00:00")
    media = probe_media(src)
    if start_shift:
        # What the analysis believes differs from what the file says (e.g. a timecode it could not read).
        media = media.model_copy(update={"start_frame": media.start_frame + start_shift})
    clip = ClipAnalysis(id="cam", media=media, shots=[Shot(start=0, end=media.frames)])
    plan = EditPlan(
        rate=Fraction(25),
        width=2 * media.width,
        height=2 * media.height,
        cuts=[Cut(clip_id="cam", source_in=2, source_out=12, record_in=0, record_out=10)],
        planner="test",
        remote_ops=[RemoteOp(clip_id="cam", op=op) for op in ops]
        + [RemoteOp(clip_id="unused", op="upscale")],  # a clip the edit does not use: ignored
    )
    return plan, AnalysisResult(clips=[clip])


def test_stabilize_then_upscale_chain(shared_worker: WorkerProc, tmp_path: Path) -> None:
    plan, analysis = _setup(tmp_path, ["upscale", "stabilize", "transcribe"])
    seen: list[tuple[str, str, float, str]] = []
    outcome = run_remote_ops(
        plan,
        analysis,
        tmp_path / "out",
        GpuOptions(shared_worker.url, TOKEN, state_dir=tmp_path / "s"),
        lambda *event: seen.append(event),
    )
    done = outcome.processed["cam"]
    # Stabilize runs first on the small picture, then upscale; the final file is named after the chain.
    assert done.ops == ("stabilize", "upscale")
    assert done.path == tmp_path / "out" / "processed" / "cam.stabilize.upscale.mp4"
    assert (done.media.width, done.media.height) == (plan.width, plan.height)
    assert mismatch(analysis.clips[0].media, done.media) is None
    assert ("cam", "stabilize", 1.0, "done") in seen and ("cam", "upscale", 1.0, "done") in seen
    assert outcome.failures == []
    assert outcome.warnings == ["cam: remote transcribe is not applied to timeline media (only stabilize, upscale)"]


def test_output_that_does_not_match_the_source_is_not_used(shared_worker: WorkerProc, tmp_path: Path) -> None:
    plan, analysis = _setup(tmp_path, ["upscale"], start_shift=1)
    options = GpuOptions(shared_worker.url, TOKEN, state_dir=tmp_path / "s")
    outcome = run_remote_ops(plan, analysis, tmp_path / "out", options)
    assert outcome.processed == {}
    assert len(outcome.warnings) == 1
    assert outcome.warnings[0].startswith("cam: upscale not applied, original media kept — processed file")
    assert "start timecode 10:00:00:00 ≠ source 10:00:00:01" in outcome.warnings[0]
    with pytest.raises(RemoteProcessingError, match="cam: upscale failed"):
        run_remote_ops(plan, analysis, tmp_path / "out2", replace(options, required=True))


def test_upscale_factor_reaches_the_timeline_short_side(tmp_path: Path) -> None:
    plan, analysis = _setup(tmp_path, [])
    media = analysis.clips[0].media  # 96x64
    assert upscale_factor(media, plan.model_copy(update={"width": 192, "height": 128})) == 2
    assert upscale_factor(media, plan.model_copy(update={"width": 270, "height": 150})) == 3
    assert upscale_factor(media, plan.model_copy(update={"width": 1920, "height": 1080})) == 4  # the worker's limit
