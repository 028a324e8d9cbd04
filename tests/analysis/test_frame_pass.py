"""The one-pass picture analysis against the generated media's facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.engine import EngineOptions, EngineResult, analyze_paths
from analysis.frame_pass import colorfulness, count_faces, run_frame_pass
from kernel.probe import probe_media


def test_cuts_within_one_frame_and_no_false_cuts(engine_run: EngineResult, facts: dict) -> None:
    assert not engine_run.failures
    for clip in engine_run.clips:
        truth = facts["clips"][clip.media.name]
        found = clip.cut_frames
        # Same count: every steady shot (noise, zooms, flat colour) produced no extra cut.
        assert len(found) == len(truth["cuts"]), (clip.media.name, found, truth["cuts"])
        assert all(abs(a - b) <= 1 for a, b in zip(found, truth["cuts"])), (found, truth["cuts"])
        assert clip.shots[0].start == 0 and clip.shots[-1].end == truth["frames"]
        assert all(a.end == b.start for a, b in zip(clip.shots, clip.shots[1:]))


def test_every_shot_has_quality_and_a_thumbnail(engine_run: EngineResult) -> None:
    for clip in engine_run.clips:
        for shot in clip.shots:
            assert shot.quality is not None
            assert 0.0 < shot.quality.score <= 1.0
            assert shot.quality.faces == 0  # test patterns have no faces
            assert shot.thumbnail is not None and shot.thumbnail.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG


def test_quality_measures_tell_shots_apart(engine_run: EngineResult) -> None:
    city = next(c for c in engine_run.clips if c.media.name == "city_25.mov")
    gradients, cellauto, navy = (s.quality for s in city.shots)
    # Slow smooth gradients are soft; the cellular automaton is all edges; flat navy is dark.
    assert gradients.sharpness < 0.2 < cellauto.sharpness
    assert navy.brightness < 0.15 < gradients.brightness
    # The automaton scrolls every frame; the gradients barely move.
    assert cellauto.motion > 5 * gradients.motion
    # Black-and-white automaton has no colour; the gradients are saturated.
    assert cellauto.colorfulness < 0.1 < gradients.colorfulness


def test_colorfulness_and_faces_on_plain_frames() -> None:
    grey = np.full((90, 160, 3), 128, np.uint8)
    red = np.zeros((90, 160, 3), np.uint8)
    red[..., 2] = 255
    assert colorfulness(grey) == 0.0
    assert colorfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5), rel=1e-3)  # only the mean term
    assert count_faces(grey[..., 0]) == 0


def test_rotated_clip(derived_media: dict[str, Path], facts: dict) -> None:
    media = probe_media(derived_media["rotated"])
    assert media.rotation == 90
    assert (media.width, media.height) == (320, 180)
    assert media.display_size == (180, 320)
    shots = run_frame_pass(media)
    assert [s.start for s in shots[1:]] == facts["clips"]["beach_2398.mp4"]["cuts"]


def test_variable_frame_rate_clip(derived_media: dict[str, Path], facts: dict) -> None:
    media = probe_media(derived_media["vfr"])
    assert media.variable_frame_rate
    truth = facts["clips"]["beach_2398.mp4"]
    assert media.frames == truth["frames"]
    # Frame indexes, not times: the cuts stay where the frames are even though the spacing changes.
    cuts = [s.start for s in run_frame_pass(media)[1:]]
    assert len(cuts) == len(truth["cuts"]) and all(abs(a - b) <= 1 for a, b in zip(cuts, truth["cuts"]))


def test_bad_inputs_fail_one_by_one(derived_media: dict[str, Path], sample_media: Path, tmp_path: Path) -> None:
    good = sample_media / "footage" / "city_25.mov"
    names = ["truncated", "garbage", "empty"]
    result = analyze_paths(
        [derived_media[n] for n in names] + [good, tmp_path / "missing.mp4"], EngineOptions(jobs=1, cache_dir=None)
    )
    assert [c.media.name for c in result.clips] == ["city_25.mov"]
    messages = {f.path.name: f.message for f in result.failures}
    assert set(messages) == {"truncated.mp4", "garbage.mov", "empty.mp4", "missing.mp4"}
    for name, message in messages.items():
        assert name in message and "\n" not in message
    assert "empty" in messages["empty.mp4"] and "no such file" in messages["missing.mp4"]


def test_audio_only_file(derived_media: dict[str, Path]) -> None:
    result = analyze_paths([derived_media["audio"]], EngineOptions(jobs=1, cache_dir=None))
    (clip,) = result.clips
    assert not clip.media.has_video and clip.shots == []
    assert clip.loudness_lufs is not None and -30 < clip.loudness_lufs < -15
    refused = analyze_paths([derived_media["audio"]], EngineOptions(jobs=1, cache_dir=None, require_video=True))
    assert not refused.clips and "no video stream" in refused.failures[0].message


def test_a_renamed_still_image_is_refused(tmp_path: Path) -> None:
    import cv2

    from kernel.errors import MediaError

    ok, png = cv2.imencode(".png", np.full((90, 160, 3), 200, np.uint8))
    assert ok
    fake = tmp_path / "B-roll.mov"
    fake.write_bytes(png.tobytes())
    with pytest.raises(MediaError, match="still image") as info:
        probe_media(fake)
    assert "B-roll.mov" in str(info.value)
