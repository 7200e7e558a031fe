"""Exceptions shared by every layer.

Providers raise `RetryableError` (try again after `delay` seconds, within the resource's
timeouts) or `PermanentError` (do not retry). `DiagnosticsError` carries configuration problems
up to the CLI, the only place that prints them.
"""

from __future__ import annotations

from collections.abc import Mapping

from .diagnostics import Diagnostic, Diagnostics


class MlrtError(Exception):
    """Base of every error mlrt raises on purpose; the CLI prints it without a traceback."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail


class DiagnosticsError(MlrtError):
    """One or more configuration problems, each with its source position. `sources` maps file
    names to their text, so the CLI can quote the offending line."""

    def __init__(self, diagnostics: list[Diagnostic], sources: Mapping[str, str] | None = None) -> None:
        self.diagnostics = Diagnostics(diagnostics)
        self.sources: Mapping[str, str] = sources or {}
        first = self.diagnostics[0].summary if self.diagnostics else "invalid configuration"
        super().__init__(first)


class ProviderError(MlrtError):
    """A provider operation failed."""


class RetryableError(ProviderError):
    """Transient: the same call may succeed after `delay` seconds (429, 5xx, not ready yet)."""

    def __init__(self, summary: str, detail: str = "", delay: float = 1.0) -> None:
        super().__init__(summary, detail)
        self.delay = delay


class PermanentError(ProviderError):
    """Will not succeed by retrying: bad input, permission denied, a failed training run."""


class DeadlineExceeded(PermanentError):
    """The operation did not finish before the deadline set by the resource's `timeouts { }`
    (or the provider's default). Raised by handlers whose waits run out and by the engine when
    retries would pass the deadline; callers branch on the type, never on message text."""


class StateError(MlrtError):
    """The state cannot be read, written or locked."""


class StateLockedError(StateError):
    """Another process holds the state lock. `info` describes the holder."""

    def __init__(self, summary: str, detail: str = "", info: dict[str, object] | None = None) -> None:
        super().__init__(summary, detail)
        self.info = info or {}
