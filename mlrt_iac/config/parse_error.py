"""The error of the parser and of template assembly; its own module so that both can raise it."""

from __future__ import annotations


class ParseError(Exception):
    """A syntax problem at a 1-based line/column of the parsed text."""

    def __init__(self, summary: str, detail: str, line: int, column: int) -> None:
        super().__init__(f"{summary}: {detail}")
        self.summary = summary
        self.detail = detail
        self.line = line
        self.column = column
