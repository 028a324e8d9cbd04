"""Errors of the remote GPU worker and its client; each message is one line a user can act on."""

from __future__ import annotations

from kernel.errors import MontageError


class GpuRemoteError(MontageError):
    """Anything the worker or its client reports to a user."""


class WorkerConfigError(GpuRemoteError):
    """The worker cannot start as configured (bind address, data folder, token)."""


class ClientError(GpuRemoteError):
    """A request to the worker failed in a way the user can fix or retry."""


class OpError(GpuRemoteError):
    """An operation failed on its input; ``code`` is the job error code (e.g. invalid_input)."""

    def __init__(
        self, message: str, code: str = "op_failed", retryable: bool = False, result: dict | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.result = result  # kept with the failed job (e.g. the quality report that failed it)


class Canceled(Exception):
    """Raised inside an op when its job was canceled (or ran past its timeout); not a user error."""

    def __init__(self, reason: str = "canceled") -> None:
        super().__init__(reason)
        self.reason = reason


class DatabaseUnavailable(GpuRemoteError):
    """The job database cannot be reached (PostgreSQL stopped or restarting); nothing was written,
    or a commit's outcome is unknown. Callers retry: every write of a run is fenced, so a repeat is safe."""


class BrokerUnavailable(GpuRemoteError):
    """The job queue broker did not take a message; the job is saved and is sent when it returns."""
