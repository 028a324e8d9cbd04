"""What a picture of an edit shows, gathered once from the plan, the analysis and the written files.

Both renderers (``dashboard.edit_html`` and ``dashboard.edit_png``) draw an :class:`EditView`, so
the page and the image agree. Times are seconds on the timeline (0 = its start), as floats: the
picture is for looking at, the plan keeps the exact frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import opentimelineio as otio

from analysis.models import AnalysisResult, ClipAnalysis
from kernel.timebase import format_rate
from planner.models import EditPlan

THUMB_HEIGHT = 72  # pixels: each thumbnail is re-encoded this tall (the page stays small)
SUFFIX_FORMATS = {".otio": "otio", ".fcpxml": "fcpxml", ".xml": "xml", ".edl": "edl"}


@dataclass
class CutView:
    clip_id: str
    clip_name: str
    start: float
    end: float
    timecode_in: str
    timecode_out: str
    source_in: int
    source_out: int
    shot: int | None
    reason: str
    transition: str
    thumb: bytes | None  # JPEG, THUMB_HEIGHT tall


@dataclass
class TrackView:
    label: str  # V1, V2, A1 …
    kind: str
    cuts: list[CutView]


@dataclass
class SectionView:
    start: float
    end: float
    label: str
    energy: float


@dataclass
class MusicView:
    name: str
    start: float  # where the bed plays on the timeline
    end: float
    source_in: float
    tempo_bpm: float
    pulse: str
    reason: str
    energy: list[tuple[float, float]]  # (timeline seconds, 0..1)
    beats: list[float]
    downbeats: list[float]
    sections: list[SectionView]


@dataclass
class LeftOut:
    clip_id: str
    clip_name: str
    shot: int | None
    span: str  # source seconds, e.g. "0.00–2.00 s"
    reason: str
    used_anyway: bool
    thumb: bytes | None


@dataclass
class FormatLosses:
    format: str
    files: list[str]
    losses: list[tuple[str, int, str]]  # (feature, count, detail)
    error: str = ""


@dataclass
class EditView:
    name: str
    rate: str
    fps: float
    duration: float
    start_timecode: str
    planner: str
    style: str
    mode: str
    aspect: str
    size: str
    clips_total: int
    clips_used: int
    tracks: list[TrackView]
    music: MusicView | None
    markers: list[tuple[float, str, str]]  # (seconds, kind, name)
    warnings: list[str]
    left_out: list[LeftOut]
    losses: list[FormatLosses]
    files: list[str]
    quality: dict[str, str] = field(default_factory=dict)


def build_view(
    plan: EditPlan,
    analysis: AnalysisResult,
    *,
    timeline: otio.schema.Timeline | None = None,
    files: list[Path] | None = None,
    warnings: list[str] | None = None,
) -> EditView:
    """Everything the picture shows. ``timeline`` and ``files``: the written timeline files, whose
    loss report is shown per format; without files the picture says none were written."""
    fps = float(plan.rate)
    clips = {c.id: c for c in analysis.clips}
    thumbs = _Thumbs()
    tracks: list[TrackView] = []
    music_tracks = 1 if plan.music is not None else 0
    for kind, index in plan.tracks:
        label = f"V{index}" if kind == "video" else f"A{index + music_tracks}"
        cuts = []
        for cut in sorted((c for c in plan.cuts if c.kind == kind and c.track == index), key=lambda c: c.record_in):
            clip = clips.get(cut.clip_id)
            shot = _shot_at(clip, cut.source_in) if clip else None
            thumb_path = clip.shots[shot].thumbnail if clip is not None and shot is not None else None
            trans = cut.transition_in
            cuts.append(
                CutView(
                    clip_id=cut.clip_id,
                    clip_name=clip.media.name if clip else cut.clip_id,
                    start=cut.record_in / fps,
                    end=cut.record_out / fps,
                    timecode_in=plan.timecode(cut.record_in),
                    timecode_out=plan.timecode(cut.record_out),
                    source_in=cut.source_in,
                    source_out=cut.source_out,
                    shot=shot,
                    reason=cut.reason,
                    transition=f"{trans.kind} {trans.frames} fr" if trans and trans.kind != "cut" else "cut",
                    thumb=thumbs.get(thumb_path) if kind == "video" else None,
                )
            )
        tracks.append(TrackView(label, kind, cuts))
    duration = plan.duration_frames / fps
    view = EditView(
        name=plan.name,
        rate=format_rate(plan.rate),
        fps=fps,
        duration=duration,
        start_timecode=plan.start_timecode,
        planner=plan.planner,
        style=plan.style or "default",
        mode=plan.mode,
        aspect=plan.aspect,
        size=f"{plan.width}x{plan.height}",
        clips_total=len(analysis.clips),
        clips_used=len({c.clip_id for c in plan.cuts}),
        tracks=tracks,
        music=_music_view(plan, analysis, fps),
        markers=[(m.frame / fps, m.kind, m.name) for m in plan.markers],
        warnings=list(dict.fromkeys([*(warnings if warnings is not None else plan.warnings)])),
        left_out=_left_out(plan, analysis, thumbs),
        losses=_losses(timeline, files or []),
        files=[p.name for p in files or []],
        quality=_quality(plan),
    )
    if view.music is not None:
        view.duration = max(view.duration, view.music.end)
    return view


class _Thumbs:
    """Thumbnails read once each and re-encoded small (None when missing or unreadable)."""

    def __init__(self) -> None:
        self._seen: dict[Path, bytes | None] = {}

    def get(self, path: Path | None) -> bytes | None:
        if path is None:
            return None
        path = Path(path)
        if path not in self._seen:
            self._seen[path] = _small_jpeg(path)
        return self._seen[path]


def _small_jpeg(path: Path) -> bytes | None:
    import cv2

    picture = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if picture is None or picture.size == 0:
        return None
    h, w = picture.shape[:2]
    if h > THUMB_HEIGHT:
        picture = cv2.resize(picture, (max(1, round(w * THUMB_HEIGHT / h)), THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", picture, [int(cv2.IMWRITE_JPEG_QUALITY), 75])
    return data.tobytes() if ok else None


def _shot_at(clip: ClipAnalysis, frame: int) -> int | None:
    """Index of the shot holding ``frame`` (the last one starting before it when none does)."""
    best = None
    for i, shot in enumerate(clip.shots):
        if shot.start <= frame < shot.end:
            return i
        if shot.start <= frame:
            best = i
    return best if best is not None else (0 if clip.shots else None)


def _music_view(plan: EditPlan, analysis: AnalysisResult, fps: float) -> MusicView | None:
    music = analysis.music
    if music is None:
        return None
    bed = plan.music
    start = bed.record_in / fps if bed else 0.0
    source_in = bed.source_in_seconds if bed else 0.0
    end = bed.record_out / fps if bed else max(0.0, music.duration_seconds)
    length = end - start

    def placed(times: list[float]) -> list[float]:
        return [start + t - source_in for t in times if source_in <= t <= source_in + length]

    energy = [
        (start + i * music.energy_hop - source_in, float(e))
        for i, e in enumerate(music.energy)
        if source_in <= i * music.energy_hop <= source_in + length
    ]
    sections = [
        SectionView(
            max(start, start + s.start - source_in), min(end, start + s.end - source_in), s.label, float(s.energy)
        )
        for s in music.sections
        if s.end > source_in and s.start < source_in + length
    ]
    return MusicView(
        name=music.name,
        start=start,
        end=end,
        source_in=source_in,
        tempo_bpm=music.beat_grid.tempo_bpm,
        pulse=music.beat_grid.pulse,
        reason=bed.reason if bed else "",
        energy=energy,
        beats=placed(music.beat_grid.beats),
        downbeats=placed(music.beat_grid.downbeats),
        sections=sections,
    )


def _left_out(plan: EditPlan, analysis: AnalysisResult, thumbs: _Thumbs) -> list[LeftOut]:
    """The plan's set-aside shots (when the plan has that list), then the clips no cut uses."""
    clips = {c.id: c for c in analysis.clips}
    rows: list[LeftOut] = []
    aside = list(getattr(plan, "set_aside", None) or [])
    for item in aside:
        clip = clips.get(item.clip_id)
        shot = clip.shots[item.shot] if clip is not None and 0 <= item.shot < len(clip.shots) else None
        rows.append(
            LeftOut(
                clip_id=item.clip_id,
                clip_name=clip.media.name if clip else item.clip_id,
                shot=item.shot,
                span=_span(clip, shot.start, shot.end) if clip and shot else "",
                reason=item.reason,
                used_anyway=bool(getattr(item, "used", False)),
                thumb=thumbs.get(shot.thumbnail) if shot else None,
            )
        )
    used = {c.clip_id for c in plan.cuts}
    explained = {item.clip_id for item in aside}
    for clip in analysis.clips:
        if clip.id in used:
            continue
        first = clip.shots[0] if clip.shots else None
        rows.append(
            LeftOut(
                clip_id=clip.id,
                clip_name=clip.media.name,
                shot=None,
                span=_span(clip, 0, clip.media.frames),
                reason="not used: its shots are set aside above"
                if clip.id in explained
                else "not used: the planner gave no reason (other shots filled the time)",
                used_anyway=False,
                thumb=thumbs.get(first.thumbnail) if first else None,
            )
        )
    return rows


def _span(clip: ClipAnalysis, start: int, end: int) -> str:
    rate = float(clip.media.rate) or 1.0
    return f"{start / rate:.2f}–{end / rate:.2f} s"


def _losses(timeline: otio.schema.Timeline | None, files: list[Path]) -> list[FormatLosses]:
    by_format: dict[str, list[str]] = {}
    for path in files:
        fmt = SUFFIX_FORMATS.get(path.suffix.lower())
        if fmt:
            by_format.setdefault(fmt, []).append(path.name)
    if timeline is None:
        return [FormatLosses(fmt, names, [], "no timeline to check") for fmt, names in by_format.items()]
    from nle_adapters.loss_report import analyze_losses

    result = []
    for fmt, names in by_format.items():
        try:
            items = [(i.feature, i.count, i.detail) for i in analyze_losses(timeline, fmt)]
            result.append(FormatLosses(fmt, names, items))
        except Exception as exc:  # a picture never fails the run: say what could not be checked
            result.append(FormatLosses(fmt, names, [], f"could not check: {exc.__class__.__name__}: {exc}"))
    return result


def _quality(plan: EditPlan) -> dict[str, str]:
    quality = getattr(plan, "edit_quality", None)
    if quality is None:
        return {}
    out: dict[str, str] = {}
    for key in ("used_quality", "available_quality", "set_aside_share", "in_point_interest", "periodicity"):
        value = getattr(quality, key, None)
        if isinstance(value, (int, float)):
            out[key.replace("_", " ")] = f"{value:.2f}"
    lengths = getattr(quality, "shot_seconds", None)
    if lengths is not None and getattr(lengths, "count", None):
        out["shot length median"] = f"{lengths.median:.2f} s"
        if lengths.style_bounds:
            low, high = lengths.style_bounds
            out["shots inside style bounds"] = f"{lengths.inside_bounds:.0%} of {low:g}–{high:g} s"
    return out
