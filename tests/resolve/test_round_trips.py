"""A build costs about one Resolve API call per clip, and the cheap read-back still catches every failure."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kernel.timebase import frames_to_timecode
from resolve_bridge.apply import apply_spec
from resolve_bridge.fake import FakeResolve, FakeSwitches
from resolve_bridge.spec import BuildSpec, ClipPlacement, MarkerSpec, exact_on_both_roundings, source_length_for

RATE = Fraction(24000, 1001)
MEDIA = [("a.mov", Fraction(24000, 1001)), ("b.mov", Fraction(25)), ("c.mov", Fraction(30000, 1001))]


def _props(name: str, rate: Fraction) -> dict[str, str]:
    fps = {Fraction(24000, 1001): "23.976", Fraction(25): "25", Fraction(30000, 1001): "29.97"}[rate]
    return {
        "Clip Name": name,
        "File Path": f"/media/{name}",
        "Type": "Video",
        "FPS": fps,
        "Frames": "900000",
        "Start TC": "01:00:00:00",
        "Audio Ch": "0",
    }


def big_spec(clips: int, tracks: int = 4, markers: int = 0, gap: int = 6) -> BuildSpec:
    """``clips`` mixed-rate clips over ``tracks`` video tracks, 24 frames each with ``gap`` between."""
    placements = []
    for n in range(clips):
        track, slot = n % tracks + 1, n // tracks
        name, rate = MEDIA[n % len(MEDIA)]
        source, made = source_length_for(24, RATE, rate)
        start = (slot * 97) % 800_000
        placements.append(
            ClipPlacement(
                key=f"c{n}",
                name=name,
                path=f"/media/{name}",
                track_type="video",
                track_index=track,
                record_frame=86400 + slot * (24 + gap),
                duration=made,
                start_frame=start,
                end_frame=start + source,
                media_rate=str(rate),
            )
        )
    return BuildSpec(
        name="Big",
        rate="24000/1001",
        drop_frame=False,
        start_timecode="01:00:00:00",
        start_frame=86400,
        width=1920,
        height=1080,
        video_tracks=tracks,
        audio_tracks=1,
        clips=placements,
        markers=[MarkerSpec(frame=k * 300, name="beat") for k in range(markers)],
    )


def seeded(**kwargs) -> FakeResolve:
    fake = FakeResolve("21", **kwargs)
    for name, rate in MEDIA:
        fake.media_pool.add_media(_props(name, rate))
    fake.reset_call_count()
    return fake


def test_ten_thousand_clips_within_one_and_a_half_calls_per_clip() -> None:
    spec = big_spec(10_000, markers=1_000)
    fake = seeded()
    result = apply_spec(fake, spec)
    assert result.ok and result.placed == 10_000, result.lines()[:5]
    calls = fake.api_call_count()
    assert calls <= 1.5 * 10_000, fake.api_calls.most_common(8)
    # Where the calls go: each track read once, one end frame per clip, one AddMarker per marker.
    assert fake.api_calls["GetItemListInTrack"] == 4 and fake.api_calls["AppendToTimeline"] == 4
    assert fake.api_calls["GetEnd"] == 10_000 and fake.api_calls["AddMarker"] == 1_000
    assert calls - fake.api_calls["AddMarker"] <= 1.02 * 10_000
    for per_clip in ("GetStart", "GetDuration", "GetLeftOffset"):
        assert fake.api_calls[per_clip] == 0  # only read for a track that differs
    assert any(h.startswith("10000 clip(s): AppendToTimeline, 4 call(s)") for h in result.how)


@pytest.mark.parametrize("rounding", ["floor", "short"])
def test_a_difference_sends_that_track_to_a_full_read_and_is_named(rounding: str) -> None:
    spec = big_spec(40)
    fake = seeded(switches=FakeSwitches(drop_clip_names={"b.mov"}, mixed_rate_rounding=rounding))
    result = apply_spec(fake, spec)
    dropped = [c for c in spec.clips if c.name == "b.mov"]
    assert len(result.dropped) == len(dropped) and result.placed == 40 - len(dropped)
    first = min(dropped, key=lambda c: (c.track_index, c.record_frame))
    assert result.dropped[0] == f"b.mov on V{first.track_index} at {frames_to_timecode(first.record_frame, RATE)}"
    assert fake.api_calls["GetStart"] > 0  # the full read ran, for the tracks that lost clips


def test_a_moved_clip_is_found_by_its_end_frame() -> None:
    fake = seeded(switches=FakeSwitches(nudge_clip_names={"c.mov"}))
    result = apply_spec(fake, big_spec(12, tracks=1))
    assert not result.ok
    assert [d.split(" at ")[0] for d in result.dropped] == ["c.mov on V1"] * 4
    assert sum("unexpected item c.mov on V1" in m for m in result.mismatched) == 4


def test_mixed_rate_lengths_land_exactly_under_both_roundings() -> None:
    # Source lengths are picked strictly inside (d, d+1): flooring and "one frame short" agree.
    for rate in (Fraction(25), Fraction(30000, 1001), Fraction(24)):
        for duration in range(1, 300):
            n, made = source_length_for(duration, RATE, rate)
            assert made == duration and exact_on_both_roundings(n, RATE, rate)
    for rounding in ("floor", "short"):
        fake = seeded(switches=FakeSwitches(mixed_rate_rounding=rounding))
        result = apply_spec(fake, big_spec(60, tracks=2))
        assert result.ok, (rounding, result.lines()[:4])


def test_where_no_length_agrees_the_one_frame_short_build_is_caught_not_trusted() -> None:
    # 25 fps media on a 50 fps timeline: every source frame is exactly two timeline frames.
    spec = big_spec(4, tracks=1)
    spec.rate, spec.start_frame = "50", 180000
    for clip in spec.clips:
        clip.path, clip.name, clip.media_rate = "/media/b.mov", "b.mov", "25"
        clip.record_frame = 180000 + (clip.record_frame - 86400)
        clip.start_frame, clip.end_frame, clip.duration = 10, 22, 24  # 12 source frames = 24 exactly
    assert not exact_on_both_roundings(12, Fraction(50), Fraction(25))
    floor = seeded()
    assert apply_spec(floor, spec).ok
    short = seeded(switches=FakeSwitches(mixed_rate_rounding="short"))
    result = apply_spec(short, BuildSpec.from_dict(spec.to_dict()))
    assert not result.ok and all("duration 23 ≠ 24" in m for m in result.mismatched)
    assert any("land exactly only where Resolve rounds lengths down" in h for h in result.how)
