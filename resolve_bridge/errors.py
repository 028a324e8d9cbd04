"""Errors the Resolve bridge raises; each message says what went wrong and what to do.

Standard library only (``kernel.errors`` is too): the Scripts-menu entries import this inside
Resolve's own Python, which usually lacks our third-party dependencies.
"""

from __future__ import annotations

from kernel.errors import MontageError


class ResolveError(MontageError):
    """Something about DaVinci Resolve stops the bridge."""


class ResolveConnectionError(ResolveError):
    """No usable connection to Resolve. ``reason`` is a short code, the message says how to fix it."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class ResolveBuildError(ResolveError):
    """A timeline could not be created or filled in Resolve."""


class ResolveRateLockedError(ResolveBuildError):
    """The project's timeline frame rate is fixed at a different rate than the plan's."""
