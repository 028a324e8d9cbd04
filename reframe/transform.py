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
      "subject": "face",               # face | group | speaker | motion | centre
      "tolerance_px": 0.5              # the keyframes reproduce the smoothed path this closely
    }

Everything here is pure arithmetic on that dict, so writers (FCPXML, FCP7 XML), the renderer and
the tests share one definition of "the window at frame f". Sizes are proportional: a proxy or a
differently sized render input uses the same numbers scaled by its own size.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction

from reframe.path import centre_at

KEY = "reframe"


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


def clip_reframe(clip) -> dict | None:
    """The reframe metadata of an OTIO clip, or None (version 1 only; a newer one is left alone)."""
    ours = clip.metadata.get("montage_bridge") if hasattr(clip.metadata, "get") else None
    meta = ours.get(KEY) if hasattr(ours, "get") else None
    if not hasattr(meta, "get") or meta.get("version") != 1 or not meta.get("keyframes"):
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
