"""Errors the planners raise."""

from __future__ import annotations

from kernel.errors import MontageError


class PlanningError(MontageError):
    """The footage and music cannot make the requested edit."""
