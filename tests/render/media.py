"""Coded test media for the render tests: every frame says which file and which frame it is.

Picture: 160x90, 16 blocks (8 across, 2 down) of 20x45 px, each bright (1) or dark (0): bits 0-11
are the frame number, bits 12-15 the file's id. Blocks this large survive H.264 intact, so a
decoded frame names its source frame exactly (and a blend of two frames decodes to nothing valid).
Sound: a steady sine of a frequency per file, so a window of rendered sound names the file it came
from. Everything is made by ffmpeg (lavfi ``geq`` / ``sine``), independently of the code under test.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio

from kernel.ffmpeg_tools import ffmpeg_path
from kernel.timebase import timecode_to_frames

WIDTH, HEIGHT = 160, 90
COLS, ROWS = 8, 2


def make_coded_media(
    path: Path,
    *,
    file_id: int,
    rate: Fraction,
    frames: int,
    tone_hz: float | None = None,
    timecode: str | None = None,
    gop: int = 12,
) -> Path:
    """Write an MP4 whose frame ``n`` shows the code ``file_id << 12 | n`` (and a tone, if asked)."""
    r = f"{rate.numerator}/{rate.denominator}"
    bit = f"(floor(X/{WIDTH // COLS})+{COLS}*floor(Y/{HEIGHT // ROWS}))"
    lum = f"if(mod(floor((N+{file_id * 4096})/pow(2\\,{bit}))\\,2)\\,220\\,30)"
    seconds = float(Fraction(frames) / rate)
    cmd = [
        ffmpeg_path(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"nullsrc=s={WIDTH}x{HEIGHT}:r={r},geq=lum='{lum}':cb=128:cr=128,trim=end_frame={frames}",
    ]
    if tone_hz:
        cmd += ["-f", "lavfi", "-i", f"sine=f={tone_hz}:r=48000:d={seconds:.4f}"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "10", "-g", str(gop), "-pix_fmt", "yuv420p"]
    cmd += ["-r", r]
    if tone_hz:
        cmd += ["-c:a", "aac", "-b:a", "128k", "-shortest"]
    if timecode:
        cmd += ["-timecode", timecode]
    cmd.append(str(path))
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def make_tone(path: Path, *, hz: float, seconds: float, volume_db: float = -10.0) -> Path:
    """A WAV sine tone (48 kHz mono) at ``volume_db`` dBFS peak: the "music" of the tests."""
    subprocess.run(
        [
            ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", f"sine=f={hz}:r=48000:d={seconds}", "-af", f"volume={volume_db}dB", str(path),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return path


def decode_code(frame: np.ndarray) -> tuple[int, int] | None:
    """``(file_id, frame_number)`` from a decoded luma plane, or None when a block is ambiguous (a blend)."""
    h, w = frame.shape
    bh, bw = h // ROWS, w // COLS
    value = 0
    for row in range(ROWS):
        for col in range(COLS):
            block = frame[row * bh + bh // 4 : (row + 1) * bh - bh // 4, col * bw + bw // 4 : (col + 1) * bw - bw // 4]
            mean = float(block.mean())
            if 80 < mean < 170:
                return None
            if mean >= 170:
                value |= 1 << (row * COLS + col)
    return value >> 12, value & 0xFFF


def decode_video(path: Path) -> list[np.ndarray]:
    """Every frame's luma plane (uint8) of the first video stream."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


def decode_audio(path: Path, rate: int = 48000) -> np.ndarray:
    """The first audio stream as mono float32 at ``rate`` (channels averaged)."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray()[0])
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray()[0])
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def dominant_hz(samples: np.ndarray, rate: int = 48000) -> float:
    """The strongest frequency of a window of samples (Hann-windowed FFT)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


# ---- OTIO building blocks (media time: available_range starts at the media's start timecode) ----


def rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def reference(path: Path, start: int, frames: int, rate: Fraction, **facts) -> otio.schema.ExternalReference:
    meta = {"rate": f"{rate.numerator}/{rate.denominator}", **facts}
    return otio.schema.ExternalReference(
        target_url=path.resolve().as_uri(),
        available_range=otio.opentime.TimeRange(rt(start, rate), rt(frames, rate)),
        metadata={"montage_bridge": meta},
    )


def clip(
    name: str, ref: otio.schema.ExternalReference, media_rate: Fraction, source_in: int, duration: int, rate: Fraction
) -> otio.schema.Clip:
    """A clip showing ``duration`` timeline frames from media frame ``source_in`` (0-based, start TC added)."""
    start = ref.available_range.start_time.value
    return otio.schema.Clip(
        name=name,
        media_reference=ref,
        source_range=otio.opentime.TimeRange(rt(int(start) + source_in, media_rate), rt(duration, rate)),
        metadata={"montage_bridge": {"source_rate": f"{media_rate.numerator}/{media_rate.denominator}"}},
    )


def gap(frames: int, rate: Fraction) -> otio.schema.Gap:
    return otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0, rate), rt(frames, rate)))


def dissolve(head: int, tail: int, rate: Fraction) -> otio.schema.Transition:
    """A dissolve: the incoming clip starts ``head`` frames early, the outgoing one runs ``tail`` late."""
    return otio.schema.Transition(
        name="Cross Dissolve",
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=rt(head, rate),
        out_offset=rt(tail, rate),
    )


def timeline(name: str, rate: Fraction, tracks: list[otio.schema.Track], **meta) -> otio.schema.Timeline:
    tl = otio.schema.Timeline(name=name)
    tl.global_start_time = rt(timecode_to_frames("01:00:00:00", rate, False), rate)
    tl.metadata["montage_bridge"] = {"rate": f"{rate.numerator}/{rate.denominator}", **meta}
    for track in tracks:
        tl.tracks.append(track)
    return tl
