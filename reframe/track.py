"""Watch a stretch of a clip and say where its subject is, frame by frame.

ffmpeg decodes the stretch once (upright, scaled to :data:`ANALYSIS_SIDE` px on the long side, every
frame in file order: ``-fps_mode passthrough`` as in ``analysis.frame_pass``), and every
``step``-th frame is looked at: faces (BlazeFace, :mod:`reframe.detect`), how much the lower half of
each face changed since the frame before it (a talking mouth), and where the picture moved.

Subject, in this order:

1. faces. Faces are joined into tracks from sample to sample (nearest centre within a face width).
   When every face seen at a sample fits in the crop window with a margin, the window frames the
   group (the centre of their union). When they do not fit, it keeps the *speaker*: the face track
   whose mouth moved most while the clip's sound had speech (``speech`` spans, seconds; without
   them, the track that is present longest and largest) — that choice is made once per stretch, so
   the crop does not hop between people mid-shot;
2. salient motion, where no face is seen;
3. the last known subject (holding still), or the picture's centre at the start.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kernel.errors import MediaError
from kernel.ffmpeg_tools import ffmpeg_path
from reframe.detect import Box, FaceDetector, motion_centre

ANALYSIS_SIDE = 384  # 192 px BlazeFace input after letterboxing a 2:1 picture; faces >= ~20 px


@dataclass
class Sample:
    """What one looked-at frame holds, in source pixels (upright)."""

    frame: int  # index into the file, at the media rate
    faces: list[Box] = field(default_factory=list)
    mouth: list[float] = field(default_factory=list)  # per face: mean change of its lower half
    motion: tuple[float, float, float] | None = None  # (x, y, share) of salient motion


@dataclass
class Subject:
    """Where to point the crop: per frame of the stretch, the subject's centre (source pixels)."""

    first: int
    xs: np.ndarray
    ys: np.ndarray
    kind: str  # "face", "group", "speaker", "motion" or "centre"


def _analysis_size(width: int, height: int) -> tuple[int, int]:
    scale = ANALYSIS_SIDE / max(width, height)
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


def read_frames(path: Path, first: int, last: int, size: tuple[int, int], rate: float | None = None):
    """Yield (frame index, BGR array) for frames ``[first, last)`` of ``path`` at ``size``, upright.

    With ``rate``, ffmpeg seeks to the first frame (half a frame early, accurate seek: it decodes
    from the keyframe before and drops the rest) instead of decoding the file from its start; a
    container whose video starts late can shift the indexes by a frame, which a crop path that
    moves at most a few pixels a frame does not show. Without ``rate`` the count is exact."""
    w, h = size
    cmd = [ffmpeg_path(), "-v", "error", "-nostdin"]
    if rate and first > 0:
        cmd += ["-ss", f"{max(0.0, (first - 0.5) / rate):.6f}"]
        trim = f"trim=end_frame={last - first}"
    else:
        trim = f"trim=start_frame={first}:end_frame={last}"
    cmd += ["-i", str(path), "-map", "0:v:0", "-an", "-sn"]
    cmd += ["-vf", f"{trim},scale={w}:{h}:flags=area", "-fps_mode", "passthrough"]
    cmd += ["-pix_fmt", "bgr24", "-f", "rawvideo", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    frame_bytes = w * h * 3
    index = first
    try:
        while True:
            data = proc.stdout.read(frame_bytes)
            if len(data) < frame_bytes:
                break
            yield index, np.frombuffer(data, np.uint8).reshape(h, w, 3)
            index += 1
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        code = proc.wait()
        if code != 0 and index == first:
            raise MediaError(f"{path.name}: could not decode frames {first}-{last} for reframing: {err.strip()[-300:]}")


def observe(
    path: Path,
    first: int,
    last: int,
    source_size: tuple[int, int],
    detector: FaceDetector | None,
    step: int,
    rate: float | None = None,
) -> list[Sample]:
    """Samples every ``step`` frames of ``[first, last)`` (the last frame always included)."""
    import cv2

    width, height = source_size
    size = _analysis_size(width, height)
    back = width / size[0]  # analysis pixels -> source pixels
    wanted = set(range(first, last, max(1, step))) | {last - 1}
    samples: list[Sample] = []
    prev_gray: np.ndarray | None = None
    for index, bgr in read_frames(path, first, last, size, rate):
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        if index in wanted:
            sample = Sample(index)
            if detector is not None:
                sample.faces = [b.scaled(back) for b in detector.detect(bgr)]
            if prev_gray is not None:
                moved = motion_centre(prev_gray, gray)
                if moved is not None:
                    sample.motion = (moved[0] * back, moved[1] * back, moved[2])
                for face in sample.faces:
                    y0, y1 = int(face.cy / back), int(face.y1 / back)
                    x0, x1 = int(face.x0 / back), int(face.x1 / back)
                    region = np.abs(gray[y0:y1, x0:x1].astype(np.int16) - prev_gray[y0:y1, x0:x1])
                    sample.mouth.append(float(region.mean()) if region.size else 0.0)
            else:
                sample.mouth = [0.0] * len(sample.faces)
            samples.append(sample)
        prev_gray = gray
    if not samples:
        raise MediaError(f"{path.name}: no frames decoded in {first}-{last} for reframing")
    return samples


def _tracks(samples: list[Sample]) -> list[dict[int, int]]:
    """Face tracks: each a {sample index: face index}, joined by nearest centre within a face width."""
    tracks: list[dict[int, int]] = []
    last_box: list[Box] = []
    for si, sample in enumerate(samples):
        taken: set[int] = set()
        for fi, face in sorted(enumerate(sample.faces), key=lambda p: -p[1].score):
            best, best_d = None, None
            for ti, box in enumerate(last_box):
                if ti in taken:
                    continue
                d = float(np.hypot(box.cx - face.cx, box.cy - face.cy))
                if d <= max(box.width, face.width) and (best_d is None or d < best_d):
                    best, best_d = ti, d
            if best is None:
                tracks.append({si: fi})
                last_box.append(face)
                taken.add(len(tracks) - 1)
            else:
                tracks[best][si] = fi
                last_box[best] = face
                taken.add(best)
    return tracks


def _speaking(frame: int, rate: float, speech: Sequence[tuple[float, float]] | None) -> bool:
    if speech is None:
        return True
    t = frame / rate
    return any(a <= t < b for a, b in speech)


def choose_subject(
    samples: list[Sample],
    first: int,
    last: int,
    source_size: tuple[int, int],
    window: tuple[float, float],
    rate: float,
    speech: Sequence[tuple[float, float]] | None = None,
) -> Subject:
    """The subject's centre for every frame of ``[first, last)`` (linear between samples)."""
    width, height = source_size
    win_w, win_h = window
    tracks = _tracks(samples)
    speaker: int | None = None
    if tracks:
        scores = []
        for track in tracks:
            talk = sum(
                samples[si].mouth[fi] if fi < len(samples[si].mouth) else 0.0
                for si, fi in track.items()
                if _speaking(samples[si].frame, rate, speech)
            )
            presence = sum(samples[si].faces[fi].width * samples[si].faces[fi].height for si, fi in track.items())
            scores.append((talk if speech else 0.0, presence))
        speaker = max(range(len(tracks)), key=lambda i: scores[i])
    points: list[tuple[int, float, float]] = []
    kinds: set[str] = set()
    for si, sample in enumerate(samples):
        if sample.faces:
            x0 = min(f.x0 for f in sample.faces)
            x1 = max(f.x1 for f in sample.faces)
            y0 = min(f.y0 for f in sample.faces)
            y1 = max(f.y1 for f in sample.faces)
            if len(sample.faces) == 1:
                face = sample.faces[0]
                points.append((sample.frame, face.cx, face.cy))
                kinds.add("face")
            elif (x1 - x0) <= 0.8 * win_w and (y1 - y0) <= 0.8 * win_h:
                points.append((sample.frame, (x0 + x1) / 2, (y0 + y1) / 2))
                kinds.add("group")
            else:
                fi = tracks[speaker].get(si) if speaker is not None else None
                face = sample.faces[fi] if fi is not None else max(sample.faces, key=lambda f: f.width)
                points.append((sample.frame, face.cx, face.cy))
                kinds.add("speaker")
        elif sample.motion is not None and not any(s.faces for s in samples):
            points.append((sample.frame, sample.motion[0], sample.motion[1]))
            kinds.add("motion")
    frames = np.arange(first, last)
    if not points:
        return Subject(first, np.full(len(frames), width / 2), np.full(len(frames), height / 2), "centre")
    at = np.array([p[0] for p in points], float)
    # np.interp holds the first/last known point outside the samples: the subject is held, not lost.
    xs = np.interp(frames, at, [p[1] for p in points])
    ys = np.interp(frames, at, [p[2] for p in points])
    order = ("speaker", "group", "face", "motion")
    kind = next((k for k in order if k in kinds), "centre")
    return Subject(first, xs, ys, kind)
