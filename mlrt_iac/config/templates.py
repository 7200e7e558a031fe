"""Templates: the literal / `${}` / `%{if}` / `%{for}` parts of a quoted string, heredoc or
`templatefile` body, assembled into nested `A.Template` parts. Each embedded expression is parsed
by `parser.parse_expression`; the parser calls back here for every template it meets.
"""

from __future__ import annotations

import re
from typing import Any, Union

from . import ast as A
from .parse_error import ParseError

Part = Union[str, A.Expr]


def assemble_template(flat: list[Any], pos: A.Pos4) -> list[Part]:
    """Turn a flat list of strings, expressions and directive tuples into nested if/for parts."""
    # strip markers first: `~` trims whitespace of the neighbouring literal
    for i, item in enumerate(flat):
        if isinstance(item, tuple):
            strip_l, strip_r = item[-3], item[-2]
            if strip_l and i > 0 and isinstance(flat[i - 1], str):
                flat[i - 1] = flat[i - 1].rstrip()
            if strip_r and i + 1 < len(flat) and isinstance(flat[i + 1], str):
                flat[i + 1] = flat[i + 1].lstrip()
    root: list[Part] = []
    stack: list[tuple[Any, list[Part]]] = []
    cur = root
    for item in flat:
        if not isinstance(item, tuple):
            if not (isinstance(item, str) and item == ""):
                cur.append(item)
            continue
        kind = item[0]
        dpos = item[-1]
        if kind == "if":
            node = A.TemplateIf(item[1], [], [], dpos)
            cur.append(node)
            stack.append((node, cur))
            cur = node.then
        elif kind == "else":
            if not stack or not isinstance(stack[-1][0], A.TemplateIf) or cur is stack[-1][0].else_:
                raise ParseError(
                    "Invalid template directive", "An %{else} without a matching %{if}.", dpos[0], dpos[1]
                )
            cur = stack[-1][0].else_
        elif kind == "endif":
            if not stack or not isinstance(stack[-1][0], A.TemplateIf):
                raise ParseError(
                    "Invalid template directive", "An %{endif} without a matching %{if}.", dpos[0], dpos[1]
                )
            cur = stack.pop()[1]
        elif kind == "for":
            fnode = A.TemplateFor(item[1], item[2], item[3], [], dpos)
            cur.append(fnode)
            stack.append((fnode, cur))
            cur = fnode.body
        elif kind == "endfor":
            if not stack or not isinstance(stack[-1][0], A.TemplateFor):
                raise ParseError(
                    "Invalid template directive", "An %{endfor} without a matching %{for}.", dpos[0], dpos[1]
                )
            cur = stack.pop()[1]
    if stack:
        p = stack[-1][0].pos
        raise ParseError(
            "Unterminated template directive",
            "An %{if} or %{for} is never closed; add %{endif} or %{endfor}.",
            p[0],
            p[1],
        )
    return root


_DIRECTIVE_RE = re.compile(r"^\s*(~)?\s*(if|else|endif|for|endfor)\b(.*?)\s*(~)?\s*$", re.S)
_FOR_RE = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(?:,\s*([A-Za-z_][\w-]*)\s*)?\bin\b(.*)$", re.S)


def _find_close(text: str, i: int) -> int:
    """Index of the `}` closing the `${`/`%{` whose body starts at i (strings and nesting aware)."""
    depth = 1
    n = len(text)
    in_str = False
    str_depths: list[int] = []
    while i < n:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_str = False
            elif c == "$" and text.startswith("${", i):
                str_depths.append(depth)
                depth += 1
                in_str = False
                i += 2
                continue
        else:
            if c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if str_depths and depth == str_depths[-1]:
                    str_depths.pop()
                    in_str = True
                elif depth == 0:
                    return i
        i += 1
    return -1


def _line_col(text: str, i: int, base: tuple[int, int]) -> tuple[int, int]:
    line = text.count("\n", 0, i)
    if line == 0:
        return base[0], base[1] + i
    return base[0] + line, i - text.rfind("\n", 0, i)


def template_from_text(text: str, base: tuple[int, int], pos: A.Pos4) -> A.Expr:
    """Parse template syntax in `text` (a heredoc body or a templatefile) into a Template."""
    from .parser import parse_expression  # parser imports this module

    flat: list[Any] = []
    buf: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        j_candidates = [x for x in (text.find("${", i), text.find("%{", i)) if x >= 0]
        if not j_candidates:
            buf.append(text[i:])
            break
        j = min(j_candidates)
        if j > 0 and text[j - 1] == text[j] and (j - 1) >= i:  # $${ or %%{ escape
            buf.append(text[i : j - 1] + text[j : j + 2])
            i = j + 2
            continue
        buf.append(text[i:j])
        end = _find_close(text, j + 2)
        line, col = _line_col(text, j, base)
        if end < 0:
            raise ParseError(
                "Unterminated template string", "A ${ or %{ sequence is never closed with }.", line, col
            )
        inner = text[j + 2 : end]
        if buf:
            flat.append("".join(buf))
            buf = []
        ipos = (line, col, line, col + 2)
        if text[j] == "$":
            flat.append(parse_expression(inner, line, col + 2))
        else:
            m = _DIRECTIVE_RE.match(inner)
            if not m:
                raise ParseError(
                    "Invalid template directive", f"Unknown directive %{{{inner.strip()}}}.", line, col
                )
            sl, kw, rest, sr = bool(m.group(1)), m.group(2), m.group(3), bool(m.group(4))
            if kw == "if":
                flat.append(("if", parse_expression(rest, line, col + 2), sl, sr, ipos))
            elif kw == "for":
                fm = _FOR_RE.match(rest)
                if not fm:
                    raise ParseError("Invalid template directive", "Expected %{for NAME in EXPR}.", line, col)
                a, b = fm.group(1), fm.group(2)
                k, v = (a, b) if b else (None, a)
                flat.append(("for", k, v, parse_expression(fm.group(3), line, col + 2), sl, sr, ipos))
            else:
                flat.append((kw, sl, sr, ipos))
        i = end + 1
    if buf:
        flat.append("".join(buf))
    flat = [x for x in flat if x != ""]
    if not flat:
        return A.Literal("", pos)
    if len(flat) == 1 and isinstance(flat[0], str):
        return A.Literal(flat[0], pos)
    return A.Template(assemble_template(flat, pos), pos)
