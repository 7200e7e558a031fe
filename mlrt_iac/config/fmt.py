"""`mlrt fmt`: rewrite HCL files into the canonical layout of `terraform fmt`.

Why a token/line pass instead of re-printing a parse tree: a formatter must change nothing but
whitespace and must keep every comment, and python-hcl2's tree does not round-trip comments or
expression text. So the text is cut into tokens that treat strings (with nested `${...}`),
heredocs and comments as opaque units, grouped into lines, and only the whitespace between tokens
is rewritten. python-hcl2 is used first to reject invalid files with a positioned diagnostic.

The layout follows hclwrite (the library behind `terraform fmt`):

* indentation is two spaces per open bracket level, counted per line (a line that opens several
  brackets adds one level, as hclwrite does);
* in a run of consecutive lines that each hold a whole single-line `name = value`, the `=` signs
  are aligned one space after the longest name; a blank line, a comment-only line, a block line or
  a line that opens a multi-line value ends the run (a heredoc attribute stays in the run);
* trailing `#`/`//` comments on consecutive lines are aligned the same way;
* heredoc bodies and strings are kept byte for byte, block comments too but for trailing spaces;
  expression text is kept as written except that runs of spaces collapse to one and `=` gets one
  space on each side.

Where mlrt's house style asks for more than hclwrite does, this module adds it: runs of blank
lines collapse to one, blank lines right after an opening bracket or right before a closing one
are removed, a block's closing line is followed by exactly one blank line (unless a closing
bracket follows), blank lines at the start and end of a file are dropped, the file ends with one
newline, and CRLF line ends become LF.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostics, SourceRange
from .fmt_tokens import Kind, LexError, Tok, lex

__all__ = ["FmtResult", "format_source", "format_paths", "unified_diff", "write_changes"]

_INDENT = 2


_BRACKET_DELTA = {Kind.OPEN: 1, Kind.CLOSE: -1}
# Operators after which (or before which) python-hcl2 accepts a line break outside brackets.
_OPERATORS = frozenset({"?", ":", "&&", "||", "+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">="})


@dataclass(slots=True)
class _Line:
    """One logical line: the tokens up to a newline (a heredoc or block comment may span lines)."""

    toks: list[Tok]
    comment: Tok | None = None  # a trailing line comment, aligned separately
    eq: int = -1  # index in toks of the line's first `=` (not the first token)
    assign: bool = False  # the `=` starts a whole single-line value (alignable)
    net: int = 0  # net bracket change of the line's code tokens
    ends_block: bool = False  # the line's last code token closes a block body
    continuation: bool = False  # continues an operator expression outside any bracket
    block_open: set[int] = field(default_factory=set)  # indexes of `{` that open a block body

    @property
    def blank(self) -> bool:
        return not self.toks and self.comment is None

    @property
    def starts_with_close(self) -> bool:
        return bool(self.toks) and self.toks[0].kind is Kind.CLOSE

    @property
    def ends_with_open(self) -> bool:
        return bool(self.toks) and self.toks[-1].kind is Kind.OPEN


def _split_lines(toks: list[Tok]) -> list[_Line]:
    lines: list[_Line] = []
    current: list[Tok] = []
    for tok in toks:
        if tok.kind is Kind.NEWLINE:
            lines.append(_Line(current))
            current = []
        else:
            current.append(tok)
    if current:
        lines.append(_Line(current))
    return lines


def _analyse(lines: list[_Line]) -> None:
    """Fill in each line's cells (hclwrite's lead/assign/comment) and block structure."""
    stack: list[bool] = []  # one entry per open bracket: True when it opens a block body
    prev: list[Tok] = []
    for line in lines:
        toks = line.toks
        if len(toks) > 1 and toks[-1].kind is Kind.LCOMMENT:
            line.comment = toks.pop()
        # A comment-only line stays a lead cell, as in hclwrite.
        if toks and all(stack):
            line.continuation = (bool(prev) and prev[-1].text in _OPERATORS) or (
                toks[0].kind is Kind.WORD and toks[0].text in _OPERATORS and toks[0].text != "-"
            )
        prev = toks
        for idx, tok in enumerate(toks):
            if idx > 0 and tok.kind is Kind.EQ:
                line.eq = idx
                line.assign = sum(_BRACKET_DELTA.get(t.kind, 0) for t in toks[idx:]) == 0
                break
        line.net = sum(_BRACKET_DELTA.get(t.kind, 0) for t in toks)
        in_body = not stack or stack[-1]
        header = in_body and bool(toks) and toks[0].kind is Kind.WORD
        for idx, tok in enumerate(toks):
            if tok.kind is Kind.OPEN:
                is_block = header and tok.text == "{" and idx > 0
                if is_block:
                    line.block_open.add(idx)
                stack.append(is_block)
                header = False
            elif tok.kind is Kind.CLOSE:
                closed_block = stack.pop() if stack else False
                if idx == len(toks) - 1:
                    line.ends_block = closed_block
            elif tok.kind not in (Kind.WORD, Kind.STRING):
                header = False


def _fix_blank_lines(lines: list[_Line]) -> list[_Line]:
    """Collapse blank runs, drop them next to brackets and at the ends, separate blocks."""
    out: list[_Line] = []
    prev_code: _Line | None = None  # the last non-blank line emitted
    for line in lines:
        if line.blank:
            if out and not out[-1].blank and not out[-1].ends_with_open:
                out.append(line)
            continue
        if line.starts_with_close:
            while out and out[-1].blank:
                out.pop()
        elif prev_code is not None and prev_code.ends_block and out and not out[-1].blank:
            out.append(_Line([]))
        out.append(line)
        prev_code = line
    while out and out[-1].blank:
        out.pop()
    return out


def _indents(lines: list[_Line]) -> list[int]:
    """hclwrite's indent stack: one level per line with a net opening, popped by closings."""
    levels: list[int] = []
    result: list[int] = []
    for line in lines:
        net = line.net
        if net > 0:
            result.append(len(levels) + (1 if line.continuation else 0))
            levels.append(net)
            continue
        closed = -net
        while closed > 0 and levels:
            if closed > levels[-1]:
                closed -= levels.pop()
            elif closed < levels[-1]:
                levels[-1] -= closed
                closed = 0
            else:
                levels.pop()
                closed = 0
        result.append(len(levels) + (1 if line.continuation else 0))
    return result


def _join(toks: list[Tok], line: _Line, start: int) -> str:
    """Render tokens with their spacing collapsed to at most one space."""
    parts: list[str] = []
    for idx in range(start, len(toks)):
        tok = toks[idx]
        if idx > start:
            prev = toks[idx - 1]
            if tok.kind is Kind.CLOSE and tok.text == "}" and prev.kind is Kind.OPEN and prev.text == "{":
                sep = ""
            elif idx in line.block_open or idx == line.eq or idx - 1 == line.eq:
                sep = " "
            else:
                sep = " " if tok.space_before else ""
            parts.append(sep)
        parts.append(tok.text)
    return "".join(parts)


def _render(lines: list[_Line]) -> list[str]:
    indents = _indents(lines)
    leads: list[str] = []
    assigns: list[str] = []
    for line, level in zip(lines, indents):
        if line.blank:
            leads.append("")
            assigns.append("")
            continue
        pad = " " * (_INDENT * level) if line.toks or line.comment else ""
        if line.assign:
            leads.append(pad + _join(line.toks[: line.eq], line, 0))
            assigns.append(_join(line.toks, line, line.eq))
        else:
            leads.append(pad + _join(line.toks, line, 0))
            assigns.append("")

    # Align `=` within runs of consecutive assignment lines (hclwrite formatCells).
    cells: list[str] = list(leads)
    run: list[int] = []

    def close_assign_run() -> None:
        width = max(len(leads[k]) for k in run)
        for k in run:
            cells[k] = leads[k] + " " * (width - len(leads[k]) + 1) + assigns[k]
        run.clear()

    for k, line in enumerate(lines):
        if line.assign:
            run.append(k)
        elif run:
            close_assign_run()
    if run:
        close_assign_run()

    # Then align trailing comments within runs of consecutive lines that have one.
    def last_width(s: str) -> int:
        return len(s) - (s.rfind("\n") + 1)

    def close_comment_run() -> None:
        width = max(last_width(cells[k]) for k in run)
        for k in run:
            comment = lines[k].comment
            assert comment is not None
            cells[k] = cells[k] + " " * (width - last_width(cells[k]) + 1) + comment.text
        run.clear()

    for k, line in enumerate(lines):
        if line.comment is not None:
            run.append(k)
        elif run:
            close_comment_run()
    if run:
        close_comment_run()
    return cells


def _significant(toks: list[Tok]) -> list[tuple[Kind, str]]:
    return [(t.kind, t.text) for t in toks if t.kind is not Kind.NEWLINE]


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _excerpt(value: str) -> str:
    """The first line of a token, shortened, so a huge garbage token makes a readable message."""
    first = value.strip().split("\n", 1)[0] or value
    return first if len(first) <= 30 else first[:30] + "..."


def _syntax_diagnostics(text: str, filename: str) -> Diagnostics:
    """Parse with python-hcl2 so an invalid file is refused with a positioned error."""
    import hcl2
    from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    diags = Diagnostics()
    try:
        hcl2.parses_to_tree(text)
    except UnexpectedToken as exc:
        line, column = exc.line, exc.column
        if exc.token.type == "$END" or line is None or line < 1:
            line, column = _position(text, len(text))
            diags.add_error(
                "Unexpected end of file",
                "A block, list, map, call or string opened earlier is not closed; add the missing "
                "closing bracket or quote, then run mlrt fmt again.",
                SourceRange.at(filename, line, column),
            )
        else:
            shown = _excerpt(str(exc.token.value))
            diags.add_error(
                "Invalid syntax",
                f"Unexpected {shown!r} at line {line}, column {column}; check for a missing or "
                "extra bracket, quote, comma or '=' here, then run mlrt fmt again.",
                SourceRange.at(filename, line, column),
            )
    except UnexpectedCharacters as exc:
        pos = exc.pos_in_stream if exc.pos_in_stream is not None else -1
        char = text[pos] if 0 <= pos < len(text) else ""
        line, column = exc.line or 1, exc.column or 1
        diags.add_error(
            "Invalid character",
            f"The character {char!r} is not valid HCL at line {line}, column {column}; "
            "remove it or put it inside a quoted string.",
            SourceRange.at(filename, line, column),
        )
    except UnexpectedEOF:
        line, column = _position(text, len(text))
        diags.add_error(
            "Unexpected end of file",
            "A block, list, map, call or string opened earlier is not closed; add the missing "
            "closing bracket or quote.",
            SourceRange.at(filename, line, column),
        )
    except (LarkError, ValueError, RecursionError) as exc:
        diags.add_error(
            "Invalid syntax",
            f"The file could not be parsed ({type(exc).__name__}: {exc}); fix it and run mlrt fmt again.",
            SourceRange.at(filename, 1, 1),
        )
    return diags


def format_source(text: str, filename: str) -> tuple[str, Diagnostics]:
    """Return `text` in canonical layout, or "" and the diagnostics if it is not valid HCL.

    Only whitespace changes: the result has exactly the input's tokens (strings, heredocs,
    comments included), which is checked before anything is returned.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n")
    diags = _syntax_diagnostics(text, filename)
    if diags.has_errors:
        # An unclosed string, heredoc or comment makes the parser fail far from the cause
        # (often at the end of the file); the lexer can point at where it was opened.
        try:
            lex(text)
        except LexError as exc:
            line, column = _position(text, exc.offset)
            diags = Diagnostics()
            diags.add_error(exc.summary, exc.detail, SourceRange.at(filename, line, column))
        return "", diags
    try:
        toks = lex(text)
    except LexError as exc:
        line, column = _position(text, exc.offset)
        diags.add_error(exc.summary, exc.detail, SourceRange.at(filename, line, column))
        return "", diags
    lines = _split_lines(toks)
    _analyse(lines)
    lines = _fix_blank_lines(lines)
    rendered = _render(lines)
    out = "\n".join(rendered) + "\n" if rendered else ""
    try:
        same = _significant(lex(out)) == _significant(toks)
    except LexError:
        same = False
    if not same:
        diags.add_error(
            "Formatter could not keep the file intact",
            "mlrt fmt would have changed more than whitespace in this file, so it left it alone; "
            "please report this file as a bug.",
            SourceRange.at(filename, 1, 1),
        )
        return "", diags
    return out, diags


@dataclass
class FmtResult:
    """The outcome for one file. With errors, `formatted` is the original text, `changed` False."""

    path: Path
    original: str
    formatted: str
    changed: bool
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def _read(path: Path) -> tuple[str | None, Diagnostics]:
    diags = Diagnostics()
    try:
        data = path.read_bytes()
    except OSError as exc:
        diags.add_error(
            "Cannot read file",
            f"{path}: {exc.strerror or exc}; check the path and its permissions.",
            SourceRange.at(str(path), 1, 1),
        )
        return None, diags
    try:
        return data.decode("utf-8"), diags
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        diags.add_error(
            "Invalid file encoding",
            f"The file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at line {line}, "
            f"column {column}); save it as UTF-8.",
            SourceRange.at(str(path), line, column),
        )
        return None, diags


def _files(path: Path, recursive: bool) -> list[Path]:
    if not path.is_dir():
        return [path]
    if not recursive:
        return sorted(p for p in path.glob("*.hcl") if p.is_file())
    found: list[Path] = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / name for name in sorted(names) if name.endswith(".hcl"))
    return found


def format_paths(paths: list[Path], *, recursive: bool) -> list[FmtResult]:
    """Format every given file, and the `*.hcl` files of every given directory.

    Hidden directories (`.mlrt`, `.git`) are skipped when recursing. Nothing is written: see
    `write_changes`.
    """
    results: list[FmtResult] = []
    for given in paths:
        if not given.exists():
            diags = Diagnostics()
            diags.add_error(
                "No such file or directory", f"{given} does not exist; pass a .hcl file or a directory."
            )
            results.append(FmtResult(given, "", "", False, diags))
            continue
        for path in _files(given, recursive):
            text, diags = _read(path)
            if text is None:
                results.append(FmtResult(path, "", "", False, diags))
                continue
            formatted, fdiags = format_source(text, str(path))
            if fdiags.has_errors:
                results.append(FmtResult(path, text, text, False, fdiags))
            else:
                results.append(FmtResult(path, text, formatted, formatted != text, fdiags))
    return results


def unified_diff(result: FmtResult, name: str | None = None) -> str:
    """A `diff -u` of one result, as `terraform fmt -diff` prints it ("" when unchanged);
    `name` is the path as the user should see it (default: the result's path)."""
    if not result.changed:
        return ""
    name = name or result.path.as_posix()
    return "".join(
        difflib.unified_diff(
            result.original.splitlines(keepends=True),
            result.formatted.splitlines(keepends=True),
            fromfile=f"old/{name}",
            tofile=f"new/{name}",
        )
    )


def write_changes(results: list[FmtResult]) -> list[Path]:
    """Rewrite the changed files in place (atomically, keeping their mode); return their paths."""
    written: list[Path] = []
    for result in results:
        if not result.changed or result.diagnostics.has_errors:
            continue
        path = result.path
        mode = path.stat().st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(result.formatted)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(path)
    return written
