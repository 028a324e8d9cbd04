"""CMX 3600 EDL reader and writer (frame-exact, FCM-aware, multi-track audio)."""

from nle_adapters.edl.reader import read_edl
from nle_adapters.edl.writer import write_edl

__all__ = ["read_edl", "write_edl"]
