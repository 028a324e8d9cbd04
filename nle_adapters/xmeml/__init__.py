"""FCP7 XML (xmeml v4/v5) reader and writer: Premiere, Resolve, Hiero, auto-editor."""

from nle_adapters.xmeml.reader import read_xmeml
from nle_adapters.xmeml.writer import write_xmeml

__all__ = ["read_xmeml", "write_xmeml"]
