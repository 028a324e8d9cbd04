"""`montage-bridge auto --gpu URL` against a real worker on 127.0.0.1: the planner asks for an upscale of
the clip smaller than the timeline, the worker does it, and the written timeline links the processed
file at exactly the frames the original would have used; a dead or refusing worker never costs the edit."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import opentimelineio as otio
import pytest

from kernel.ffmpeg_tools import run_ffmpeg
from kernel.probe import probe_media
from resolve_bridge.apply import current_project, walk_folders
from resolve_bridge.fake import FakeResolve
from resolve_bridge.timeline_builder import build_in_resolve
from tests.conftest import run_cli
from tests.gpu_remote.conftest import TOKEN, WorkerProc, free_port


def _clip(path: Path, source: str, rate: str, tc: str, audio: bool) -> Path:
    args = ["-f", "lavfi", "-i", f"{source}:rate={rate},trim=duration=4"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=f=330:duration=4", "-c:a", "aac", "-shortest"]
    run_ffmpeg([*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-timecode", tc, str(path)])
    return path


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Footage where one clip (160x90, 29.97 DF) is smaller than the 320x180 timeline, and a highlights brief."""
    root = tmp_path_factory.mktemp("auto-gpu")
    footage = root / "footage"
    footage.mkdir()
    _clip(footage / "wide.mov", "testsrc2=size=320x180", "25", "10:00:00:00", audio=True)
    _clip(footage / "small.mov", "mandelbrot=size=160x90", "30000/1001", "02:00:00;00", audio=False)
    brief = root / "brief.toml"
    brief.write_text('name = "GPU Cut"\nmode = "highlights"\nduration = 6\nrate = "25"\n')
    # One analysis cache for the module: later runs reuse the first run's analysis of the same files.
    return {"root": root, "footage": footage, "brief": brief, "cache": root / "cache"}


def _auto(job: dict[str, Path], out: Path, *extra: str, env: dict[str, str] | None = None):
    return run_cli(
        "auto",
        str(job["footage"]),
        "--brief",
        str(job["brief"]),
        "--formats",
        "otio,fcpxml",
        "-o",
        str(out),
        *extra,
        env={
            "MONTAGE_CACHE_DIR": str(job["cache"]),
            "MONTAGE_GPU_STATE": str(job["root"] / "gpu-state"),
            **(env or {}),
        },
        timeout=300,
    )


def _clips(path: Path) -> dict[str, tuple[otio.schema.Clip, otio.opentime.TimeRange]]:
    """{clip id: (clip, its record range on V1)} of a written timeline."""
    track = otio.adapters.read_from_file(str(path)).video_tracks()[0]
    return {c.metadata["montage_bridge"]["clip_id"]: (c, track.range_of_child(c)) for c in track.find_clips()}


def _file(clip: otio.schema.Clip) -> Path:
    return Path(unquote(urlparse(clip.media_reference.target_url).path))


def test_auto_gpu_relinks_processed_media_and_builds_in_resolve(
    job: dict[str, Path], shared_worker: WorkerProc, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    env = {"MONTAGE_GPU_TOKEN": TOKEN, "MONTAGE_RESOLVE": "fake", "MONTAGE_RESOLVE_PROFILE": "studio-19"}
    proc = _auto(job, out, "--gpu", shared_worker.url, "--resolve", env=env)
    assert proc.returncode == 0, proc.stderr
    processed = out / "processed" / "small.upscale.mp4"
    assert processed.is_file() and sorted(p.name for p in (out / "processed").iterdir()) == [processed.name]
    assert f"processed small (upscale): {processed}" in proc.stdout.replace("\n", "")

    # The processed file stands in for its source frame for frame: same rate, frames and start TC.
    source, result = probe_media(job["footage"] / "small.mov"), probe_media(processed)
    assert (result.rate, result.frames, result.start_timecode) == (source.rate, source.frames, "02:00:00;00")
    assert (result.width, result.height) == (320, 180)

    clips = _clips(out / "GPU Cut.otio")
    assert set(clips) == {"wide", "small"}, "the brief must use both clips"
    assert _file(clips["small"][0]) == processed
    assert _file(clips["wide"][0]) == job["footage"] / "wide.mov"
    assert list(clips["small"][0].metadata["montage_bridge"]["processed_by"]) == ["upscale"]
    assert "processed/small.upscale.mp4" in (out / "GPU Cut.fcpxml").read_text()

    # Without the worker (nothing listens on that port) the same edit is written on the original media.
    dead = tmp_path / "dead"
    proc_dead = _auto(job, dead, "--gpu", f"http://127.0.0.1:{free_port()}")
    assert proc_dead.returncode == 0, proc_dead.stderr
    warning = " ".join(proc_dead.stderr.split())
    assert "warning: small: upscale not applied, original media kept — cannot reach the worker" in warning
    assert not (dead / "processed").exists() or not any((dead / "processed").iterdir())
    originals = _clips(dead / "GPU Cut.otio")
    assert _file(originals["small"][0]) == job["footage"] / "small.mov"
    assert set(originals) == set(clips)
    for clip_id, (clip, record) in clips.items():
        # Identical frame ranges: only the file behind the clip changed.
        original, original_record = originals[clip_id]
        assert clip.source_range == original.source_range
        assert clip.media_reference.available_range == original.media_reference.available_range
        assert record == original_record

    # Resolve (fake): the CLI imported the processed file into its own bin and placed every clip.
    assert "importing 1 file(s) into bin 'processed'" in proc.stderr
    assert "(append): 2/2 clips placed" in proc.stdout
    fake = FakeResolve("19")
    timeline = otio.adapters.read_from_file(str(out / "GPU Cut.otio"))
    built = build_in_resolve(fake, timeline, bins={"processed": [str(processed)]})
    assert built.ok, built.lines()
    pool = current_project(fake).GetMediaPool()
    bins = {
        f.GetName(): [i.GetClipProperty("File Path") for i in f.GetClipList()]
        for f in walk_folders(pool.GetRootFolder())
    }
    assert bins["processed"] == [str(processed)]
    placed = current_project(fake).GetCurrentTimeline().GetItemListInTrack("video", 1)
    assert str(processed) in {item.GetMediaPoolItem().GetClipProperty("File Path") for item in placed}


def test_auto_gpu_required_fails_on_a_refused_token_and_writes_nothing(
    job: dict[str, Path], shared_worker: WorkerProc, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = _auto(job, out, "--gpu", shared_worker.url, "--gpu-token", "not-the-token", "--gpu-required")
    assert proc.returncode == 2, proc.stderr
    message = " ".join(proc.stderr.split())
    assert "small: upscale failed — worker at" in message and "refused the token" in message
    assert "Traceback" not in proc.stderr
    assert not (out / "GPU Cut.otio").exists()


def test_auto_gpu_stabilizes_the_shaky_clip_it_uses(shared_worker: WorkerProc, tmp_path: Path) -> None:
    """Analysis measures the handheld clip's shake, the planner asks for stabilize on it alone, the
    worker's vid.stab runs, and the timeline links the steadier file at the original frames."""
    from analysis.frame_pass import FramePassOptions, run_frame_pass

    footage = tmp_path / "footage"
    footage.mkdir()
    jitter = "crop=320:180:x='40+10*sin(n*2.1)+6*sin(n*3.7)':y='30+7*sin(n*2.9)+4*sin(n*1.3)'"
    handheld = f"mandelbrot=size=400x240:rate=25,{jitter},trim=duration=4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", handheld, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        + ["-timecode", "01:00:00:00", str(footage / "handheld.mov")]
    )
    _clip(footage / "tripod.mov", "testsrc2=size=320x180", "25", "01:10:00:00", audio=False)
    brief = tmp_path / "brief.toml"
    brief.write_text('name = "Steady"\nmode = "highlights"\nduration = 6\nrate = "25"\n')
    job = {"root": tmp_path, "footage": footage, "brief": brief, "cache": tmp_path / "cache"}
    out = tmp_path / "out"
    proc = _auto(job, out, "--gpu", shared_worker.url, env={"MONTAGE_GPU_TOKEN": TOKEN})
    assert proc.returncode == 0, proc.stderr
    processed = out / "processed" / "handheld.stabilize.mp4"
    assert sorted(p.name for p in (out / "processed").iterdir()) == [processed.name]
    clips = _clips(out / "Steady.otio")
    assert set(clips) == {"handheld", "tripod"}
    assert _file(clips["handheld"][0]) == processed
    assert list(clips["handheld"][0].metadata["montage_bridge"]["processed_by"]) == ["stabilize"]
    assert _file(clips["tripod"][0]) == footage / "tripod.mov"

    def shake(path: Path) -> float:
        """Shake over the whole clip: the shots' shake weighted by their length (vid.stab's output
        can jump where its tracking slips, which splits it into shots)."""
        shots = run_frame_pass(probe_media(path), FramePassOptions(faces=False))
        return sum(s.quality.shake * s.length for s in shots if s.quality is not None) / shots[-1].end

    before, after = shake(footage / "handheld.mov"), shake(processed)
    assert before >= 0.9 and after < 0.5 * before, (before, after)
