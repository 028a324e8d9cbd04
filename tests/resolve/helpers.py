"""Shared builders for the Resolve tests: a 3-track mixed-rate plan with non-zero start TCs."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from analysis.models import AnalysisResult, BeatGrid, ClipAnalysis, MusicAnalysis, Shot
from kernel.media import MediaItem
from kernel.timebase import rescale_frames
from planner.models import Cut, EditPlan, MusicBed, PlanMarker
from resolve_bridge.fake import FakeResolve

RATES = {
    "a_2398": (Fraction(24000, 1001), 86400 + 24 * 3600, False),  # 02:00:00:00 NDF (nominal 24)
    "b_25": (Fraction(25), 25 * 36000, False),  # 10:00:00:00
    "c_2997": (Fraction(30000, 1001), 1552158, True),  # 14:23:10;12 DF
}


def media(root: Path, key: str, frames: int = 2000) -> MediaItem:
    rate, start, drop = RATES[key]
    return MediaItem(
        path=root / f"{key}.mov",
        name=f"{key}.mov",
        rate=rate,
        frames=frames,
        start_frame=start,
        drop_frame=drop,
        width=1920,
        height=1080,
        audio_channels=2,
        audio_sample_rate=48000,
        duration_seconds=float(frames / rate),
    )


def three_track_plan(root: Path, timeline_rate: Fraction = Fraction(24000, 1001)) -> tuple[EditPlan, AnalysisResult]:
    """Each source on its own video track, cut at varied record points, plus markers."""
    clips = [ClipAnalysis(id=k, media=media(root, k), shots=[Shot(start=0, end=2000)]) for k in RATES]
    cuts: list[Cut] = []
    layout = {
        "a_2398": [(0, 48, 10), (48, 97, 300)],
        "b_25": [(12, 60, 5), (72, 133, 400), (140, 201, 1000)],
        "c_2997": [(30, 77, 0), (90, 151, 777)],
    }
    for track, (key, spans) in enumerate(layout.items(), 1):
        rate = RATES[key][0]
        for rec_in, rec_out, src_in in spans:
            length = rescale_frames(rec_out - rec_in, timeline_rate, rate)
            cuts.append(
                Cut(
                    clip_id=key,
                    track=track,
                    source_in=src_in,
                    source_out=src_in + length,
                    record_in=rec_in,
                    record_out=rec_out,
                )
            )
    markers = [
        PlanMarker(frame=0, name="downbeat", kind="downbeat", color="RED"),
        PlanMarker(frame=24, name="beat", kind="beat", color="BLUE"),
        PlanMarker(frame=96, name="peak", kind="section", color="PURPLE", duration=48),
    ]
    plan = EditPlan(
        name="Three tracks",
        rate=timeline_rate,
        cuts=cuts,
        music=MusicBed(path=str(root / "song.wav"), record_in=0, record_out=201),
        markers=markers,
        planner="test",
    )
    return plan, AnalysisResult(clips=clips, music=music(root))


def music(root: Path) -> MusicAnalysis:
    return MusicAnalysis(
        path=root / "song.wav",
        name="song.wav",
        duration_seconds=20.0,
        sample_rate=48000,
        channels=2,
        beat_grid=BeatGrid(tempo_bpm=120, beats=[0.5 * k for k in range(40)]),
    )


def music_media(root: Path) -> MediaItem:
    return MediaItem(
        path=root / "song.wav",
        name="song.wav",
        rate=Fraction(48000),
        frames=0,
        has_video=False,
        audio_channels=2,
        audio_sample_rate=48000,
        duration_seconds=20.0,
    )


def seeded_fake(root: Path, **kwargs) -> FakeResolve:
    fake = FakeResolve(**kwargs)
    pool = fake.media_pool
    footage = pool.add_bin("Footage")
    for key in RATES:
        pool.add_media(media(root, key), footage)
    pool.add_media(music_media(root), footage)  # FPS frozen at the project's rate (24) at import
    return fake
