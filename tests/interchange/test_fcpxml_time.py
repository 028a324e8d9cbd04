"""FCPXML rational time strings ↔ exact seconds and frames."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.timebase import seconds_to_frames
from nle_adapters.fcpxml.time import (
    FcpxmlTimeError,
    conform_rate_name,
    format_time,
    frame_duration,
    frames_time,
    is_on_grid,
    parse_time,
    rate_from_frame_duration,
    to_frames,
)
from tests.interchange.timelines import ALL_RATES


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1001/24000s", Fraction(1001, 24000)),
        ("3600s", Fraction(3600)),
        ("3600/1s", Fraction(3600)),
        ("0s", Fraction(0)),
        ("0/1s", Fraction(0)),
        ("8648640000/2400000s", Fraction(18018, 5)),  # 01:00:00;00 at 29.97
        ("-1s", Fraction(-1)),
    ],
)
def test_parse(text: str, seconds: Fraction) -> None:
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "1.5s", "1/0s", "s", "1/2/3s", "abc", "1e3s", "9" * 31 + "s"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(FcpxmlTimeError):
        parse_time(text)


def test_frame_durations_as_fcp_writes_them() -> None:
    assert frame_duration(Fraction(24000, 1001)) == "1001/24000s"
    assert frame_duration(Fraction(30000, 1001)) == "1001/30000s"
    assert frame_duration(Fraction(25)) == "100/2500s"
    assert rate_from_frame_duration("200/5000s") == 25  # FCP's 25i spelling
    assert rate_from_frame_duration("15015/360000s") == Fraction(24000, 1001)
    with pytest.raises(FcpxmlTimeError):
        rate_from_frame_duration("0s")
    assert conform_rate_name(Fraction(24000, 1001)) == "23.98" and conform_rate_name(Fraction(15)) is None


@given(st.sampled_from(ALL_RATES), st.integers(min_value=-(10**7), max_value=10**8))
def test_frames_round_trip_exactly(rate: Fraction, frames: int) -> None:
    text = frames_time(frames, rate)
    assert to_frames(parse_time(text), rate) == frames
    assert is_on_grid(parse_time(text), rate)
    assert rate_from_frame_duration(frame_duration(rate)) == rate


@given(st.fractions(min_value=-1000, max_value=100000), st.sampled_from(ALL_RATES))
def test_to_frames_is_the_projects_half_up_rule(seconds: Fraction, rate: Fraction) -> None:
    assert to_frames(seconds, rate) == seconds_to_frames(seconds, rate)


def test_format_time() -> None:
    assert format_time(Fraction(7, 2)) == "7/2s"
    assert format_time(Fraction(3600)) == "3600s"
