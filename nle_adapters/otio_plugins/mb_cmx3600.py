"""OTIO adapter ``mb_cmx3600``: Montage Bridge's CMX 3600 EDL reader and writer."""

from __future__ import annotations

from nle_adapters.edl import read_edl, write_edl


def read_from_string(input_str: str, rate=None, source: str = "<edl>"):
    """EDL text → Timeline; ``rate`` (e.g. ``"24000/1001"``) is inferred from FCM and frames when None."""
    return read_edl(input_str, rate=rate, source=source)


def write_to_string(input_otio, video_track: int = 1, include_audio: bool | None = None) -> str:
    """Timeline → EDL text for one video track (1-based) plus audio; the input is not changed."""
    return write_edl(input_otio, video_track=int(video_track), include_audio=include_audio)
