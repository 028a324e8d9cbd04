"""Montage Bridge: footage in, an edited timeline in your NLE out."""

__version__ = "0.1.0"
