"""One decode pass per clip that feeds every picture analyzer.

ffmpeg decodes the clip once (all its threads), rotates it upright and scales it to a small
analysis size (256 px wide by default, the width scenedetect's auto-downscale picks), and pipes raw
BGR frames to us. Decoding and scaling run in ffmpeg's process while the analyzers run here, so
the two overlap. Every frame goes through:

* shot boundaries: scenedetect's own ``AdaptiveDetector`` (the most accurate detector in our
  baselines, research/feasibility.md §3a), fed with our frames instead of its own decode;
* picture measures: sharpness (Laplacian variance), brightness and clipping (luma histogram),
  colourfulness (Hasler–Süsstrunk) and motion (mean absolute luma change at quarter size);
* camera shake: the frame-to-frame translation by phase correlation at half the analysis size;
  a shot's shake is how far its camera path strays from the path's 0.5 s running mean (what
  vid.stab would smooth away), so steady pans and zooms read as steady and jitter does not;
* picture quality (:mod:`analysis.picture_quality`): compression blocking, banding, noise and blur,
  on about 4 frames a second, measured on two strips of *source* pixels that ffmpeg stacks under
  each analysis frame (the downscale to 256 px would erase the 8x8 codec grid, average noise
  away and hide blur); the same frames get a perceptual hash for near-duplicate detection
  (:mod:`analysis.near_duplicates`);
* faces: OpenCV's bundled frontal-face Haar cascade, on one frame per ``face_interval`` seconds
  and on each shot's thumbnail frame;
* thumbnails: per shot, the frame with the best picture score, written as JPEG.

``-fps_mode passthrough`` keeps ffmpeg from duplicating or dropping frames, so the n-th frame we
read is the n-th frame of the file even for variable-frame-rate clips: shot frames are indexes
into the file, as :mod:`analysis.models` requires.
"""

from __future__ import annotations

import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from analysis.models import Shot, ShotQuality
from analysis.near_duplicates import perceptual_hash
from analysis.picture_quality import PictureDefects, aggregate, measure_picture
from kernel.atomic_io import write_bytes_atomic
from kernel.errors import MediaError
from kernel.ffmpeg_tools import ffmpeg_path
from kernel.media import MediaItem

FrameProgress = Callable[[int, int], None]
"""Called as ``progress(frames_done, frames_total)``."""

# Normalisation constants (why these numbers): a Laplacian variance of 200 at 256 px wide is
# where footage starts to look soft; Hasler–Süsstrunk's "extremely colourful" is about 110; a
# mean luma change of 32 levels per frame is a whip pan.
_SHARPNESS_HALF = 200.0
_COLORFUL_MAX = 110.0
_MOTION_MAX = 32.0
# Camera shake: RMS path deviation of 3% of the frame width is as shaky as footage gets; phase
# correlation peaks below 0.3 are noise or a flat picture, not a camera move, and count as still.
_SHAKE_MAX = 0.03
_SHIFT_CONFIDENCE = 0.3
_SHAKE_WINDOW_SECONDS = 0.5
# Luma levels that count as crushed blacks / blown highlights (8-bit, full range after BGR).
_CLIP_LOW, _CLIP_HIGH = 8, 247
# Picture quality and hashes run on this many frames a second (never fewer than one per shot: the
# step is capped at the shortest shot); 4 a second costs ~0.4 ms a frame on average.
_QUALITY_PER_SECOND = 4.0
# Source-pixel strips for picture quality: two strips this high (at most), centred at 30% and 70%
# of the picture height, as wide as the analysis frame; offsets on the 16 px codec grid.
_STRIP_HEIGHT = 96
_HASHES_PER_SHOT = 4
_INTEREST_SLICES = 16  # values per shot in Shot.interest
MEASURES_VERSION = 3
"""Bump when a per-frame measure changes its results (part of the analysis cache key)."""


@dataclass(frozen=True)
class FramePassOptions:
    """Settings of the picture pass. Lengths in frames unless the name says seconds."""

    width: int = 256
    adaptive_threshold: float = 3.0
    min_scene_len: int = 8
    window_width: int = 2
    # A cut whose adaptive ratio is under twice the threshold must also change the picture this much
    # (scenedetect's content value): on noisy footage an x264 keyframe lifts one frame's content
    # value 3-4.5x over its neighbours' (to 17-25), which a plain ratio test calls a cut.
    weak_cut_content: float = 40.0
    faces: bool = True
    face_interval: float = 1.0
    threads: int = 0

    def cache_params(self) -> dict:
        return {
            "width": self.width,
            "adaptive_threshold": self.adaptive_threshold,
            "min_scene_len": self.min_scene_len,
            "window_width": self.window_width,
            "weak_cut_content": self.weak_cut_content,
            "faces": self.faces,
            "face_interval": self.face_interval,
            "measures": MEASURES_VERSION,
        }


MIN_PICTURE = 16
"""Smallest picture side (pixels) we analyze: below it no shot, sharpness or motion measure means anything."""


def analysis_size(media: MediaItem, width: int) -> tuple[int, int]:
    """Upright analysis frame size in pixels (even numbers), never larger than the source width.

    Neither side goes below :data:`MIN_PICTURE`: a very wide picture is analyzed slightly
    stretched rather than at a height the measures (a quarter- and half-size copy) cannot use.
    """
    src_w, src_h = media.display_size
    if src_w <= 0 or src_h <= 0:
        raise MediaError(f"{media.path}: video stream has no picture size")
    if src_w < MIN_PICTURE or src_h < MIN_PICTURE:
        raise MediaError(
            f"{media.path}: picture is {src_w}x{src_h} px, too small to analyze "
            f"(needs at least {MIN_PICTURE}x{MIN_PICTURE} px)"
        )
    w = max(MIN_PICTURE, min(width, src_w) // 2 * 2)
    h = max(MIN_PICTURE, int(round(w * src_h / src_w / 2)) * 2)
    return w, h


def source_strips(media: MediaItem, width: int) -> list[tuple[int, int]]:
    """Where the picture-quality strips sit: ``(y, height)`` of each, in source pixels (upright).

    Empty when the analysis frame is the source picture already (sources no wider than the
    analysis width) or the picture is too short for a strip. Strips are ``width`` wide, centred."""
    src_w, src_h = media.display_size
    w, _ = analysis_size(media, width)
    height = min(_STRIP_HEIGHT, src_h // 2 // 16 * 16)
    if src_w <= w or height < 16:
        return []
    strips = []
    for centre in (0.3, 0.7):
        y = int(centre * src_h - height / 2) // 16 * 16
        strips.append((min(max(0, y), (src_h - height) // 16 * 16), height))
    return strips


def _filter_graph(media: MediaItem, w: int, h: int, strips: list[tuple[int, int]]) -> str:
    """ffmpeg filters: the analysis frame scaled to ``w``x``h``, with the source strips stacked under
    it (crops run before any format conversion, so they are source pixels and cost little)."""
    scale = f"scale={w}:{h}:flags=bilinear"
    if not strips:
        return scale
    src_w, _ = media.display_size
    x = (src_w - w) // 2 // 16 * 16
    n = len(strips) + 1
    labels = [f"[p{i}]" for i in range(n)]
    parts = [f"split={n}{''.join(labels)}", f"{labels[0]}{scale}[s0]"]
    for i, (y, height) in enumerate(strips, start=1):
        parts.append(f"{labels[i]}crop={w}:{height}:{x}:{y}[s{i}]")
    parts.append("".join(f"[s{i}]" for i in range(n)) + f"vstack=inputs={n}")
    return ";".join(parts)


def quality_step(fps: float, min_scene_len: int) -> int:
    """Frames between picture-quality samples: ~``_QUALITY_PER_SECOND`` a second, and never more
    than the shortest shot, so every shot has at least one sample."""
    return max(1, min(max(1, min_scene_len), int(round(fps / _QUALITY_PER_SECOND))))


@lru_cache(maxsize=1)
def _face_cascade():  # -> cv2.CascadeClassifier
    import cv2

    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
    if cascade.empty():
        raise MediaError("OpenCV's bundled face model (haarcascade_frontalface_default.xml) is missing")
    return cascade


def count_faces(gray: np.ndarray) -> int:
    """Frontal faces in a grayscale frame (faces smaller than 1/6 of the frame height are ignored).

    The cascade costs ~12 ms per 256x144 frame at these settings (scale step 1.2, the cascade's
    native 24 px window as the smallest face), which is why it runs on sampled frames only.
    """
    side = max(24, gray.shape[0] // 6)
    found = _face_cascade().detectMultiScale(gray, scaleFactor=1.2, minNeighbors=5, minSize=(side, side))
    return len(found)


def colorfulness(bgr: np.ndarray) -> float:
    """Hasler–Süsstrunk colourfulness of a BGR frame (0 for grey, ~110 extremely colourful)."""
    # Every 4th pixel each way: the statistic is a mean/std over the frame, and this keeps it
    # at ~0.07 ms a frame.
    px = bgr[::4, ::4].reshape(-1, 3).astype(np.float32)
    b, g, r = px[:, 0], px[:, 1], px[:, 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


class _Measures:
    """Per-frame picture measures, appended in frame order."""

    def __init__(self) -> None:
        self.sharpness: list[float] = []
        self.brightness: list[float] = []
        self.clipped: list[float] = []
        self.colorful: list[float] = []
        self.motion: list[float] = []
        self.shift: list[tuple[float, float]] = []  # camera move from the previous frame, in frame widths
        self.faces: dict[int, int] = {}
        self.defects: dict[int, PictureDefects] = {}  # sampled frames only
        self.hashes: dict[int, int] = {}  # sampled frames with detail enough to hash

    def interest(self, start: int, end: int, slices: int = _INTEREST_SLICES) -> list[float]:
        """How interesting the picture is over ``[start, end)``: the mean per-frame interest over
        up to ``slices`` equal slices (each at least ~6 frames), 0..1. A frame is interesting when
        something moves, it has detail and colour, and a face is in it (faces are sampled: a
        sample counts for the frames up to the next one)."""
        end = min(end, len(self.sharpness))
        if end <= start:
            return []
        n = end - start
        sharp = np.asarray(self.sharpness[start:end])
        color = np.asarray(self.colorful[start:end])
        # The first frame's motion is the cut into the shot, not movement inside it.
        motion = np.asarray([0.0, *self.motion[start + 1 : end]])[:n]
        face = np.zeros(n)
        sampled = sorted(self.faces)
        for k, at in enumerate(sampled):
            upto = sampled[k + 1] if k + 1 < len(sampled) else at + 1
            lo, hi = max(at, start), min(upto, end)
            if hi > lo and self.faces[at] > 0:
                face[lo - start : hi - start] = 1.0
        per_frame = 0.35 * np.minimum(1.0, 4.0 * motion) + 0.3 * sharp + 0.2 * color + 0.15 * face
        count = max(1, min(slices, n // 6))
        edges = np.linspace(0, n, count + 1).round().astype(int)
        return [round(float(per_frame[a:b].mean()), 4) for a, b in zip(edges, edges[1:]) if b > a]


def _frame_score(sharp: float, bright: float, clipped: float) -> float:
    """Picture score used to pick thumbnails: sharp, well exposed, little clipping (0..1)."""
    exposure = 1.0 - min(1.0, abs(bright - 0.5) * 2.0)
    return 0.5 * sharp + 0.3 * exposure + 0.2 * (1.0 - clipped)


def camera_shake(shifts: list[tuple[float, float]], fps: float) -> float:
    """Shake of one shot, 0..1, from its per-frame camera moves (in frame widths).

    The camera path is the running sum of the moves; shake is its RMS distance from a 0.5 s running
    mean, over the frames where that mean is complete. Returns 0 for shots too short to tell."""
    window = max(5, int(round(fps * _SHAKE_WINDOW_SECONDS)) | 1)
    if len(shifts) < window + 2:
        return 0.0
    path = np.cumsum(np.asarray(shifts, dtype=np.float64), axis=0)
    kernel = np.ones(window) / window
    mean = np.stack([np.convolve(path[:, i], kernel, mode="valid") for i in range(2)], axis=1)
    half = window // 2
    deviation = path[half : len(path) - half] - mean
    rms = float(np.sqrt((deviation**2).sum(axis=1).mean()))
    return min(1.0, rms / _SHAKE_MAX)


def shot_quality(m: _Measures, start: int, end: int, fps: float = 25.0) -> ShotQuality:
    """Aggregate frame measures over ``[start, end)``; motion and shake exclude the cut into the shot."""
    sl = slice(start, max(start + 1, min(end, len(m.sharpness))))
    sharp = float(np.mean(m.sharpness[sl])) if m.sharpness[sl] else 0.0
    bright = float(np.mean(m.brightness[sl])) if m.brightness[sl] else 0.0
    clipped = float(np.mean(m.clipped[sl])) if m.clipped[sl] else 0.0
    color = float(np.mean(m.colorful[sl])) if m.colorful[sl] else 0.0
    moves = m.motion[start + 1 : min(end, len(m.motion))]
    motion = float(np.mean(moves)) if moves else 0.0
    faces = max((n for i, n in m.faces.items() if start <= i < end), default=0)
    shake = camera_shake(m.shift[start + 1 : min(end, len(m.shift))], fps)
    exposure = 1.0 - min(1.0, abs(bright - 0.5) * 2.0)
    # Usability: sharpness and exposure matter most; heavy motion (shake, whip pans) costs a little.
    score = 0.35 * sharp + 0.25 * exposure + 0.2 * (1.0 - clipped) + 0.1 * color + 0.1 * (1.0 - motion)
    defects = _shot_defects(m, start, end)
    if defects is not None:
        # A damaged picture is a worse shot whatever its framing: technical quality scales the score
        # (a shot with every defect at full strength keeps 35% of it).
        score *= _TECHNICAL_FLOOR + (1.0 - _TECHNICAL_FLOOR) * defects.technical
    clamp = lambda v: float(min(1.0, max(0.0, v)))  # noqa: E731 - pydantic bounds are inclusive 0..1
    extra = {}
    if defects is not None:
        extra = {
            "technical": clamp(defects.technical),
            "blocking": clamp(defects.blocking),
            "banding": clamp(defects.banding),
            "noise": clamp(defects.noise),
            "blur": clamp(defects.blur),
        }
    return ShotQuality(
        sharpness=clamp(sharp),
        brightness=clamp(bright),
        clipped=clamp(clipped),
        colorfulness=clamp(color),
        motion=clamp(motion),
        shake=clamp(shake),
        faces=faces,
        score=clamp(score),
        **extra,
    )


_TECHNICAL_FLOOR = 0.35


def _shot_defects(m: _Measures, start: int, end: int) -> PictureDefects | None:
    """The shot's sampled defects aggregated; a shot without a sample borrows the nearest one."""
    inside = [d for i, d in m.defects.items() if start <= i < end]
    if not inside and m.defects:
        nearest = min(m.defects, key=lambda i: min(abs(i - start), abs(i - (end - 1))))
        inside = [m.defects[nearest]]
    return aggregate(inside)


def shot_hashes(m: _Measures, start: int, end: int, count: int = _HASHES_PER_SHOT) -> list[str]:
    """Up to ``count`` perceptual hashes spread evenly over ``[start, end)``, as 16 hex digits."""
    frames = sorted(i for i in m.hashes if start <= i < end)
    if len(frames) > count:
        frames = [frames[round(k * (len(frames) - 1) / (count - 1))] for k in range(count)]
    return [f"{m.hashes[i]:016x}" for i in frames]


def _detector(options: FramePassOptions):  # -> scenedetect AdaptiveDetector
    """scenedetect's ``AdaptiveDetector`` that also refuses weak cuts on small changes.

    A candidate (adaptive ratio over the threshold, content value over scenedetect's floor of 15)
    whose ratio is under twice the threshold is a cut only if its content value reaches
    ``options.weak_cut_content``. True cuts on our clips score content >= 52 (or ratio >= 20);
    keyframe pulses in noisy footage score ratio 3.1-4.5 at content 17-25. Refused candidates do
    not restart ``min_scene_len``."""
    from scenedetect import AdaptiveDetector

    class _Detector(AdaptiveDetector):
        def process_frame(self, timecode, frame_img):  # noqa: ANN001, ANN202 - scenedetect's signature
            # ContentDetector.process_frame scores the frame (self._frame_score); the rest is
            # AdaptiveDetector.process_frame (scenedetect 0.6.4-0.7) with the weak-cut test added.
            super(AdaptiveDetector, self).process_frame(timecode=timecode, frame_img=frame_img)
            if self._frame_score is None:
                return []
            if self._last_cut is None:
                self._last_cut = timecode
            required = 1 + 2 * self.window_width
            self._buffer.append((timecode, self._frame_score))
            if len(self._buffer) < required:
                return []
            self._buffer = self._buffer[-required:]
            target_tc, target_score = self._buffer[self.window_width]
            average = sum(score for i, (_, score) in enumerate(self._buffer) if i != self.window_width) / (
                2.0 * self.window_width
            )
            if abs(average) < 0.00001:
                ratio = 255.0 if target_score >= self.min_content_val else 0.0
            else:
                ratio = min(target_score / average, 255.0)
            met = ratio >= self.adaptive_threshold and target_score >= self.min_content_val
            if met and ratio < 2.0 * self.adaptive_threshold:
                met = target_score >= options.weak_cut_content
            if met and (target_tc - self._last_cut) >= self.min_scene_len:
                self._last_cut = target_tc
                return [target_tc]
            return []

    return _Detector(
        adaptive_threshold=options.adaptive_threshold,
        min_scene_len=options.min_scene_len,
        window_width=options.window_width,
    )


class _Drain(threading.Thread):
    """Reads ffmpeg's stderr so a chatty decoder can never block the pipe."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.text = b""

    def run(self) -> None:
        self.text = self.stream.read()


def run_frame_pass(
    media: MediaItem,
    options: FramePassOptions = FramePassOptions(),
    *,
    thumbnails_dir: Path | None = None,
    progress: FrameProgress | None = None,
) -> list[Shot]:
    """Decode ``media`` once and return its shots with quality (and thumbnails when a dir is given).

    Shot frames are ``[start, end)`` indexes at the media rate; the last shot ends at
    ``media.frames``. Raises :class:`MediaError` when ffmpeg cannot decode the video.
    """
    import cv2
    from scenedetect.common import FrameTimecode

    if not media.has_video:
        raise MediaError(f"{media.path}: has no video stream to analyze")
    cv2.setNumThreads(1)  # frames are tiny; threads only add contention with ffmpeg's decoder
    w, h = analysis_size(media, options.width)
    strips = source_strips(media, options.width)
    stacked_h = h + sum(height for _, height in strips)
    frame_bytes = w * stacked_h * 3
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error"]
    if options.threads > 0:
        cmd += ["-threads", str(options.threads)]
    cmd += ["-i", str(media.path), "-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough"]
    cmd += ["-vf", _filter_graph(media, w, h, strips), "-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1"]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise MediaError(f"{media.path}: cannot start ffmpeg to decode it ({exc})") from exc
    drain = _Drain(proc.stderr)
    drain.start()

    fps = float(media.rate)
    detector = _detector(options)
    measures = _Measures()
    face_step = max(1, int(round(options.face_interval * fps)))
    q_step = quality_step(fps, options.min_scene_len)
    n_pixels = float(w * h)
    cuts: list[int] = []
    # Thumbnail candidates: the best frame of the open shot that is too old to be split off by a
    # late cut, plus the last few frames (a cut is reported ``window_width`` frames late).
    lag = options.window_width + 2
    recent: deque[tuple[int, float, np.ndarray]] = deque()
    best_old: tuple[int, float, np.ndarray] | None = None
    thumbs: list[tuple[int, np.ndarray]] = []  # per finished shot: (frame index, picture)
    prev_small: np.ndarray | None = None
    half_size = (max(16, w // 2), max(16, h // 2))
    hann = cv2.createHanningWindow(half_size, cv2.CV_32F)
    prev_half: np.ndarray | None = None
    index = 0
    report_every = max(1, int(fps))

    def close_shot(cut: int) -> None:
        nonlocal best_old
        pool = [c for c in recent if c[0] < cut]
        if best_old is not None:
            pool.append(best_old)
        if pool:
            chosen = max(pool, key=lambda c: c[1])
            thumbs.append((chosen[0], chosen[2]))
        best_old = None
        while recent and recent[0][0] < cut:
            recent.popleft()

    try:
        assert proc.stdout is not None
        while True:
            data = proc.stdout.read(frame_bytes)
            if len(data) < frame_bytes:
                break
            stacked = np.frombuffer(data, dtype=np.uint8).reshape(stacked_h, w, 3)
            bgr = stacked[:h]
            for tc in detector.process_frame(FrameTimecode(index, fps=fps), bgr):
                cut = int(tc.frame_num)
                if 0 < cut < media.frames:
                    close_shot(cut)
                    cuts.append(cut)
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            hist = cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()
            bright = float(hist @ np.arange(256)) / n_pixels / 255.0
            clipped = float(hist[: _CLIP_LOW + 1].sum() + hist[_CLIP_HIGH:].sum()) / n_pixels
            lap_var = float(cv2.meanStdDev(cv2.Laplacian(gray, cv2.CV_32F))[1][0, 0] ** 2)
            sharp = lap_var / (lap_var + _SHARPNESS_HALF)
            small = cv2.resize(gray, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
            motion = 0.0 if prev_small is None else float(cv2.absdiff(small, prev_small).mean()) / _MOTION_MAX
            prev_small = small
            half = cv2.resize(gray, half_size, interpolation=cv2.INTER_AREA).astype(np.float32)
            if prev_half is None:
                measures.shift.append((0.0, 0.0))
            else:
                (dx, dy), peak = cv2.phaseCorrelate(prev_half, half, hann)
                still = peak < _SHIFT_CONFIDENCE
                measures.shift.append((0.0, 0.0) if still else (dx / half_size[0], dy / half_size[0]))
            prev_half = half
            measures.sharpness.append(sharp)
            measures.brightness.append(bright)
            measures.clipped.append(clipped)
            measures.colorful.append(min(1.0, colorfulness(bgr) / _COLORFUL_MAX))
            measures.motion.append(min(1.0, motion))
            if index % q_step == 0:
                source = cv2.cvtColor(stacked[h:], cv2.COLOR_BGR2GRAY) if strips else gray
                measures.defects[index] = measure_picture(source)
                hashed = perceptual_hash(gray)
                if hashed is not None:
                    measures.hashes[index] = hashed
            if options.faces and index % face_step == 0:
                measures.faces[index] = count_faces(gray)
            if thumbnails_dir is not None:
                recent.append((index, _frame_score(sharp, bright, clipped), bgr))
                while len(recent) > lag:
                    old = recent.popleft()
                    if best_old is None or old[1] > best_old[1]:
                        best_old = old
            index += 1
            if progress and index % report_every == 0:
                progress(min(index, media.frames), media.frames)
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        rc = proc.wait()
        drain.join(timeout=5)
    if rc != 0 or index == 0:
        tail = " | ".join(drain.text.decode("utf-8", "replace").strip().splitlines()[-2:]) or f"exit {rc}"
        raise MediaError(f"{media.path}: video cannot be decoded ({tail}) — is the file damaged or truncated?")
    if thumbnails_dir is not None:
        close_shot(media.frames + 1)
    if progress:
        progress(media.frames, media.frames)

    end = max(media.frames, 1)
    bounds = [0, *sorted(set(cuts)), end]
    shots: list[Shot] = []
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        if b <= a:
            continue
        thumb_path = None
        if thumbnails_dir is not None and k < len(thumbs):
            at, picture = thumbs[k]
            if options.faces:
                gray = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
                measures.faces[at] = max(measures.faces.get(at, 0), count_faces(gray))
            thumb_path = _write_thumbnail(thumbnails_dir, k, picture)
        shots.append(
            Shot(
                start=a,
                end=b,
                quality=shot_quality(measures, a, b, fps),
                thumbnail=thumb_path,
                phash=shot_hashes(measures, a, b),
                interest=measures.interest(a, b),
            )
        )
    return shots


def _write_thumbnail(directory: Path, shot_index: int, picture: np.ndarray) -> Path:
    import cv2

    directory.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".jpg", picture, [int(cv2.IMWRITE_JPEG_QUALITY), 85])
    if not ok:
        raise MediaError(f"{directory}: could not encode a thumbnail")
    target = directory / f"shot_{shot_index:04d}.jpg"
    write_bytes_atomic(target, encoded.tobytes())
    return target
