"""OTIO adapter ``mb_fcpxml``: Final Cut Pro XML 1.8–1.13 in, 1.8–1.11 out (frame-exact).

Thin OTIO-facing layer; the work is in :mod:`nle_adapters.fcpxml`. Use it by name::

    otio.adapters.read_from_file("cut.fcpxml", adapter_name="mb_fcpxml")
    otio.adapters.write_to_string(timeline, "mb_fcpxml", version="1.10")
"""

from __future__ import annotations

from nle_adapters.fcpxml.common import DEFAULT_WRITE_VERSION
from nle_adapters.fcpxml.reader import read_fcpxml_file, read_fcpxml_string
from nle_adapters.fcpxml.writer import write_timeline


def read_from_string(input_str, source: str = "<string>"):
    """FCPXML text → Timeline (one project) or SerializableCollection (several)."""
    return read_fcpxml_string(input_str, source=source)


def read_from_file(filepath, **_kwargs):
    """An ``.fcpxml`` file or ``.fcpxmld`` bundle → Timeline or SerializableCollection."""
    return read_fcpxml_file(filepath)


def write_to_string(input_otio, version: str = DEFAULT_WRITE_VERSION):
    """Timeline → FCPXML text of ``version`` (1.8, 1.9, 1.10 or 1.11)."""
    return write_timeline(input_otio, version=str(version))
