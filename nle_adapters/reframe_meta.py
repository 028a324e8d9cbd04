"""The reframe data a timeline clip carries, and how each output states it.

Shape (``clip.metadata["montage_bridge"]["reframe"]``, version 1)::

    {
      "version": 1,
      "aspect": "9:16",                # the window's aspect (the timeline's)
      "source": [1920, 1080],          # the upright picture the numbers are in, px
      "window": [607.5, 1080.0],       # crop window size, source px (constant over the clip)
      "keyframes": [                   # window centre, source px; frame = index into the file at the
        {"frame": 120, "x": 1310.0, "y": 540.0},   # media rate, without the start timecode (like
        ...                            # Cut.source_in); linear between keyframes, held outside
      ],
      "subject": "face",               # face | group | speaker | motion | centre (timeline: read from a file)
      "tolerance_px": 0.5              # the keyframes reproduce the smoothed path this closely
    }

Everything here is pure arithmetic on that dict, so writers (FCPXML, FCP7 XML), the renderer and
the tests share one definition of "the window at frame f". Sizes are proportional: a proxy or a
differently sized render input uses the same numbers scaled by its own size.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

KEY = "reframe"


def centre_at(keys: list[dict], frame: float) -> tuple[float, float]:
    """The window centre at source ``frame`` from keyframes (linear between, held outside)."""
    at = [k["frame"] for k in keys]
    return (
        float(np.interp(frame, at, [k["x"] for k in keys])),
        float(np.interp(frame, at, [k["y"] for k in keys])),
    )


def window_at(meta: dict, frame: float) -> tuple[float, float, float, float]:
    """``(x0, y0, w, h)``: the crop window at source ``frame``, source px."""
    w, h = (float(v) for v in meta["window"])
    cx, cy = centre_at(meta["keyframes"], frame)
    return cx - w / 2, cy - h / 2, w, h


# ---- FCPXML ---------------------------------------------------------------------------------------


def _fit(meta: dict, timeline: tuple[int, int]) -> tuple[float, float]:
    """(fit factor, extra scale): FCP fits the source into the frame (``adjust-conform`` fit), then
    ``adjust-transform`` scales it so the window fills the frame."""
    src_w, src_h = (float(v) for v in meta["source"])
    tw, th = timeline
    fit = min(tw / src_w, th / src_h)
    win_w, win_h = (float(v) for v in meta["window"])
    return fit, max(tw / (win_w * fit), th / (win_h * fit))


def _fcp_time(seconds: Fraction) -> str:
    return f"{seconds.numerator}s" if seconds.denominator == 1 else f"{seconds.numerator}/{seconds.denominator}s"


def fcpxml_position(meta: dict, timeline: tuple[int, int], cx: float, cy: float) -> tuple[float, float]:
    """FCPXML ``position`` (percent of the project's height, y up) that puts source point
    (cx, cy) at the frame's centre at the reframe scale."""
    src_w, src_h = (float(v) for v in meta["source"])
    fit, scale = _fit(meta, timeline)
    th = timeline[1]
    return -(cx - src_w / 2) * fit * scale / th * 100, (cy - src_h / 2) * fit * scale / th * 100


def fcpxml_elements(meta: dict, timeline: tuple[int, int], rate: Fraction, media_start: int) -> list[ET.Element]:
    """``adjust-conform`` (fit) and ``adjust-transform`` with position keyframes for an asset-clip
    whose local time is media time (``media_start`` = the start timecode in frames at ``rate``).

    Order inside asset-clip per Apple's DTD: after ``conform-rate``/``timeMap``, before markers."""
    _, scale = _fit(meta, timeline)
    keys = meta["keyframes"]
    first = fcpxml_position(meta, timeline, keys[0]["x"], keys[0]["y"])
    attrs = {"position": f"{first[0]:.4f} {first[1]:.4f}", "scale": f"{scale:.6f} {scale:.6f}"}
    transform = ET.Element("adjust-transform", attrs)
    if len(keys) > 1:
        param = ET.SubElement(transform, "param", {"name": "position"})
        animation = ET.SubElement(param, "keyframeAnimation")
        for key in keys:
            x, y = fcpxml_position(meta, timeline, key["x"], key["y"])
            when = Fraction(media_start + key["frame"]) / rate
            ET.SubElement(animation, "keyframe", {"time": _fcp_time(when), "value": f"{x:.4f} {y:.4f}"})
    return [ET.Element("adjust-conform", {"type": "fit"}), transform]


def clip_reframe(clip: Any) -> dict | None:
    """The reframe metadata of an OTIO clip, or None (version 1 only; a newer one is left alone)."""
    metadata = getattr(clip, "metadata", None)
    ours = metadata.get("montage_bridge") if isinstance(metadata, Mapping) else None
    meta = ours.get(KEY) if isinstance(ours, Mapping) else None
    if not isinstance(meta, Mapping) or meta.get("version") != 1 or not meta.get("keyframes"):
        return None
    return _plain(meta)


def _plain(value):
    """OTIO's AnyDictionary/AnyVector as plain dicts and lists."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or (hasattr(value, "__iter__") and not isinstance(value, (str, bytes))):
        return [_plain(v) for v in value]
    return value


def fcpxml_clip_elements(clip, timeline: tuple[int, int], rate: Fraction) -> list[ET.Element]:
    """What the FCPXML writer puts in a picture asset-clip for ``clip``'s reframe (nothing without one)."""
    meta = clip_reframe(clip)
    if meta is None:
        return []
    ref = clip.media_reference
    available = getattr(ref, "available_range", None)
    start = available.start_time if available is not None else None
    media_start = round(Fraction(start.value) * rate / Fraction(start.rate)) if start and start.rate > 0 else 0
    return fcpxml_elements(meta, timeline, rate, media_start)


def _parse_time(text: str) -> Fraction:
    value = text.rstrip("s")
    return Fraction(value)


def read_fcpxml_transform(
    transform: ET.Element,
    source: tuple[float, float],
    window: tuple[float, float],
    timeline: tuple[int, int],
    rate: Fraction,
    media_start: int,
) -> list[dict]:
    """Keyframes (``frame``, ``x``, ``y``: window centres in source px) from an ``adjust-transform``
    — the inverse of :func:`fcpxml_elements`, for reading a timeline back."""
    meta = {"source": list(source), "window": list(window)}
    fit, _ = _fit(meta, timeline)
    sx = float((transform.get("scale") or "1 1").split()[0])
    th = timeline[1]

    def centre(value: str) -> tuple[float, float]:
        px, py = (float(v) for v in value.split())
        return source[0] / 2 - px * th / 100 / (fit * sx), source[1] / 2 + py * th / 100 / (fit * sx)

    frames = transform.findall("./param[@name='position']/keyframeAnimation/keyframe")
    if not frames:
        x, y = centre(transform.get("position") or "0 0")
        return [{"frame": 0, "x": x, "y": y}]
    out = []
    for key in frames:
        x, y = centre(key.get("value", "0 0"))
        frame = _parse_time(key.get("time", "0s")) * rate - media_start
        out.append({"frame": float(frame), "x": x, "y": y})
    return out


# ---- FCP7 XML (xmeml) Basic Motion -----------------------------------------------------------------
#
# FCP7 and Premiere place a clip at its own pixel size (no fit) and move it with the Basic Motion
# filter: ``scale`` in percent of the file's pixels, ``center`` the picture's centre as an offset from
# the sequence frame's centre in units of the frame (horiz / width, vert / height; -0.5..0.5 is the
# frame, y down), keyframes' ``when`` in the clipitem's own frames (the space of ``in``/``out``: file
# frames at the clipitem's rate, without the start timecode). The window stays constant, so scale has
# one value and center carries the keyframes.


def _frame_scale(meta: dict, sequence: tuple[int, int]) -> float:
    """Sequence px per source px that makes the window fill the sequence frame."""
    win_w, win_h = (float(v) for v in meta["window"])
    return max(sequence[0] / win_w, sequence[1] / win_h)


def xmeml_motion(
    meta: dict, sequence: tuple[int, int], file_size: tuple[int, int] | None = None
) -> tuple[float, list[tuple[float, float, float]]]:
    """``(scale percent, [(source frame, horiz, vert), ...])`` of the Basic Motion that shows
    ``meta``'s window filling ``sequence``. ``file_size``: the linked file's pixels when it is not the
    picture the numbers are in (a proxy): the scale is of *its* pixels."""
    src_w, src_h = (float(v) for v in meta["source"])
    s = _frame_scale(meta, sequence)
    per_file_px = s * (src_w / file_size[0] if file_size and file_size[0] else 1.0)
    keys = [
        (float(k["frame"]), (src_w / 2 - k["x"]) * s / sequence[0], (src_h / 2 - k["y"]) * s / sequence[1])
        for k in meta["keyframes"]
    ]
    return per_file_px * 100, keys


def _number(value: float, places: int) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def xmeml_motion_filter(
    meta: dict,
    sequence: tuple[int, int],
    media_rate: Fraction,
    clip_rate: Fraction,
    file_size: tuple[int, int] | None = None,
) -> ET.Element:
    """The clipitem ``<filter>`` holding Basic Motion for ``meta`` (keyframes converted from media
    frames at ``media_rate`` to the clipitem's frames at ``clip_rate``)."""
    scale, keys = xmeml_motion(meta, sequence, file_size)
    filter_el = ET.Element("filter")
    effect = ET.SubElement(filter_el, "effect")
    for tag, text in (
        ("name", "Basic Motion"),
        ("effectid", "basic"),
        ("effectcategory", "motion"),
        ("effecttype", "motion"),
        ("mediatype", "video"),
    ):
        ET.SubElement(effect, tag).text = text

    def parameter(pid: str, name: str, lo: str | None, hi: str | None) -> ET.Element:
        param = ET.SubElement(effect, "parameter", authoringApp="PremierePro")
        ET.SubElement(param, "parameterid").text = pid
        ET.SubElement(param, "name").text = name
        if lo is not None:
            ET.SubElement(param, "valuemin").text = lo
            ET.SubElement(param, "valuemax").text = hi
        return param

    def point(parent: ET.Element, horiz: float, vert: float) -> None:
        value = ET.SubElement(parent, "value")
        ET.SubElement(value, "horiz").text = _number(horiz, 6)
        ET.SubElement(value, "vert").text = _number(vert, 6)

    ET.SubElement(parameter("scale", "Scale", "0", "1000"), "value").text = _number(scale, 4)
    ET.SubElement(parameter("rotation", "Rotation", "-8640", "8640"), "value").text = "0"
    center = parameter("center", "Center", None, None)
    point(center, keys[0][1], keys[0][2])
    if len(keys) > 1:
        # ``when`` is a whole clipitem frame: a keyframe between two (media faster than the
        # sequence) moves to the nearest, with the centre the path has there, so the shown frames
        # keep their windows.
        src_w, src_h = (float(v) for v in meta["source"])
        s = _frame_scale(meta, sequence)
        written: set[int] = set()
        for frame, _, _ in keys:
            when = int(round(frame * clip_rate / media_rate))
            if when in written:
                continue
            written.add(when)
            cx, cy = centre_at(meta["keyframes"], float(when * media_rate / clip_rate))
            key = ET.SubElement(center, "keyframe")
            ET.SubElement(key, "when").text = str(when)
            point(key, (src_w / 2 - cx) * s / sequence[0], (src_h / 2 - cy) * s / sequence[1])
    point(parameter("centerOffset", "Anchor Point", None, None), 0.0, 0.0)
    return filter_el


def _aspect_text(width: int, height: int) -> str:
    from math import gcd

    g = gcd(width, height) or 1
    return f"{width // g}:{height // g}"


def read_xmeml_motion(
    effect: ET.Element,
    sequence: tuple[int, int],
    file_size: tuple[int, int],
    media_rate: Fraction,
    clip_rate: Fraction,
) -> dict | None:
    """Reframe metadata (version 1, in the file's pixels) from a Basic Motion ``<effect>``, or None
    when it does not crop: the identity (scale 100, centre 0 0, no keyframes: every Premiere clip
    has one) or a picture smaller than the frame somewhere (a zoom out, not a crop window)."""

    def number(el: ET.Element | None, default: float) -> float:
        try:
            value = float((el.text or "").strip()) if el is not None else default
        except ValueError:
            return default
        return value if value == value and abs(value) != float("inf") else default

    params = {(p.findtext("parameterid") or "").strip().lower(): p for p in effect.findall("parameter")}
    scale_el, center_el = params.get("scale"), params.get("center")
    scale = number(scale_el.find("value") if scale_el is not None else None, 100.0)
    rotation = number(params["rotation"].find("value") if "rotation" in params else None, 0.0)
    points: list[tuple[float, float, float]] = []
    if center_el is not None:
        for key in center_el.findall("keyframe"):
            when = number(key.find("when"), float("nan"))
            if when == when:
                points.append(
                    (
                        when * media_rate / clip_rate,
                        number(key.find("value/horiz"), 0.0),
                        number(key.find("value/vert"), 0.0),
                    )
                )
        if not points:
            points.append((0.0, number(center_el.find("value/horiz"), 0.0), number(center_el.find("value/vert"), 0.0)))
    else:
        points.append((0.0, 0.0, 0.0))
    identity = abs(scale - 100) < 1e-6 and len(points) == 1 and abs(points[0][1]) < 1e-9 and abs(points[0][2]) < 1e-9
    if identity or scale <= 0 or abs(rotation) > 1e-6:
        return None
    fw, fh = file_size
    seq_w, seq_h = sequence
    s = scale / 100  # sequence px per file px
    win_w, win_h = seq_w / s, seq_h / s
    if win_w > fw + 0.5 or win_h > fh + 0.5:
        return None  # smaller than the frame: a zoom out
    if abs(win_w - fw) <= 0.5 and abs(win_h - fh) <= 0.5:
        return None  # the whole picture fills the frame (a fit): nothing is cropped
    keys = []
    for frame, horiz, vert in sorted(points):
        x, y = fw / 2 - horiz * seq_w / s, fh / 2 - vert * seq_h / s
        if x - win_w / 2 < -0.5 or x + win_w / 2 > fw + 0.5 or y - win_h / 2 < -0.5 or y + win_h / 2 > fh + 0.5:
            return None  # the picture does not cover the frame there: not a crop
        keys.append({"frame": round(frame, 4), "x": round(x, 4), "y": round(y, 4)})
    return {
        "version": 1,
        "aspect": _aspect_text(seq_w, seq_h),
        "source": [fw, fh],
        "window": [round(win_w, 4), round(win_h, 4)],
        "keyframes": keys,
        "subject": "timeline",
        "tolerance_px": 0.5,
    }


# ---- DaVinci Resolve (scripting API) ---------------------------------------------------------------
#
# ``TimelineItem.SetProperty`` sets one value per key for the whole item (no keyframes in the API):
# ``Scaling`` = SCALE_FIT (2: the source fits the frame, as FCPXML's ``adjust-conform``), ``ZoomX`` /
# ``ZoomY`` a factor on that fit, ``Pan`` / ``Tilt`` the picture's offset in timeline pixels (y up).

RESOLVE_SCALE_FIT = 2


def resolve_properties(meta: dict, timeline: tuple[int, int], frame: float) -> dict[str, float | int]:
    """The item properties that show ``meta``'s window at source ``frame`` filling ``timeline``."""
    src_w, src_h = (float(v) for v in meta["source"])
    fit, zoom = _fit(meta, timeline)
    cx, cy = centre_at(meta["keyframes"], frame)
    return {
        "Scaling": RESOLVE_SCALE_FIT,
        "ZoomX": round(zoom, 6),
        "ZoomY": round(zoom, 6),
        "Pan": round(-(cx - src_w / 2) * fit * zoom, 4),
        "Tilt": round((cy - src_h / 2) * fit * zoom, 4),
    }


def window_moves(meta: dict, first: float, last: float) -> bool:
    """True when the window's centre moves more than the metadata's tolerance within ``[first, last]``."""
    tolerance = float(meta.get("tolerance_px", 0.5))
    inside = [centre_at(meta["keyframes"], f) for f in (first, last)] + [
        (k["x"], k["y"]) for k in meta["keyframes"] if first <= k["frame"] <= last
    ]
    xs, ys = [p[0] for p in inside], [p[1] for p in inside]
    return max(xs) - min(xs) > tolerance or max(ys) - min(ys) > tolerance


# ---- ffmpeg (render) ------------------------------------------------------------------------------


def ffmpeg_crop(meta: dict, first_frame: float, media_rate: Fraction) -> str:
    """An ffmpeg ``crop`` filter for a stream whose ``t`` = 0 shows source frame ``first_frame`` and
    advances at ``media_rate`` frames a second; sizes scale with the input (``iw``/``ih``)."""
    src_w, src_h = (float(v) for v in meta["source"])
    win_w, win_h = (float(v) for v in meta["window"])
    keys = meta["keyframes"]
    rate = float(media_rate)

    def axis(name: str, size: float, extent: float, input_size: str) -> str:
        # Piecewise linear in t between keyframes, held before the first and after the last.
        points = [((k["frame"] - first_frame) / rate, (k[name] - extent / 2) / size) for k in keys]
        expr = f"{points[-1][1]:.6f}"
        for (t0, v0), (t1, v1) in reversed(list(zip(points, points[1:]))):
            if t1 <= t0:
                continue
            slope = (v1 - v0) / (t1 - t0)
            expr = f"if(lt(t,{t1:.6f}),{v0:.6f}+{slope:.9f}*(t-{t0:.6f}),{expr})"
        expr = f"if(lt(t,{points[0][0]:.6f}),{points[0][1]:.6f},{expr})"
        return f"({expr})*{input_size}"

    width = f"{win_w / src_w:.6f}*iw"
    height = f"{win_h / src_h:.6f}*ih"
    x = axis("x", src_w, win_w, "iw")
    y = axis("y", src_h, win_h, "ih")
    return f"crop=w='{width}':h='{height}':x='{x}':y='{y}':exact=1"
