"""The formatter's lexer: HCL text -> tokens, where strings (with nested `${...}`), heredocs and
comments are opaque units, so `fmt` can rewrite the whitespace between tokens and nothing else."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Kind(enum.Enum):
    WORD = "word"  # identifiers, numbers, operators: anything else that is not space
    EQ = "eq"  # a lone `=` (not `==`, `!=`, `<=`, `>=`, `=>`)
    OPEN = "open"  # { [ (
    CLOSE = "close"  # } ] )
    STRING = "string"  # "..." with any nested template sequences
    HEREDOC = "heredoc"  # <<EOT ... EOT (up to the end of the closing marker)
    LCOMMENT = "lcomment"  # # ... or // ... (without the newline)
    BCOMMENT = "bcomment"  # /* ... */
    NEWLINE = "newline"


@dataclass(slots=True)
class Tok:
    kind: Kind
    text: str
    space_before: bool
    offset: int


class LexError(Exception):
    def __init__(self, offset: int, summary: str, detail: str) -> None:
        super().__init__(summary)
        self.offset = offset
        self.summary = summary
        self.detail = detail


_HEREDOC_START = re.compile(r"<<(-?)([A-Za-z][A-Za-z0-9._-]*)[ \t]*\n")
_WORD_STOP = frozenset(' \t\r\n"{}[]()#=')


def _scan_string(text: str, i: int) -> int:
    """Return the offset just past the quoted template that starts at `text[i] == '"'`."""
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
        elif c == '"':
            return j + 1
        elif c == "\n":
            break
        elif text.startswith("$${", j) or text.startswith("%%{", j):
            j += 3
        elif text.startswith("${", j) or text.startswith("%{", j):
            j = _scan_template_sequence(text, j + 2)
        else:
            j += 1
    raise LexError(
        i,
        "Unterminated template string",
        'A quoted string must end with " on the same line; add the closing quote.',
    )


def _scan_template_sequence(text: str, j: int) -> int:
    """Return the offset just past the `}` that closes a `${`/`%{` sequence whose body starts at j."""
    start = j
    depth = 0
    n = len(text)
    while j < n:
        c = text[j]
        if c == '"':
            j = _scan_string(text, j)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return j + 1
            depth -= 1
        j += 1
    raise LexError(
        start - 2,
        "Unterminated template sequence",
        "A ${ or %{ sequence inside a string is not closed; add the closing }.",
    )


def _scan_heredoc(text: str, i: int) -> int | None:
    """Return the end offset (before the newline) of the heredoc starting at i, or None."""
    m = _HEREDOC_START.match(text, i)
    if m is None:
        return None
    marker = m.group(2)
    pos = m.end()
    n = len(text)
    while pos <= n:
        end = text.find("\n", pos)
        line_end = n if end < 0 else end
        if text[pos:line_end].lstrip(" \t").rstrip("\r") == marker:
            return line_end
        if end < 0:
            break
        pos = end + 1
    raise LexError(
        i,
        "Unterminated heredoc",
        f"The heredoc opened with <<{m.group(1)}{marker} has no closing line "
        f"'{marker}'; add it on a line of its own.",
    )


def lex(text: str) -> list[Tok]:
    """Cut `text` into tokens; strings, heredocs and comments are single opaque tokens."""
    toks: list[Tok] = []
    i = 0
    n = len(text)
    space = False

    def add(kind: Kind, end: int) -> None:
        nonlocal i, space
        toks.append(Tok(kind, text[i:end], space, i))
        i = end
        space = False

    while i < n:
        c = text[i]
        if c in " \t\r\f\v":
            space = True
            i += 1
        elif c == "\n":
            add(Kind.NEWLINE, i + 1)
        elif c == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            toks.append(Tok(Kind.LCOMMENT, text[i:end].rstrip(), space, i))
            i, space = end, False
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise LexError(i, "Unterminated comment", "A /* comment is not closed; add */.")
            # Trailing spaces inside a block comment mean nothing; drop them like any other.
            body = "\n".join(part.rstrip() for part in text[i : end + 2].split("\n"))
            toks.append(Tok(Kind.BCOMMENT, body, space, i))
            i, space = end + 2, False
        elif c == '"':
            add(Kind.STRING, _scan_string(text, i))
        elif text.startswith("<<", i):
            heredoc_end = _scan_heredoc(text, i)
            if heredoc_end is None:
                raise LexError(
                    i, "Invalid heredoc", "A heredoc starts with <<NAME or <<-NAME followed by a newline."
                )
            add(Kind.HEREDOC, heredoc_end)
        elif c in "{[(":
            add(Kind.OPEN, i + 1)
        elif c in "}])":
            add(Kind.CLOSE, i + 1)
        elif c == "=":
            if text.startswith("==", i) or text.startswith("=>", i):
                add(Kind.WORD, i + 2)
            else:
                add(Kind.EQ, i + 1)
        else:
            j = i
            while j < n:
                ch = text[j]
                if ch == "=" and j > i and text[j - 1] in "!<>":
                    j += 1
                    continue
                if (
                    ch in _WORD_STOP
                    or text.startswith("//", j)
                    or text.startswith("/*", j)
                    or text.startswith("<<", j)
                ):
                    break
                j += 1
            add(Kind.WORD, j)
    return toks
