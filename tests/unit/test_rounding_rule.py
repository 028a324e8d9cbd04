"""The one rounding rule (DESIGN.md Time rules): exact time → whole frames, nearest, halves away from zero.

One definition (kernel.timebase.round_ratio_half_up); the OTIO, FCPXML and Resolve paths call it, so a
clip lands on the same frame whichever format carried it."""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.timebase import round_half_up, round_ratio_half_up, seconds_to_frames
from nle_adapters.fcpxml.time import to_frames
from nle_adapters.timeline_facts import frames_at

RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(50), Fraction(48000)]
exact = st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=10**6)


@given(exact)
def test_nearest_integer_and_ties_away_from_zero(value: Fraction) -> None:
    # The specification, not a second copy of the formula: the nearest integer; on a tie, the one
    # farther from zero (so -2.5 and 2.5 mirror each other).
    result = round_half_up(value)
    distance = abs(value - result)
    assert distance <= Fraction(1, 2)
    if distance == Fraction(1, 2):
        assert abs(result) > abs(value)
    assert round_half_up(-value) == -result


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(5, 2), 3),
        (Fraction(-5, 2), -3),
        (Fraction(7, 3), 2),
        (Fraction(-7, 3), -2),
        (0, 0),
        (Fraction(1, 2), 1),
    ],
)
def test_known_values(value: Fraction, expected: int) -> None:
    assert round_half_up(value) == expected


def test_ratio_form_takes_any_sign_and_refuses_zero() -> None:
    assert round_ratio_half_up(5, -2) == -3
    assert round_ratio_half_up(-5, -2) == 3
    with pytest.raises(ZeroDivisionError, match="5/0"):
        round_ratio_half_up(5, 0)


@given(exact, st.sampled_from(RATES))
def test_every_format_path_lands_on_the_same_frame(seconds: Fraction, rate: Fraction) -> None:
    expected = seconds_to_frames(seconds, rate)
    assert to_frames(seconds, rate) == expected  # FCPXML's integer fast path
    # OTIO's float RationalTime: a time stated in the rate's own frames (limit_denominator(1000)
    # recovers it), so only the rounding differs between the paths.
    frames = Fraction(round(seconds * rate * 4), 4)
    time = otio.opentime.RationalTime(float(frames), float(rate))
    assert frames_at(time, rate) == round_half_up(frames)
