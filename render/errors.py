"""Errors of the render package: one line each, naming the file or clip and what to do."""

from __future__ import annotations

from kernel.errors import MontageError


class RenderError(MontageError):
    """A timeline that cannot be rendered, or an ffmpeg run that failed (no output is left behind)."""
