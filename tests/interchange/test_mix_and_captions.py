"""The mix (music ducking keyframes, micro-fades) and captions in the timeline files.

Oracles we did not write: Apple's FCPXML DTDs 1.8-1.11 (lxml), the envelope the render applies
(``render.mix.duck_gain_db``: the keyframes must give the same gain), and read-back by our readers.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from lxml import etree

from nle_adapters.fcpxml.dtd import validate
from nle_adapters.fcpxml.reader import read_fcpxml_string
from nle_adapters.fcpxml.writer import write_timeline
from nle_adapters.loss_report import analyze_losses
from nle_adapters.mix import (
    MICRO_FADE_SECONDS,
    Ducking,
    apply_mix,
    clip_mix,
    gain_at,
    set_timeline_captions,
    timeline_captions,
)
from nle_adapters.xmeml.reader import read_xmeml
from nle_adapters.xmeml.writer import write_xmeml
from render.mix import duck_gain_db

DTD_DIR = Path(__file__).resolve().parents[1] / "data" / "fcpxml" / "dtd"
RATE = Fraction(24)
DUCK = Ducking(-12.0, 0.25, 0.5)


def _rt(frames: int, rate: Fraction = RATE) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def _range(start: int, duration: int, rate: Fraction = RATE) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_rt(start, rate), _rt(duration, rate))


def _clip(name: str, start: int, duration: int, *, video: bool, length: int = 2400) -> otio.schema.Clip:
    ref = otio.schema.ExternalReference(
        target_url=f"file:///media/{name}.{'mov' if video else 'wav'}", available_range=_range(0, length)
    )
    ref.metadata["montage_bridge"] = {"rate": "24", "has_video": video, "has_audio": True, "audio_channels": 2}
    return otio.schema.Clip(name=name, media_reference=ref, source_range=_range(start, duration))


def _timeline() -> otio.schema.Timeline:
    """V1 pictures, A1 music (audio-only) with a fade-out, A2 dialogue at 2-4 s and 6-7 s."""
    timeline = otio.schema.Timeline(name="mix")
    timeline.global_start_time = _rt(86400)
    timeline.metadata["montage_bridge"] = {"rate": "24", "start_timecode": "01:00:00:00", "drop_frame": False}
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    v1.extend([_clip("wide", 0, 96, video=True), _clip("talk", 48, 144, video=True)])
    a1 = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    a1.append(_clip("song", 240, 240, video=False))
    a1.append(
        otio.schema.Transition(
            name="Fade Out",
            transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
            in_offset=_rt(24),
            out_offset=_rt(0),
        )
    )
    a2 = otio.schema.Track(name="A2", kind=otio.schema.TrackKind.Audio)
    a2.extend(
        [
            otio.schema.Gap(source_range=_range(0, 48)),
            _clip("talk", 96, 48, video=True),
            otio.schema.Gap(source_range=_range(0, 48)),
            _clip("talk", 200, 24, video=True),
        ]
    )
    timeline.tracks.extend([v1, a1, a2])
    return timeline


def _music(timeline: otio.schema.Timeline) -> otio.schema.Clip:
    return next(c for c in timeline.tracks[1] if isinstance(c, otio.schema.Clip))


def test_keyframes_give_the_renders_envelope() -> None:
    timeline = _timeline()
    assert apply_mix(timeline, DUCK) == 1
    mix = clip_mix(_music(timeline))
    spans = [(2.0, 4.0), (6.0, 7.0)]
    for frame in range(0, 240):
        # Keyframes are whole frames: the ramps may differ by the rounding of one breakpoint (< 1/48 s).
        expected = duck_gain_db(frame / 24, spans, DUCK)
        assert gain_at(mix["volume"], frame) == pytest.approx(expected, abs=12 * (1 / 48) / 0.25 + 1e-6)
    assert gain_at(mix["volume"], 72) == -12.0 and gain_at(mix["volume"], 20) == 0.0
    # The 1 s pause between 4 s and 6 s is longer than attack+release: the music comes back.
    assert gain_at(mix["volume"], 5 * 24) == 0.0
    # Micro-fades at every audio cut, none where the music's fade-out transition is.
    assert mix["fade_in"] == MICRO_FADE_SECONDS and "fade_out" not in mix
    dialogue = [c for c in timeline.tracks[2] if isinstance(c, otio.schema.Clip)]
    assert all(clip_mix(c) == {"fade_in": MICRO_FADE_SECONDS, "fade_out": MICRO_FADE_SECONDS} for c in dialogue)


@pytest.mark.parametrize("version", ["1.8", "1.9", "1.10", "1.11"])
def test_fcpxml_volume_keyframes_and_captions_are_valid_and_read_back(version: str) -> None:
    timeline = _timeline()
    apply_mix(timeline, DUCK)
    cues = [{"start": 50, "end": 90, "text": "Hello and welcome."}, {"start": 150, "end": 170, "text": "Fox & dog"}]
    set_timeline_captions(timeline, cues)
    text = write_timeline(timeline, version)
    assert validate(text, DTD_DIR) == []
    root = etree.fromstring(text.encode())
    music = root.xpath("//asset-clip[@name='song']")[0]
    keys = music.xpath("adjust-volume/param[@name='amount']/keyframeAnimation/keyframe")
    assert [k.get("value") for k in keys][:2] == ["0dB", "-12dB"]
    # Keyframe times are in the clip's local time: its start (source in, 240 frames = 10 s) + offset.
    assert keys[0].get("time") == "47/4s"  # 10 s + (2 s - 0.25 s attack: frame 42) = 10 + 42/24 s
    assert music.xpath("adjust-volume/param/fadeIn/@duration") == ["1/200s"]
    captions = root.xpath("//caption")
    assert [c.xpath("string(text/text-style)") for c in captions] == ["Hello and welcome.", "Fox & dog"]
    back = read_fcpxml_string(text)
    assert timeline_captions(back) == cues
    music_back = next(c for c in back.find_clips() if c.name == "song")
    assert clip_mix(music_back) == clip_mix(_music(timeline))
    talk_back = [c for c in back.find_clips() if c.name == "talk" and clip_mix(c)]
    assert len(talk_back) == 2
    # Written again from what was read: the same volume and caption elements.
    again = etree.fromstring(write_timeline(back, version).encode())

    def mix_and_captions(doc) -> list[bytes]:
        return [etree.tostring(e) for e in doc.xpath("//adjust-volume | //caption")]

    assert mix_and_captions(again) == mix_and_captions(root)


def test_xmeml_audio_levels_keyframes_read_back() -> None:
    timeline = _timeline()
    apply_mix(timeline, DUCK)
    text = write_xmeml(timeline)
    root = etree.fromstring(text.encode())
    levels = root.xpath("//clipitem[name='song']/filter/effect[effectid='audiolevels']//keyframe")
    assert len(levels) == len(clip_mix(_music(timeline))["volume"])
    # FCP7 levels are linear gain: -12 dB = 0.251189.
    assert pytest.approx(0.251189, abs=1e-5) in [float(k.findtext("value")) for k in levels]
    back = read_xmeml(text)
    music_back = next(c for c in back.find_clips() if c.name == "song")
    assert clip_mix(music_back)["volume"] == clip_mix(_music(timeline))["volume"]


def test_loss_report_names_what_each_format_cannot_hold() -> None:
    timeline = _timeline()
    apply_mix(timeline, DUCK)
    set_timeline_captions(timeline, [{"start": 50, "end": 90, "text": "Hello"}])

    def features(fmt: str) -> dict[str, int]:
        return {item.feature: item.count for item in analyze_losses(timeline, fmt)}

    edl, xml, fcpxml = features("edl"), features("xml"), features("fcpxml")
    # 1 ducked music clip; micro-fades on the music and both dialogue clips; 1 caption.
    assert edl["volume"] == 1 and edl["micro-fades"] == 3 and edl["captions"] == 1
    assert xml["micro-fades"] == 3 and xml["captions"] == 1 and "volume" not in xml
    assert not {"volume", "micro-fades", "captions"} & set(fcpxml)
