"""Coded media shared by the render tests (made once per session: a few hundred kB, under 2 s)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from tests.render.media import make_coded_media, make_tone

R24, R25, R2997 = Fraction(24), Fraction(25), Fraction(30000, 1001)


@pytest.fixture(scope="session")
def coded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``a``: 25 fps, TC 10:00:00:00, 440 Hz; ``b``: 29.97 DF, TC 00:59:59;28, 660 Hz; ``c``: 24 fps, no TC,
    880 Hz; ``music``: a 220 Hz WAV tone (audio only, 8 s)."""
    folder = tmp_path_factory.mktemp("coded")
    return {
        "a": make_coded_media(folder / "a.mp4", file_id=1, rate=R25, frames=150, tone_hz=440, timecode="10:00:00:00"),
        "b": make_coded_media(folder / "b.mp4", file_id=2, rate=R2997, frames=180, tone_hz=660, timecode="00:59:59;28"),
        "c": make_coded_media(folder / "c.mp4", file_id=3, rate=R24, frames=144, tone_hz=880),
        "music": make_tone(folder / "music.wav", hz=220, seconds=8.0, volume_db=-20.0),
    }
