from fractions import Fraction

import opentimelineio as otio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.timebase import (
    TimecodeError,
    format_rate,
    frames_to_timecode,
    parse_rate,
    rate_from_float,
    rescale_frames,
    seconds_to_frames,
    timecode_to_frames,
)

NTSC30 = Fraction(30000, 1001)
NTSC60 = Fraction(60000, 1001)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("24000/1001", Fraction(24000, 1001)),
        ("23.976", Fraction(24000, 1001)),
        ("29.97", NTSC30),
        ("25", Fraction(25)),
        ("59.94", NTSC60),
        ("29.97002997002997", NTSC30),
        ("48", Fraction(48)),
    ],
)
def test_parse_rate_is_exact(text: str, rate: Fraction) -> None:
    assert parse_rate(text) == rate


def test_parse_rate_rejects_nonsense() -> None:
    # 1e308 and 2**64 made 300-digit EDL timecodes and a pybind dump (#19 items 10, 11).
    for bad in ("abc", "0", "-25", "1/0", "1e308", str(2**64), "768000", "1001/1000000007", "nan", "inf"):
        with pytest.raises(ValueError):
            parse_rate(bad)


@pytest.mark.parametrize(
    ("tc", "rate", "frames"),
    [
        ("01:00:00:00", Fraction(24), 86400),
        ("01:00:00;00", NTSC30, 107892),
        ("01:00:00:00", NTSC30, 108000),
        ("00:01:00;02", NTSC30, 1800),
        ("00:10:00;00", NTSC30, 17982),
        ("01:00:00;00", NTSC60, 215784),
        ("10:00:00:00", Fraction(25), 900000),
        ("14:23:10;12", NTSC30, 1552158),
    ],
)
def test_known_timecodes(tc: str, rate: Fraction, frames: int) -> None:
    assert timecode_to_frames(tc, rate) == frames
    assert frames_to_timecode(frames, rate, ";" in tc) == tc


def test_drop_frame_labels_that_do_not_exist_are_refused() -> None:
    with pytest.raises(TimecodeError):
        timecode_to_frames("00:01:00;00", NTSC30)
    with pytest.raises(TimecodeError):
        timecode_to_frames("00:00:00;00", Fraction(25), drop_frame=True)
    # A ';' at a rate without drop-frame is read leniently as non-drop, as NLEs do.
    assert timecode_to_frames("00:00:01;05", Fraction(25)) == 30
    with pytest.raises(TimecodeError):
        timecode_to_frames("00:00:00:25", Fraction(25))


@given(st.floats(min_value=0, max_value=1, exclude_max=True), st.sampled_from([NTSC30, NTSC60]))
def test_drop_frame_round_trip_and_agrees_with_otio(position: float, rate: Fraction) -> None:
    # Within one day: OTIO wraps at 24 h, we do not (a 25-hour timecode is still a valid frame count).
    frames = int(position * timecode_to_frames("24:00:00;00", rate))
    tc = frames_to_timecode(frames, rate, drop_frame=True)
    assert timecode_to_frames(tc, rate) == frames
    assert otio.opentime.to_timecode(otio.opentime.RationalTime(frames, float(rate)), float(rate), True) == tc


@given(
    st.integers(min_value=0, max_value=5_000_000),
    st.sampled_from([Fraction(24000, 1001), Fraction(24), Fraction(25), NTSC30, Fraction(50), Fraction(60)]),
)
def test_non_drop_round_trip(frames: int, rate: Fraction) -> None:
    assert timecode_to_frames(frames_to_timecode(frames, rate), rate, drop_frame=False) == frames


def test_rounding_rule_is_half_up() -> None:
    assert seconds_to_frames(Fraction(1, 50), Fraction(25)) == 1  # exactly half a frame → up
    assert rescale_frames(48, Fraction(24), Fraction(25)) == 50
    assert rescale_frames(1, Fraction(24000, 1001), Fraction(25)) == 1


def test_rate_from_float_recovers_ntsc() -> None:
    assert rate_from_float(24000 / 1001) == Fraction(24000, 1001)
    assert rate_from_float(29.97) == NTSC30
    assert rate_from_float(25.0) == 25
    assert format_rate(Fraction(24000, 1001)) == "24000/1001"
