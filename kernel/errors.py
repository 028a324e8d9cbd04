"""Errors the analysis layer raises; every one carries a message fit to show a user as-is."""


class MontageError(Exception):
    """Base for errors a user can act on. ``str(err)`` is one line: what, where, what to do."""


class MediaError(MontageError):
    """A media file that cannot be read or is not usable as footage or music."""


class AnalysisError(MontageError):
    """Analysis ran but the result cannot be used (e.g. music with no detectable beat)."""
