"""Resolve 21.1's dissolves, fades and speed where the build has them (found by dir()), fallbacks where not."""

from __future__ import annotations

from fractions import Fraction

import pytest

from resolve_bridge.apply import apply_spec
from resolve_bridge.fake import FakeResolve
from resolve_bridge.spec import BuildSpec, ClipPlacement, TransitionSpec


def _clip(name: str, track: str, record: int, duration: int, start: int, **extra) -> ClipPlacement:
    return ClipPlacement(
        key=name,
        name=name,
        path=f"/media/{name}",
        track_type=track,
        track_index=1,
        record_frame=record,
        duration=duration,
        start_frame=start,
        end_frame=start + duration,
        media_rate="24",
        **extra,
    )


def spec() -> BuildSpec:
    """Two shots butt-joined at 86448 with an 8-frame centred dissolve, a slow-motion third shot,
    and a music bed with fades, at 24 fps."""
    return BuildSpec(
        name="Features",
        rate="24",
        drop_frame=False,
        start_timecode="01:00:00:00",
        start_frame=86400,
        width=1920,
        height=1080,
        video_tracks=1,
        audio_tracks=1,
        clips=[
            _clip("a.mov", "video", 86400, 48, 100),
            _clip("b.mov", "video", 86448, 48, 100),
            _clip("c.mov", "video", 86520, 48, 100, speed=50.0),
            _clip("song.wav", "audio", 86400, 168, 0, fade_in=12, fade_out=24),
        ],
        transitions=[TransitionSpec("video", 1, 86448, 4, 4)],
    )


def seeded(profile: str) -> FakeResolve:
    fake = FakeResolve(profile)
    for name, kind in (("a.mov", "Video"), ("b.mov", "Video"), ("c.mov", "Video"), ("song.wav", "Audio")):
        fake.media_pool.add_media(
            {
                "Clip Name": name,
                "File Path": f"/media/{name}",
                "Type": kind,
                "FPS": "24",
                "Frames": "2000",
                "Start TC": "00:00:00:00",
                "Audio Ch": "2" if kind == "Audio" else "0",
            }
        )
    return fake


def test_21_1_places_dissolve_fades_and_speed_with_its_own_calls() -> None:
    fake = seeded("21.1")
    result = apply_spec(fake, spec())
    assert result.ok, result.lines()
    assert result.how[-3:] == ["1 dissolve(s): AddTransition", "1 fade(s): SetFades", "1 speed change(s): SetSpeed"]
    timeline = fake.project.GetCurrentTimeline()
    listed = timeline.GetItemListInTrack("video", 1)
    dissolve = next(i for i in listed if i.GetMediaPoolItem() is None)
    assert (dissolve.GetName(), dissolve.GetStart(), dissolve.GetEnd()) == ("Cross Dissolve", 86444, 86452)
    slow = next(i for i in listed if i.GetName() == "c.mov")
    assert (slow.GetStart(), slow.GetDuration()) == (86520, 48)  # half the source frames, stretched to 48
    assert slow.GetSourceEndFrame() - slow.GetSourceStartFrame() == 24
    (music,) = timeline.GetItemListInTrack("audio", 1)
    assert music.GetFades() == {"FadeIn": 12.0, "FadeOut": 24.0}
    assert fake.api_calls["AddTransition"] == 1 and fake.api_calls["SetFades"] == 1


@pytest.mark.parametrize("profile", ["19", "20", "21"])
def test_older_builds_get_hard_cuts_and_are_told_what_is_missing(profile: str) -> None:
    fake = seeded(profile)
    result = apply_spec(fake, spec())
    assert result.ok, result.lines()
    text = "\n".join(result.lines())
    assert "1 dissolve(s) are hard cuts in Resolve: this build has no TimelineItem.AddTransition (21.1+)" in text
    assert "need fades (first song.wav: in 12, out 24 frames)" in text and "SetFades (21.1+)" in text
    assert "play at 100 % instead of their planned speed (first c.mov at 50 %)" in text
    slow = fake.project.GetCurrentTimeline().GetItemListInTrack("video", 1)[-1]
    assert (slow.GetStart(), slow.GetDuration()) == (86520, 48)  # placed at its full length, normal speed
    assert all(fake.api_calls[n] == 0 for n in ("AddTransition", "SetFades", "SetSpeed"))


def test_a_dissolve_without_handles_is_refused_and_reported() -> None:
    s = spec()
    s.clips[1].start_frame, s.clips[1].end_frame = 0, 48  # incoming clip starts at its first frame
    result = apply_spec(seeded("21.1"), s)
    assert "1 dissolve(s) not added, first V1 at 01:00:02:00 (Resolve refused it: not enough source handle?)" in (
        result.warnings
    )


def test_capability_comes_from_dir_not_the_version_number() -> None:
    from resolve_bridge.fake.objects import FakeTimelineItem

    fake = seeded("21.1")  # a 21.1 build whose items do not list AddTransition: no dissolves are tried

    original = FakeTimelineItem.__dir__
    try:
        FakeTimelineItem.__dir__ = lambda self: [n for n in original(self) if n != "AddTransition"]
        result = apply_spec(fake, spec())
    finally:
        FakeTimelineItem.__dir__ = original
    assert any("hard cuts" in w for w in result.warnings) and fake.api_calls["AddTransition"] == 0
    assert "1 fade(s): SetFades" in result.how  # the others are still used


def test_speed_spec_fields_survive_json() -> None:
    s = spec()
    back = BuildSpec.from_dict(s.to_dict())
    assert back.transitions == s.transitions and back.clips[2].speed == 50.0 and back.clips[3].fade_out == 24
    assert back.transitions[0].alignment == "center" and back.exact_rate == Fraction(24)
