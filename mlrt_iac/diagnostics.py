"""Diagnostics: problems found in a configuration, each pointing at its source.

Every layer returns diagnostics instead of raising, so one run can report every problem.
Only the CLI turns them into red lines and an exit code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Pos:
    """A 1-based line and column in a source file."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class SourceRange:
    """Where something is written: a file and a start/end position."""

    filename: str
    start: Pos
    end: Pos

    @staticmethod
    def at(filename: str, line: int, column: int = 1) -> SourceRange:
        return SourceRange(filename, Pos(line, column), Pos(line, column))

    def to_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "start": {"line": self.start.line, "column": self.start.column},
            "end": {"line": self.end.line, "column": self.end.column},
        }


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: a one-line summary, a sentence saying what to do, and where."""

    severity: Severity
    summary: str
    detail: str = ""
    range: SourceRange | None = None
    # Extra ranges worth showing (e.g. the other block of a cross-block check, each edge of a cycle).
    related: tuple[SourceRange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "summary": self.summary, "detail": self.detail}
        if self.range is not None:
            out["range"] = self.range.to_json()
        if self.related:
            out["related"] = [r.to_json() for r in self.related]
        return out


def error(
    summary: str, detail: str = "", rng: SourceRange | None = None, related: Iterable[SourceRange] = ()
) -> Diagnostic:
    return Diagnostic("error", summary, detail, rng, tuple(related))


def warning(summary: str, detail: str = "", rng: SourceRange | None = None) -> Diagnostic:
    return Diagnostic("warning", summary, detail, rng)


class Diagnostics(list[Diagnostic]):
    """A list of diagnostics with helpers; order is the order problems were found."""

    def add_error(
        self,
        summary: str,
        detail: str = "",
        rng: SourceRange | None = None,
        related: Iterable[SourceRange] = (),
    ) -> None:
        self.append(error(summary, detail, rng, related))

    def add_warning(self, summary: str, detail: str = "", rng: SourceRange | None = None) -> None:
        self.append(warning(summary, detail, rng))

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self)

    def errors(self) -> list[Diagnostic]:
        return [d for d in self if d.severity == "error"]

    def warnings(self) -> list[Diagnostic]:
        return [d for d in self if d.severity == "warning"]


REDACTED = "(sensitive value)"


def redact(diags: Iterable[Diagnostic], secrets: Iterable[str]) -> Diagnostics:
    """The diagnostics with every secret in their summary and detail replaced by a marker.

    Longest secrets first, so a secret that contains another is replaced whole.
    """
    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    out = Diagnostics()
    for d in diags:
        summary, detail = d.summary, d.detail
        if ordered and any(s in summary or s in detail for s in ordered):
            for s in ordered:
                summary = summary.replace(s, REDACTED)
                detail = detail.replace(s, REDACTED)
            d = Diagnostic(d.severity, summary, detail, d.range, d.related)
        out.append(d)
    return out
