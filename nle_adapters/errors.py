"""Errors from reading and writing interchange files."""

from __future__ import annotations

from kernel.errors import MontageError


class TimelineParseError(MontageError):
    """A timeline file that cannot be read. The message names the file, the line when known,
    what is wrong and what to do."""

    def __init__(self, source: str, problem: str, line: int | None = None, hint: str = "") -> None:
        self.source = source
        self.line = line
        self.problem = problem
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {problem}" + (f" — {hint}" if hint else ""))


class UnsupportedFeature(MontageError):
    """A timeline feature the target format cannot hold (reported in the loss report, or raised
    when the caller asked for strict conversion)."""
