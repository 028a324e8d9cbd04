"""montage_bridge.remote_media against a real worker: op chains, the source-match check, unsupported ops."""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from analysis.models import AnalysisResult, ClipAnalysis, Shot
from kernel.probe import probe_media
from montage_bridge.remote_media import (
    GpuOptions,
    RemoteProcessingError,
    mismatch,
    run_remote_ops,
    upscale_chain,
)
from planner.models import Cut, EditPlan, RemoteOp
from planner.remote_ops import fit_size, upscale_steps
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


@pytest.mark.parametrize(
    ("source", "frame", "fitted", "steps"),
    [
        ((640, 272), (1280, 720), (1280, 544), (2,)),  # was 3x → 1920x816, above the frame
        ((176, 144), (1280, 720), (880, 720), (3, 2)),  # was 4x → 704x576, short of it; 5x needs 6x then down
        ((1280, 720), (1920, 1080), (1920, 1080), (2,)),  # 1.5x: 2x, then down to the frame
        ((720, 1280), (1080, 1920), (1080, 1920), (2,)),  # vertical
        ((96, 64), (1920, 1080), (1620, 1080), (3, 3, 2)),  # 16.875x: 18x in three jobs, then down
        ((64, 36), (3840, 2160), (3840, 2160), (4, 4, 4)),
        ((1920, 800), (1920, 1080), (1920, 800), ()),  # scope already fits: the short side is no reason
        ((1920, 1080), (1280, 720), (1280, 720), ()),  # larger than the frame: never upscaled
    ],
)
def test_upscale_fits_the_frame_never_above_it(source, frame, fitted, steps) -> None:
    assert fit_size(*source, *frame) == fitted
    assert fitted[0] <= frame[0] and fitted[1] <= frame[1]
    assert upscale_steps(*source, *frame) == steps
    if steps:  # the chain reaches the fit size in both dimensions, in jobs the worker accepts
        product = math.prod(steps)
        assert source[0] * product >= fitted[0] and source[1] * product >= fitted[1]
        assert all(2 <= s <= 4 for s in steps)


def test_upscale_chain_of_a_clip_uses_its_upright_size(tmp_path: Path) -> None:
    plan, analysis = _setup(tmp_path, [])
    media = analysis.clips[0].media  # 96x64
    frame = plan.model_copy(update={"width": 270, "height": 150})
    assert upscale_chain(media, frame) == ((3,), (224, 150))
    turned = media.model_copy(update={"rotation": 90})  # shown 64x96
    assert upscale_chain(turned, frame) == ((2,), (100, 150))


def test_upscale_with_the_worker_ends_at_the_fit_size(shared_worker: WorkerProc, tmp_path: Path) -> None:
    plan, analysis = _setup(tmp_path, ["upscale"])
    plan = plan.model_copy(update={"width": 270, "height": 150})  # 96x64 fits as 224x150: 3x, then down
    outcome = run_remote_ops(
        plan, analysis, tmp_path / "out", GpuOptions(shared_worker.url, TOKEN, state_dir=tmp_path / "s")
    )
    assert outcome.failures == []
    done = outcome.processed["cam"]
    assert (done.media.width, done.media.height) == (224, 150)
    assert mismatch(analysis.clips[0].media, done.media) is None  # same rate, frames, start timecode
    assert not list((tmp_path / "out" / "processed").glob("*.partial*"))
