"""EDL source timecodes are the media's own labels, whatever the record rate (issue #11, item 2).

A conform by timecode (Resolve, Premiere, Avid) matches each event's source in against the media's
embedded timecode: a 25 fps clip in a 23.976 list must be labelled in 25 fps counting from its own
start TC, a 29.97 DF camera clip with its DF label. Every check parses the EDL with ``pycmx`` (a
reader we did not write) and turns its timecodes into frames with OTIO's ``from_timecode``, then
asks: does every event's source in/out lie inside its media's own timecode range?
"""

from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pycmx
import pytest

from kernel.timebase import format_rate, timecode_to_frames
from montage_bridge.pipeline import run_auto
from nle_adapters.convert import ConvertOptions, convert, read_timelines
from nle_adapters.edl.common import make_reel
from nle_adapters.timeline_facts import META


def _otio_frames(tc: str, rate: Fraction) -> int:
    """A timecode label → frames, by OTIO (DF from a ``;``), not by our timebase module."""
    return otio.opentime.from_timecode(tc, float(rate)).to_frames()


def _check_sources(edl_text: str, media: dict[str, tuple[Fraction, int, int, bool]]) -> int:
    """Every edit of ``edl_text`` whose reel is in ``media`` (reel → rate, start frame, frames, DF) has
    its source in/out inside ``[start, start + frames]`` counted at the media's rate and labelled in
    the media's counting (``;`` for DF). Returns how many edits were checked."""
    edl = pycmx.parse_cmx3600(io.StringIO(edl_text))
    checked = 0
    bad: list[str] = []
    for event in edl.events:
        for edit in event.edits:
            if edit.source not in media:
                continue
            rate, start, frames, drop = media[edit.source]
            s_in, s_out = _otio_frames(edit.source_in, rate), _otio_frames(edit.source_out, rate)
            if not start <= s_in <= s_out <= start + frames:
                bad.append(f"{edit.source} {edit.source_in}-{edit.source_out} outside {start}..{start + frames}")
            if (";" in edit.source_in) is not drop:
                bad.append(f"{edit.source} {edit.source_in}: not labelled {'DF' if drop else 'NDF'}")
            checked += 1
    assert not bad, "\n".join(bad)
    return checked


def test_auto_edl_sources_are_the_media_timecodes(sample_media: Path, facts: dict, tmp_path: Path) -> None:
    """``make demo``: CITY_25 (10:00:00:00, 25 fps) and the 29.97 DF interview (14:23:10;12) in a
    23.976 list. Before the fix 24 of 40 events named frames these files do not have."""
    result = run_auto(
        sample_media / "footage",
        sample_media / "music.wav",
        tmp_path / "out",
        duration_seconds=20,
        formats=("otio", "edl"),
        name="Demo",
    )
    media = {
        make_reel(name): (Fraction(f["rate"]), f["start_frame"], f["frames"], f["drop_frame"])
        for name, f in facts["clips"].items()
    }
    text = (tmp_path / "out" / "Demo.edl").read_text()
    assert _check_sources(text, media) >= 20
    assert "14:23:" in text and "10:00:" in text  # the interview and city labels, not rescaled ones
    # What CMX 3600 cannot say exactly is warned about, once, naming the rates.
    mixed = [w for w in result.warnings if w.startswith("EDL:") and "mixed rates" in w]
    assert len(mixed) == 1 and "25 fps" in mixed[0] and "30000/1001 fps" in mixed[0]
    # Our reader counts the sources back exactly (the SOURCE FPS comments), at the list's rate.
    _, (back,) = read_timelines(tmp_path / "out" / "Demo.edl", "24000/1001")
    original = result.timeline.video_tracks()[0]
    ins = [(c.name, c.source_range.start_time.to_frames()) for c in original.find_clips()]
    assert [(c.name, c.source_range.start_time.to_frames()) for c in back.video_tracks()[0].find_clips()] == ins


# (name, rate, start TC, frames, DF) of the media in the generated mixed-rate timelines.
MEDIA = [
    ("city_25", Fraction(25), "10:00:00:00", 265, False),
    ("interview", Fraction(30000, 1001), "14:23:10;12", 360, True),
    ("beach", Fraction(24000, 1001), "00:00:00:00", 252, False),
    ("drone", Fraction(60000, 1001), "07:59:59;56", 600, True),
    ("slowmo", Fraction(50), "23:59:50:00", 400, False),
    ("ntsc_ndf", Fraction(30000, 1001), "01:00:00:00", 300, False),
    ("film", Fraction(24), "02:00:00:00", 240, False),
]


def _media_reference(name: str, rate: Fraction, start: int, frames: int, drop: bool) -> otio.schema.ExternalReference:
    return otio.schema.ExternalReference(
        target_url=f"file:///media/{name}.mov",
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, float(rate)), otio.opentime.RationalTime(frames, float(rate))
        ),
        metadata={META: {"rate": format_rate(rate), "drop_frame": drop}},
    )


def _mixed_timeline(record_rate: Fraction, drop_frame: bool, start_tc: str) -> otio.schema.Timeline:
    """Every MEDIA clip twice on V1 (once near its head, once showing its very last frame), a dissolve
    between two clips of other rates, a 200 % clip, and the interview on A1."""
    timeline = otio.schema.Timeline(name=f"mixed {format_rate(record_rate)}")
    timeline.global_start_time = otio.opentime.RationalTime(
        timecode_to_frames(start_tc, record_rate, drop_frame), float(record_rate)
    )
    timeline.metadata[META] = {"rate": format_rate(record_rate), "drop_frame": drop_frame}
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    record = 12  # record frames per clip
    for index, (name, rate, tc, frames, drop) in enumerate(MEDIA * 2):
        start = timecode_to_frames(tc, rate, drop)
        # The second copy's last record frame shows the media's last frame: its real-time source out
        # (in + record × rate / record rate, rounded) can land one frame past the media's end.
        offset = 3 + index if index < len(MEDIA) else frames - int(record * rate / record_rate)
        clip = otio.schema.Clip(
            name=name,
            media_reference=_media_reference(name, rate, start, frames, drop),
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(start + offset, float(rate)),
                otio.opentime.RationalTime(record, float(record_rate)),
            ),
            metadata={META: {"source_rate": format_rate(rate)}},
        )
        if index == 2:
            clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=2.0))
        if index == 1:
            video.append(
                otio.schema.Transition(
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=otio.opentime.RationalTime(2, float(record_rate)),
                    out_offset=otio.opentime.RationalTime(2, float(record_rate)),
                )
            )
        video.append(clip)
        if index == 1:
            audio.append(clip.clone())
    timeline.tracks.extend([video, audio])
    return timeline


@pytest.mark.parametrize(
    ("record_rate", "drop_frame", "start_tc"),
    [
        (Fraction(24000, 1001), False, "01:00:00:00"),
        (Fraction(24), False, "00:00:00:00"),
        (Fraction(25), False, "23:59:50:00"),
        (Fraction(30000, 1001), True, "01:00:00;00"),
        (Fraction(30000, 1001), False, "01:00:00:00"),
        (Fraction(60000, 1001), True, "00:59:59;58"),
    ],
    ids=["23.976", "24", "25", "29.97DF", "29.97NDF", "59.94DF"],
)
def test_convert_mixed_rate_timeline_keeps_media_timecodes(
    record_rate: Fraction, drop_frame: bool, start_tc: str, tmp_path: Path
) -> None:
    timeline = _mixed_timeline(record_rate, drop_frame, start_tc)
    src = tmp_path / "mixed.otio"
    otio.adapters.write_to_file(timeline, str(src), adapter_name="otio_json")
    (report,) = convert(src, tmp_path / "mixed.edl", ConvertOptions())
    text = (tmp_path / "mixed.edl").read_text()
    media = {
        make_reel(name): (rate, timecode_to_frames(tc, rate, drop), frames, drop)
        for name, rate, tc, frames, drop in MEDIA
    }
    assert _check_sources(text, media) == 2 * len(MEDIA) + 2  # + the dissolve's "from" half, + A1
    # The loss report names what CMX 3600 cannot say exactly: the other-rate clips, and the DF/NDF
    # labels that differ from the FCM line.
    features = {item.feature: item.count for item in report.losses}
    facts = {name: (rate, drop) for name, rate, _, _, drop in MEDIA}
    clips = list(timeline.find_clips())
    other_rate = sum(1 for c in clips if facts[c.name][0] != record_rate)
    other_flavour = sum(1 for c in clips if facts[c.name] == (record_rate, not drop_frame))
    assert features.get("mixed rates", 0) == other_rate > 0
    assert features.get("timecode counting", 0) == other_flavour
    # Read back by our reader: every clip's source in point is exactly where it was (but the dissolve's
    # incoming clip, which a CMX dissolve starts earlier, at the dissolve's start).
    _, (back,) = read_timelines(tmp_path / "mixed.edl", format_rate(record_rate))
    want = [(c.name, c.source_range.start_time.to_frames()) for c in timeline.video_tracks()[0].find_clips()]
    got = [(c.name, c.source_range.start_time.to_frames()) for c in back.video_tracks()[0].find_clips()]
    assert len(got) == len(want) and got[:1] + got[2:] == want[:1] + want[2:]


def test_source_fps_comment_is_not_read_as_the_list_rate(tmp_path: Path) -> None:
    """Frame fields of 25 fps sources (up to 24) must not make a 24 fps list look like 25 fps."""
    timeline = _mixed_timeline(Fraction(24), False, "01:00:00:00")
    src = tmp_path / "t.otio"
    otio.adapters.write_to_file(timeline, str(src), adapter_name="otio_json")
    convert(src, tmp_path / "t.edl", ConvertOptions(edl_track=1))
    (report,) = convert(tmp_path / "t.edl", tmp_path / "back.otio", ConvertOptions())
    back = json.loads((tmp_path / "back.otio").read_text())
    assert back["metadata"][META]["rate"] == "24"
    assert any(item.feature == "rate" for item in report.losses)  # still said to be inferred
