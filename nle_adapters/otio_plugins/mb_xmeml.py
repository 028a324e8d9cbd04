"""OTIO adapter ``mb_xmeml``: Montage Bridge's FCP7 XML (xmeml v4/v5) reader and writer."""

from __future__ import annotations

from nle_adapters.xmeml import read_xmeml, write_xmeml


def read_from_string(input_str: str, source: str = "<xmeml>"):
    """xmeml text → Timeline (or SerializableCollection for several sequences)."""
    return read_xmeml(input_str, source=source)


def write_to_string(input_otio, version: int = 4, flavor: str | None = None) -> str:
    """Timeline → xmeml text; ``version=4`` for Premiere, ``5`` for Resolve."""
    return write_xmeml(input_otio, version=int(version), flavor=flavor)
