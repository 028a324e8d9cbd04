"""Property round trips: timeline → CMX 3600 → timeline is frame-exact on what an EDL can hold.

An EDL holds one video track plus audio, one rate, no disabled events, no media length and no
timeline start of its own (a ``BL`` event supplies it). So the generator makes one video track at
one rate, and the expectation is adjusted for what the format does by definition (checked against
the loss report):
- a dissolve starts at the cut (CMX ``D``): a transition's in-offset moves the cut earlier;
- LOC markers have no duration, and references carry no available range;
- a leading gap shared by every track is kept: a ``BL`` event from the start says where it starts.
"""

from __future__ import annotations

import copy

import opentimelineio as otio
from hypothesis import HealthCheck, given, settings

from nle_adapters.edl import read_edl, write_edl
from nle_adapters.loss_report import analyze_losses
from nle_adapters.timeline_facts import frames_at, timeline_rate
from tests.interchange.timelines import Features, assert_same_timeline, timelines

EDL = Features(max_video_tracks=1, mixed_rates=False, disabled_clips=False)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rt(frames: int, rate) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def _as_edl_holds_it(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    timeline = copy.deepcopy(timeline)
    rate = timeline_rate(timeline)
    for track in timeline.tracks:
        items = list(track)
        for i, item in enumerate(items):
            if isinstance(item, otio.schema.Transition):
                lead = frames_at(item.in_offset, rate)
                if lead:
                    prev, nxt = items[i - 1], items[i + 1]
                    prev.source_range = otio.opentime.TimeRange(
                        prev.source_range.start_time, _rt(frames_at(prev.source_range.duration, rate) - lead, rate)
                    )
                    start = nxt.source_range.start_time
                    nxt.source_range = otio.opentime.TimeRange(
                        otio.opentime.RationalTime(start.value - lead, start.rate),
                        _rt(frames_at(nxt.source_range.duration, rate) + lead, rate),
                    )
                    item.out_offset = _rt(lead + frames_at(item.out_offset, rate), rate)
                    item.in_offset = _rt(0, rate)
            elif isinstance(item, otio.schema.Clip):
                item.media_reference.available_range = None
                for marker in item.markers:
                    marker.marked_range = otio.opentime.TimeRange(
                        marker.marked_range.start_time, otio.opentime.RationalTime(0, marker.marked_range.duration.rate)
                    )
    return timeline


@SETTINGS
@given(timeline=timelines(EDL))
def test_edl_round_trip_is_frame_exact(timeline: otio.schema.Timeline) -> None:
    before = timeline.to_json_string()
    text = write_edl(timeline)
    assert timeline.to_json_string() == before  # never mutates its input (upstream does)
    assert text.splitlines()[1] in ("FCM: DROP FRAME", "FCM: NON-DROP FRAME")
    back = read_edl(text, rate=timeline.metadata["montage_bridge"]["rate"])
    assert_same_timeline(_as_edl_holds_it(timeline), back, EDL)
    losses = {item.feature for item in analyze_losses(timeline, "edl")}
    if any(
        frames_at(t.in_offset, timeline_rate(timeline))
        for t in timeline.find_children(descended_from_type=otio.schema.Transition)
    ):
        assert "transition alignment" in losses
    assert "media ranges" in losses


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timeline=timelines(Features(max_video_tracks=3, mixed_rates=True, transitions=False)))
def test_what_an_edl_cannot_hold_is_in_the_loss_report(timeline: otio.schema.Timeline) -> None:
    rate = timeline_rate(timeline)
    losses = {item.feature for item in analyze_losses(timeline, "edl")}
    if len(timeline.video_tracks()) > 1:
        assert "video tracks" in losses
    if any(not c.enabled for c in timeline.find_clips()):
        assert "disabled clips" in losses
    media_rates = {c.metadata["montage_bridge"]["source_rate"] for c in timeline.find_clips()}
    if media_rates - {timeline.metadata["montage_bridge"]["rate"]}:
        assert "mixed rates" in losses
    # and each video track still comes out as its own EDL with the right record start
    for n in range(1, len(timeline.video_tracks()) + 1):
        back = read_edl(write_edl(timeline, video_track=n), rate=str(rate))
        assert frames_at(back.global_start_time, rate) >= frames_at(timeline.global_start_time, rate)


def test_shot_used_up_by_a_dissolve_after_a_gap_keeps_its_place() -> None:
    """Regression: a clip whose whole length is a dissolve's in-offset, right after a gap."""
    rate = 24000 / 1001
    tl = otio.schema.Timeline(name="M")
    tl.global_start_time = otio.opentime.RationalTime(0, rate)
    tl.metadata["montage_bridge"] = {"rate": "24000/1001", "drop_frame": False}
    track = otio.schema.Track()

    def clip(start: int, duration: int) -> otio.schema.Clip:
        return otio.schema.Clip(
            name="A",
            media_reference=otio.schema.ExternalReference(target_url="file:///m/A.mov"),
            source_range=otio.opentime.TimeRange(_rt(start, rate), _rt(duration, rate)),
            metadata={"montage_bridge": {"source_rate": "24000/1001"}},
        )

    track.extend([clip(1, 1), otio.schema.Gap(source_range=otio.opentime.TimeRange(_rt(0, rate), _rt(1, rate)))])
    track.extend([clip(1, 12), otio.schema.Transition(in_offset=_rt(12, rate), out_offset=_rt(0, rate)), clip(13, 1)])
    tl.tracks.append(track)
    back = read_edl(write_edl(tl), rate="24000/1001")
    assert_same_timeline(_as_edl_holds_it(tl), back, EDL)
