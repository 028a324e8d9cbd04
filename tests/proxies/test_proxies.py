"""Proxies match their originals (rate, frames, start TC, channels, name) and a relinked timeline
shows the same source frames (decoded and read back from each frame's own code)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from kernel.ffmpeg_tools import ffmpeg_path
from kernel.probe import probe_media
from nle_adapters.plan_to_otio import media_reference
from nle_adapters.timeline_facts import clip_time, url_to_path
from proxies.make import ProxyError, make_proxies, proxy_path
from proxies.relink import relink_timeline
from tests.proxies.conftest import decode_frame, read_index


def test_proxies_keep_rate_frames_timecode_channels_and_name(footage: Path) -> None:
    seen: dict[str, int] = {}
    run = make_proxies(
        sorted(footage.glob("*.mov")), size=(320, 180), progress=lambda p, done, total: seen.__setitem__(p.name, done)
    )
    assert [r.status for r in run.results] == ["made", "made"]
    for result in run.results:
        original, proxy = probe_media(result.original), probe_media(result.proxy)
        assert result.proxy == footage / "Proxy Media" / f"{result.original.stem}.mov"
        assert (proxy.rate, proxy.frames, proxy.start_frame, proxy.drop_frame, proxy.audio_channels) == (
            original.rate, original.frames, original.start_frame, original.drop_frame, original.audio_channels,
        )  # fmt: skip
        assert (proxy.width, proxy.height) == (320, 180)
        assert seen[result.original.name] == original.frames  # progress reached the end of each file
        for index in (0, original.frames // 2, original.frames - 1):
            assert read_index(decode_frame(result.proxy, index)) == index
    assert Fraction(probe_media(footage / "Proxy Media" / "b_cam.mov").rate) == Fraction(30000, 1001)
    assert probe_media(footage / "Proxy Media" / "b_cam.mov").start_timecode == "10:00:00;00"
    # Resumable: a second run keeps what matches, an interrupted run's partial file is not a proxy.
    (footage / "Proxy Media" / ".a_cam.partial.mov").write_bytes(b"half")
    assert [r.status for r in make_proxies(sorted(footage.glob("*.mov")), size=(320, 180)).results] == [
        "up to date",
        "up to date",
    ]


def _timeline(footage: Path) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="cut")
    timeline.global_start_time = otio.opentime.RationalTime(90000, 25)
    timeline.metadata["montage_bridge"] = {"rate": "25", "width": 640, "height": 360}
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, src_in, length in (("a_cam.mov", 7, 20), ("b_cam.mov", 11, 25)):
        media = probe_media(footage / name)
        ref = media_reference(media.path, media.start_frame, media.frames, media.rate, width=640, height=360)
        track.append(
            otio.schema.Clip(
                name=name,
                media_reference=ref,
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(media.start_frame + src_in, float(media.rate)),
                    otio.opentime.RationalTime(length, 25),
                ),
            )
        )
    timeline.tracks.append(track)
    return timeline


def _first_and_last_frames(timeline: otio.schema.Timeline) -> list[tuple[str, int, int]]:
    """(file, index read from its first shown frame, from its last) per clip, decoded."""
    out = []
    for clip in timeline.find_clips():
        path = Path(url_to_path(clip.media_reference.target_url))
        time = clip_time(clip, Fraction(25))
        first = time.source_in - time.media_start
        last = first + round(time.duration * time.rate / 25) - 1
        out.append((path.name, read_index(decode_frame(path, first)), read_index(decode_frame(path, last))))
    return out


def test_relink_switches_between_originals_and_proxies_frame_exact(footage: Path) -> None:
    make_proxies(sorted(footage.glob("*.mov")), layout="fcp", size=(320, 180))
    timeline = _timeline(footage)
    before = timeline.to_json_string()
    shown = _first_and_last_frames(timeline)
    assert [s[1:] for s in shown] == [(7, 26), (11, 40)]

    report = relink_timeline(timeline, "proxies")
    assert report.relinked == 2 and not report.missing
    paths = [Path(url_to_path(c.media_reference.target_url)) for c in timeline.find_clips()]
    assert all(p.parent == footage / "Transcoded Media" / "Proxy Media" for p in paths)
    assert [s[1:] for s in _first_and_last_frames(timeline)] == [s[1:] for s in shown]  # the same source frames
    assert relink_timeline(timeline, "proxies").already == 2

    assert relink_timeline(timeline, "originals").relinked == 2
    assert timeline.to_json_string() == before


def test_a_proxy_that_does_not_match_is_refused_by_name(footage: Path) -> None:
    make_proxies([footage / "a_cam.mov"], size=(320, 180))
    bad = proxy_path(footage / "b_cam.mov", "resolve")
    bad.parent.mkdir(exist_ok=True)
    # A proxy cut short (35 of 45 frames), as an interrupted transcode outside our tool leaves one.
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-y", "-i", str(footage / "b_cam.mov"), "-frames:v", "35"]
        + ["-c:v", "libx264", "-c:a", "pcm_s16le", "-timecode", "10:00:00;00", str(bad)],
        check=True,
    )  # fmt: skip
    timeline = _timeline(footage)
    with pytest.raises(ProxyError, match=r"b_cam\.mov.*35 frames, the original has 45"):
        relink_timeline(timeline, "proxies")
    # make_proxies redoes the bad one instead of keeping it.
    run = make_proxies(sorted(footage.glob("*.mov")), size=(320, 180))
    assert [r.status for r in run.results] == ["up to date", "remade"]
    assert relink_timeline(_timeline(footage), "proxies").relinked == 2
