"""``edit.png``: the same picture as ``edit.html`` as a still image (OpenCV drawing: OpenCV is a
dependency already, matplotlib is not).

OpenCV's Hershey fonts draw ASCII only: other characters in clip names show as ``?``.
"""

from __future__ import annotations

import numpy as np

from dashboard.edit_view import EditView

WIDTH = 1600
LABEL = 48
TITLE_H = 54
RULER_H = 22
TRACK_H = 84
MUSIC_H = 110
FOOT_H = 30
FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX
BG = (26, 23, 21)
SECTION_BGR = {"intro": (136, 106, 75), "build": (60, 122, 138), "peak": (63, 63, 154), "outro": (136, 106, 75)}


def _ascii(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)


def render_png(view: EditView) -> bytes:
    """The picture of ``view`` as PNG bytes."""
    import cv2

    video = [t for t in view.tracks if t.kind == "video"]
    audio = [t for t in view.tracks if t.kind == "audio"]
    height = TITLE_H + RULER_H + TRACK_H * len(video) + (MUSIC_H if view.music else 0)
    height += (TRACK_H // 2) * len(audio) + FOOT_H
    img = np.full((height, WIDTH, 3), BG, dtype=np.uint8)
    scale = (WIDTH - LABEL - 8) / view.duration if view.duration > 0 else 1.0

    def x_of(seconds: float) -> int:
        return int(round(LABEL + seconds * scale))

    def text(s: str, x: int, y: int, size: float = 0.45, colour=(230, 230, 230), thick: int = 1) -> None:
        cv2.putText(img, _ascii(s), (x, y), FONT, size, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(img, _ascii(s), (x, y), FONT, size, colour, thick, cv2.LINE_AA)

    cuts = sum(len(t.cuts) for t in video)
    text(view.name, 12, 24, 0.7, thick=2)
    music = f", {view.music.name} {view.music.tempo_bpm:.1f} BPM" if view.music else ""
    text(
        f"{view.rate} fps, {view.duration:.2f} s, {cuts} cuts, clips {view.clips_used}/{view.clips_total}, "
        f"style {view.style}, {view.planner}{music}",
        12,
        46,
        0.45,
        (170, 170, 170),
    )
    y = TITLE_H
    cv2.rectangle(img, (0, y), (WIDTH, y + RULER_H), (40, 35, 32), -1)
    step = _step(view.duration)
    t = 0.0
    while t <= view.duration + 1e-9:
        x = x_of(t)
        cv2.line(img, (x, y + RULER_H - 6), (x, y + RULER_H), (120, 120, 120), 1)
        text(f"{t:g}s", x + 2, y + 14, 0.35, (160, 160, 160))
        t += step
    y += RULER_H
    for track in reversed(video):
        _draw_track(img, track, y, TRACK_H, x_of, text)
        y += TRACK_H
    if view.music is not None:
        _draw_music(img, view, y, x_of, text)
        y += MUSIC_H
    for track in audio:
        _draw_track(img, track, y, TRACK_H // 2, x_of, text)
        y += TRACK_H // 2
    left = sum(1 for r in view.left_out if not r.used_anyway)
    text(
        f"{len(view.warnings)} warning(s), {left} shot(s)/clip(s) left out, "
        f"formats: {', '.join(f.format for f in view.losses) or 'none written'} - details in edit.html",
        12,
        y + 20,
        0.42,
        (170, 170, 170),
    )
    ok, data = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR image
        raise RuntimeError("could not encode edit.png")
    return data.tobytes()


def _step(duration: float) -> float:
    import math

    if duration <= 0:
        return 1.0
    raw = duration / 16
    power = 10 ** math.floor(math.log10(raw))
    return next((m * power for m in (1, 2, 5, 10) if raw <= m * power), 10 * power)


def _draw_track(img, track, y: int, h: int, x_of, text) -> None:  # type: ignore[no-untyped-def]
    import cv2

    text(track.label, 8, y + h // 2 + 6, 0.55, thick=1)
    for cut in track.cuts:
        x0, x1 = x_of(cut.start), max(x_of(cut.start) + 1, x_of(cut.end))
        top, bottom = y + 3, y + h - 3
        colour = (111, 79, 47) if track.kind == "video" else (74, 107, 60)
        cv2.rectangle(img, (x0, top), (x1 - 1, bottom), colour, -1)
        if cut.thumb:
            thumb = cv2.imdecode(np.frombuffer(cut.thumb, np.uint8), cv2.IMREAD_COLOR)
            if thumb is not None:
                _paste_fill(img, thumb, x0, top, x1 - x0 - 1, bottom - top)
        cv2.rectangle(img, (x0, top), (x1 - 1, bottom), (16, 13, 11), 1)
        if x1 - x0 > 40:
            text(cut.clip_id[: max(3, (x1 - x0) // 8)], x0 + 3, bottom - 5, 0.38)


def _paste_fill(img, thumb, x: int, y: int, w: int, h: int) -> None:  # type: ignore[no-untyped-def]
    """``thumb`` scaled to cover ``w``x``h`` at (x, y), cropped at the centre."""
    import cv2

    if w < 2 or h < 2:
        return
    th, tw = thumb.shape[:2]
    factor = max(w / tw, h / th)
    scaled = cv2.resize(thumb, (max(w, round(tw * factor)), max(h, round(th * factor))), interpolation=cv2.INTER_AREA)
    sy, sx = (scaled.shape[0] - h) // 2, (scaled.shape[1] - w) // 2
    img[y : y + h, x : x + w] = scaled[sy : sy + h, sx : sx + w]


def _draw_music(img, view: EditView, y: int, x_of, text) -> None:  # type: ignore[no-untyped-def]
    import cv2

    music = view.music
    assert music is not None
    top, bottom = y + 4, y + MUSIC_H - 4
    text("A1", 8, y + MUSIC_H // 2 + 6, 0.55)
    overlay = img.copy()
    for s in music.sections:
        cv2.rectangle(overlay, (x_of(s.start), top), (x_of(s.end), bottom), SECTION_BGR.get(s.label, (80, 80, 80)), -1)
    if not music.sections:
        cv2.rectangle(overlay, (x_of(music.start), top), (x_of(music.end), bottom), (60, 60, 60), -1)
    if music.energy:
        pts = [(x_of(music.energy[0][0]), bottom)]
        pts += [(x_of(t), int(bottom - v * (bottom - top - 18))) for t, v in music.energy]
        pts.append((x_of(music.energy[-1][0]), bottom))
        cv2.fillPoly(overlay, [np.array(pts, dtype=np.int32)], (255, 179, 127))
    cv2.addWeighted(overlay, 0.55, img, 0.45, 0, dst=img)
    for s in music.sections:
        text(s.label, x_of(s.start) + 3, top + 13, 0.38)
    downs = {round(d, 3) for d in music.downbeats}
    for b in music.beats:
        x = x_of(b)
        if round(b, 3) in downs:
            cv2.line(img, (x, top), (x, bottom), (74, 213, 255), 2)
        else:
            cv2.line(img, (x, top + 45), (x, bottom), (200, 200, 200), 1)
