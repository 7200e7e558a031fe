"""Diagnostics as people read them (Terraform's layout) and as machines read them (JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.markup import escape

from ..diagnostics import Diagnostic, SourceRange
from .console import Out


def _source_line(rng: SourceRange, sources: Mapping[str, str], base: Path | None) -> str | None:
    text = sources.get(rng.filename)
    if text is None and base is not None:
        try:
            text = (base / rng.filename).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    if text is None:
        return None
    lines = text.splitlines()
    if 1 <= rng.start.line <= len(lines):
        return lines[rng.start.line - 1]
    return None


SOURCE_WIDTH = 120  # characters of a source line shown around the error's column


def _window(line: str, column: int) -> tuple[str, int]:
    """At most SOURCE_WIDTH characters of `line` around `column` (a 5,000-character line of a
    hostile file must not flood the terminal); the column within the shown text."""
    if len(line) <= SOURCE_WIDTH:
        return line, column
    begin = max(0, min(column - SOURCE_WIDTH // 4, len(line) - SOURCE_WIDTH))
    shown = line[begin : begin + SOURCE_WIDTH]
    lead = "..." if begin > 0 else ""
    tail = "..." if begin + SOURCE_WIDTH < len(line) else ""
    return lead + shown + tail, column - begin + len(lead)


def print_diagnostic(out: Out, d: Diagnostic, sources: Mapping[str, str], base: Path | None = None) -> None:
    color = "red" if d.severity == "error" else "yellow"
    title = "Error" if d.severity == "error" else "Warning"
    c = out.err
    c.print()
    c.print(f"[bold {color}]{title}:[/] [bold]{escape(d.summary)}[/]")
    for i, rng in enumerate(([d.range] if d.range else []) + list(d.related)):
        c.print()
        c.print(f"  on {escape(rng.filename)} line {rng.start.line}{':' if i == 0 else ' (related):'}")
        line = _source_line(rng, sources, base)
        if line is not None:
            prefix = f"  {rng.start.line}: "
            line, start = _window(line.rstrip(), max(rng.start.column - 1, 0))
            c.print(escape(prefix + line))
            width = max(1, (rng.end.column - rng.start.column) if rng.end.line == rng.start.line else 1)
            c.print(" " * (len(prefix) + start) + f"[{color}]" + "^" * min(width, 80) + "[/]")
    if d.detail:
        c.print()
        c.print(escape(d.detail))


def print_diagnostics(
    out: Out, diags: list[Diagnostic], sources: Mapping[str, str], base: Path | None = None
) -> None:
    for d in diags:
        print_diagnostic(out, d, sources, base)


def diagnostics_json(diags: list[Diagnostic]) -> dict[str, Any]:
    errors = [d for d in diags if d.severity == "error"]
    return {
        "format_version": "1.0",
        "valid": not errors,
        "error_count": len(errors),
        "warning_count": len(diags) - len(errors),
        "diagnostics": [d.to_json() for d in diags],
    }
