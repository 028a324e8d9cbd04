"""The Resolve build of a reframed timeline (Scaling/Zoom/Pan/Tilt through TimelineItem.SetProperty,
checked by where the crop window lands on the frame) and of a timeline on proxies (the originals in
the pool, each linked to its proxy with MediaPoolItem.LinkProxyMedia), against the fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from nle_adapters.plan_to_otio import build_timeline
from nle_adapters.reframe_meta import KEY, window_at
from resolve_bridge.apply import pool_items_by_path
from resolve_bridge.timeline_builder import build_in_resolve
from tests.resolve.helpers import seeded_fake, three_track_plan

FRAME = (1080, 1920)  # a 9:16 timeline of 1920x1080 footage


def _vertical(tmp_path: Path, moving: bool):
    plan, analysis = three_track_plan(tmp_path)
    timeline = build_timeline(plan, analysis)
    timeline.metadata["montage_bridge"]["width"], timeline.metadata["montage_bridge"]["height"] = FRAME
    for n, clip in enumerate(timeline.video_tracks()[0].find_clips()):
        first = clip.source_range.start_time.to_frames() - clip.media_reference.available_range.start_time.to_frames()
        keys = [{"frame": first, "x": 500.0 + 300 * n, "y": 540.0}]
        if moving:
            keys.append({"frame": first + 40, "x": 900.0 + 300 * n, "y": 600.0})
        clip.metadata["montage_bridge"][KEY] = {
            "version": 1,
            "aspect": "9:16",
            "source": [1920, 1080],
            "window": [607.5, 1080.0],
            "keyframes": keys,
            "subject": "face",
            "tolerance_px": 0.5,
        }
    return timeline


def _window_on_screen(item, source=(1920, 1080)) -> tuple[float, float, float, float]:
    """Where Resolve draws the source's window corners: fit the source to the frame, zoom, pan/tilt (y up)."""
    fit = min(FRAME[0] / source[0], FRAME[1] / source[1])
    zoom, pan, tilt = item.GetProperty("ZoomX"), item.GetProperty("Pan"), item.GetProperty("Tilt")
    assert item.GetProperty("ZoomY") == zoom and item.GetProperty("Scaling") == 2  # SCALE_FIT

    def screen(x: float, y: float) -> tuple[float, float]:
        return (
            FRAME[0] / 2 + (x - source[0] / 2) * fit * zoom + pan,
            FRAME[1] / 2 + (y - source[1] / 2) * fit * zoom - tilt,
        )

    return screen, zoom


@pytest.mark.parametrize("profile", ["18.5", "21.1"])
def test_a_still_reframe_fills_the_frame_with_its_window(tmp_path: Path, profile: str) -> None:
    timeline = _vertical(tmp_path, moving=False)
    fake = seeded_fake(tmp_path, profile=profile)
    result = build_in_resolve(fake, timeline, method="append")
    assert result.ok, result.lines()
    assert any("SetProperty" in line for line in result.how), result.how
    assert not any("moving subject" in w for w in result.warnings)
    built = fake.project.GetCurrentTimeline()
    clips = list(timeline.video_tracks()[0].find_clips())
    items = built.GetItemListInTrack("video", 1)
    assert len(items) == len(clips) == 2
    for clip, item in zip(clips, items):
        meta = clip.metadata["montage_bridge"][KEY]
        x0, y0, w, h = window_at(dict(meta), meta["keyframes"][0]["frame"])
        screen, _ = _window_on_screen(item)
        assert screen(x0, y0) == pytest.approx((0, 0), abs=0.01)  # the window's corners are the frame's
        assert screen(x0 + w, y0 + h) == pytest.approx(FRAME, abs=0.01)
    # Clips on other tracks carry no reframe: untouched.
    other = built.GetItemListInTrack("video", 2)[0]
    assert other.GetProperty("Pan") == 0 and other.GetProperty("ZoomX") == 1.0


def test_a_moving_reframe_is_framed_at_the_middle_and_the_report_says_so(tmp_path: Path) -> None:
    timeline = _vertical(tmp_path, moving=True)
    fake = seeded_fake(tmp_path)
    result = build_in_resolve(fake, timeline, method="append")
    assert result.ok, result.lines()
    assert any("reframe of 2 clip(s) follows a moving subject" in w and "no keyframes" in w for w in result.warnings)
    clip = next(iter(timeline.video_tracks()[0].find_clips()))
    item = fake.project.GetCurrentTimeline().GetItemListInTrack("video", 1)[0]
    meta = dict(clip.metadata["montage_bridge"][KEY])
    first = item.GetLeftOffset()
    middle = first + (item.GetDuration() - 1) / 2  # same-rate clip: timeline frames are media frames
    x0, y0, w, h = window_at(meta, middle)
    screen, _ = _window_on_screen(item)
    assert screen(x0 + w / 2, y0 + h / 2) == pytest.approx((FRAME[0] / 2, FRAME[1] / 2), abs=0.01)


def test_the_fake_refuses_what_the_readme_does_not_allow(tmp_path: Path) -> None:
    fake = seeded_fake(tmp_path)
    plan, analysis = three_track_plan(tmp_path)
    assert build_in_resolve(fake, build_timeline(plan, analysis), method="append").ok
    item = fake.project.GetCurrentTimeline().GetItemListInTrack("video", 1)[0]
    assert not item.SetProperty("Pan", 4.5 * 1920)  # beyond 4 x width
    assert not item.SetProperty("Zoom", 2.0)  # no such key
    assert not item.SetProperty("ZoomGang", 1)  # a boolean key
    assert item.SetProperty("ZoomX", 2.0) and item.GetProperty("ZoomY") == 2.0  # ganged by default


def test_a_timeline_on_proxies_puts_the_originals_in_the_pool_with_their_proxies_linked(tmp_path: Path) -> None:
    plan, analysis = three_track_plan(tmp_path)
    timeline = build_timeline(plan, analysis)
    proxies = tmp_path / "Proxy Media"
    proxies.mkdir()
    for clip in timeline.video_tracks()[0].find_clips() + timeline.video_tracks()[1].find_clips():
        ref = clip.media_reference
        proxy = proxies / Path(ref.target_url).name
        if clip.name != "b_25.mov":  # b_25's proxy is missing on disk: the link is refused, and said
            proxy.write_bytes(b"proxy")
        ref.metadata["montage_bridge"]["original_url"] = ref.target_url
        ref.metadata["montage_bridge"]["proxy"] = True
        ref.target_url = proxy.as_uri()
    fake = seeded_fake(tmp_path)
    result = build_in_resolve(fake, timeline, method="append")
    assert result.placed == result.expected, result.lines()
    assert "1 proxy link(s): LinkProxyMedia" in result.how
    assert any("did not link 1 proxy file(s), first b_25.mov (for b_25.mov)" in w for w in result.warnings)
    pool = {i.GetClipProperty("File Path"): i for i in pool_items_by_path(fake.project.GetMediaPool()).values()}
    assert pool[str(tmp_path / "a_2398.mov")].GetClipProperty("Proxy Media Path") == str(proxies / "a_2398.mov")
    assert not pool[str(tmp_path / "b_25.mov")].GetClipProperty("Proxy Media Path")
    assert not any("Proxy Media" in path for path in pool)  # no proxy was imported as media of its own
