"""Each operation through the worker, on small generated media, via the client's process_files."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np

from gpu_remote.client import GpuClient, process_files
from kernel.ffmpeg_tools import run_ffmpeg
from tests.gpu_remote.conftest import TOKEN, WorkerProc, make_clip

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech" / "worker_hello.wav"


def gray_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(np.float32) for f in container.decode(video=0)]


def shift(a: np.ndarray, b: np.ndarray) -> float:
    """Global translation (pixels) between two frames by phase correlation."""
    fa, fb = np.fft.fft2(a - a.mean()), np.fft.fft2(b - b.mean())
    cross = fa * np.conj(fb)
    corr = np.abs(np.fft.ifft2(cross / (np.abs(cross) + 1e-9)))
    dy, dx = np.unravel_index(int(np.argmax(corr)), corr.shape)
    h, w = corr.shape
    dy, dx = (dy - h if dy > h // 2 else dy), (dx - w if dx > w // 2 else dx)
    return float(np.hypot(dx, dy))


def motion(frames: list[np.ndarray]) -> float:
    """Mean frame-to-frame camera translation in pixels, measured on the central half of the picture."""
    h, w = frames[0].shape
    crop = [f[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] for f in frames]
    return float(np.mean([shift(a, b) for a, b in zip(crop, crop[1:])]))


def make_shaky(path: Path) -> Path:
    """A still, detailed scene filmed by a jittering camera: the crop window moves every frame (±15 px)."""
    still = path.with_suffix(".png")
    run_ffmpeg(["-f", "lavfi", "-i", "mandelbrot=s=480x360:r=1", "-frames:v", "1", str(still)])
    run_ffmpeg(
        [
            "-loop",
            "1",
            "-framerate",
            "25",
            "-t",
            "2",
            "-i",
            str(still),
            "-vf",
            "crop=320:240:x='80+10*sin(n*1.9)+5*sin(n*4.3)':y='60+8*cos(n*2.3)+4*sin(n*5.1)',format=yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "12",
            str(path),
        ]
    )
    return path


def test_stabilize_reduces_frame_to_frame_motion(shared_worker: WorkerProc, tmp_path: Path) -> None:
    shaky = make_shaky(tmp_path / "shaky.mp4")
    result = process_files(
        shared_worker.url, TOKEN, "stabilize", [shaky], {"smoothing": 15, "shakiness": 8}, state_dir=tmp_path / "s"
    )
    out = result[shaky]
    assert out == tmp_path / "shaky.stabilize.mp4" and out.is_file()
    before, after = motion(gray_frames(shaky)), motion(gray_frames(out))
    assert len(gray_frames(out)) == len(gray_frames(shaky))
    assert before > 5.0 and after < 0.3 * before, (before, after)


def test_upscale_doubles_resolution_and_says_how(shared_worker: WorkerProc, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "small.mp4", size="160x120", seconds=0.5)
    client = GpuClient(shared_worker.url, TOKEN, state_dir=tmp_path / "s")
    job = client.submit("upscale", {"video": clip}, {"scale": 2})
    job = client.wait(job.id)
    assert job.state.value == "succeeded"
    assert "lanczos" in job.result["backend"] and "not super-resolution" in job.result["backend"]
    saved = client.fetch(job)["video"]
    with av.open(str(saved)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 240)


def test_transcribe_returns_the_spoken_words(shared_worker: WorkerProc, tmp_path: Path) -> None:
    result = process_files(shared_worker.url, TOKEN, "transcribe", [SPEECH], {"language": "en"}, out_dir=tmp_path)
    doc = json.loads(result[SPEECH].read_text())
    words = doc["text"].lower()
    assert "hello" in words and "worker" in words and "camera" in words
    assert doc["segments"][0]["start_s"] >= 0.0 and doc["device"] == "cpu"


def test_failed_op_reports_a_clear_error(shared_worker: WorkerProc, tmp_path: Path) -> None:
    bogus = tmp_path / "not_video.mp4"
    bogus.write_bytes(b"this is not a video file at all")
    client = GpuClient(shared_worker.url, TOKEN, state_dir=tmp_path / "s")
    job = client.wait(client.submit("stabilize", {"video": bogus}).id)
    assert job.state.value == "failed" and job.error is not None
    assert job.error.code in ("invalid_input", "op_failed") and "\n" not in job.error.message
