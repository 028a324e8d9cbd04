"""A large pipeline-shaped OTIO timeline for interchange benchmarks (no randomness: repeatable).

``make_timeline(events=10_000, tracks=4, rate=Fraction(25))`` spreads ``events`` clips over
``tracks`` tracks (video tracks, plus one audio track when ``tracks`` > 1), each clip 24–71
frames with a gap every 7th cut, a dissolve every 11th and a marker every 5th, media cycling
through 50 files with embedded start timecodes. Rates are exact (``metadata.montage_bridge``).
"""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio

from kernel.timebase import format_rate


def _rt(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def make_timeline(
    events: int = 10_000,
    tracks: int = 4,
    rate: Fraction = Fraction(25),
    transitions: bool = True,
    audio: bool = True,
    gaps: bool = True,
    markers: bool = True,
) -> otio.schema.Timeline:
    """``events`` clips over ``tracks`` tracks at ``rate`` (the last one audio when ``audio`` and
    tracks > 1). Switch off ``transitions``/``gaps``/``markers``/``audio`` for adapters that
    cannot hold them (upstream fcpx_xml crashes on gaps in connected lanes and on audio tracks)."""
    timeline = otio.schema.Timeline(name=f"bench {events} events")
    start = int(3600 * rate)  # 01:00:00:00 (NDF)
    timeline.global_start_time = _rt(start, rate)
    timeline.metadata["montage_bridge"] = {"rate": format_rate(rate), "drop_frame": False, "width": 1920}
    timeline.metadata["montage_bridge"]["height"] = 1080
    per_track = [events // tracks + (1 if i < events % tracks else 0) for i in range(tracks)]
    n = 0
    for index, count in enumerate(per_track):
        is_audio = audio and tracks > 1 and index == tracks - 1
        kind = otio.schema.TrackKind.Audio if is_audio else otio.schema.TrackKind.Video
        track = otio.schema.Track(name="A1" if is_audio else f"V{index + 1}", kind=kind)
        for i in range(count):
            n += 1
            media = n % 50
            media_start = int(media * 600 * rate)
            duration = 24 + (n * 7) % 48
            if gaps and i % 7 == 6:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(_rt(0, rate), _rt(12, rate))))
            elif transitions and not is_audio and i % 11 == 10 and isinstance(track[-1], otio.schema.Clip):
                track.append(
                    otio.schema.Transition(
                        name="Cross Dissolve",
                        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                        in_offset=_rt(6, rate),
                        out_offset=_rt(6, rate),
                    )
                )
            clip = otio.schema.Clip(
                name=f"clip_{media:03d}.mov",
                media_reference=otio.schema.ExternalReference(
                    target_url=f"file:///media/card/clip_{media:03d}.mov",
                    available_range=otio.opentime.TimeRange(_rt(media_start, rate), _rt(int(600 * rate), rate)),
                    metadata={"montage_bridge": {"rate": format_rate(rate)}},
                ),
                source_range=otio.opentime.TimeRange(_rt(media_start + 20 + (n * 13) % 400, rate), _rt(duration, rate)),
            )
            if markers and n % 5 == 0:
                clip.markers.append(
                    otio.schema.Marker(
                        name="beat",
                        marked_range=otio.opentime.TimeRange(clip.source_range.start_time, _rt(0, rate)),
                    )
                )
            track.append(clip)
        timeline.tracks.append(track)
    return timeline
