"""HCL text -> our AST, through python-hcl2's raw Lark tree.

We use only `hcl2.parses_to_tree` (the LALR parse with positions) and walk the Lark tree
ourselves: python-hcl2's own transform/serialize steps cost more than the parse and lose
positions. Heredoc and `templatefile` bodies are split into literal/`${}`/`%{}` parts here,
each embedded expression parsed by the same grammar.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ast as A
from .parse_error import ParseError
from .templates import assemble_template, template_from_text

_TOKEN_NAMES = {
    "NL_OR_COMMENT": "newline",
    "NAME": "identifier",
    "EQ": '"="',
    "LBRACE": '"{"',
    "RBRACE": '"}"',
    "LSQB": '"["',
    "RSQB": '"]"',
    "LPAR": '"("',
    "RPAR": '")"',
    "DBLQUOTE": 'quote (")',
    "COMMA": '","',
    "COLON": '":"',
    "DOT": '"."',
    "INT_LITERAL": "number",
    "FLOAT_LITERAL": "number",
    "STRING_CHARS": "string characters",
    "QMARK": '"?"',
    "$END": "end of file",
}


def _describe_expected(expected: Any) -> str:
    names = sorted({_TOKEN_NAMES.get(str(e), str(e)) for e in (expected or ())})
    if not names:
        return ""
    if len(names) > 8:
        names = names[:8] + ["..."]
    return " Expected one of: " + ", ".join(names) + "."


def _syntax_error(exc: UnexpectedInput, text: str) -> ParseError:
    line = getattr(exc, "line", None) or 1
    col = getattr(exc, "column", None) or 1
    if isinstance(exc, UnexpectedCharacters):
        p = exc.pos_in_stream or 0
        ch = text[p] if 0 <= p < len(text) else ""
        return ParseError(
            "Invalid character",
            f"Unexpected character {ch!r} at line {line}, column {col}."
            " Check for a missing quote, brace or operator.",
            line,
            col,
        )
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        lines = text.rstrip("\n").split("\n")
        line, col = len(lines), len(lines[-1]) + 1
        return ParseError(
            "Unexpected end of file",
            "The file ends in the middle of a block or expression; check for an unclosed brace,"
            " bracket or quote." + _describe_expected(getattr(exc, "expected", None)),
            line,
            col,
        )
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        shown = str(tok).strip() or repr(str(tok))
        if tok.type == "NL_OR_COMMENT":
            shown = "newline"
        return ParseError(
            "Syntax error",
            f"Unexpected {shown!r} at line {line}, column {col}." + _describe_expected(exc.expected),
            line,
            col,
        )
    return ParseError("Syntax error", f"Invalid syntax at line {line}, column {col}.", line, col)


MAX_FILE_CHARS = 4 * 1024 * 1024
MAX_NESTING = 64
MAX_NUMBER_DIGITS = 4000  # below Python's own 4300-digit limit on int(str)
_BRACKETS_RE = re.compile(r"[{}\[\]()]")


def _precheck(text: str) -> None:
    """Reject what would make the LALR parser crawl (huge or absurdly nested input) before parsing."""
    if len(text) > MAX_FILE_CHARS:
        raise ParseError(
            "File too large",
            f"The file has {len(text)} characters; configuration files are limited to"
            f" {MAX_FILE_CHARS} characters. Split it into several files, or check that it is really an"
            " HCL configuration.",
            1,
            1,
        )
    depth = 0
    for m in _BRACKETS_RE.finditer(text):
        if m.group() in "{[(":
            depth += 1
            if depth > MAX_NESTING:
                i = m.start()
                line = text.count("\n", 0, i) + 1
                raise ParseError(
                    "Nesting too deep",
                    f"Blocks and expressions nest more than {MAX_NESTING} levels"
                    " deep here; this does not look like a configuration file.",
                    line,
                    i - text.rfind("\n", 0, i),
                )
        elif depth > 0:
            depth -= 1


def parse_file_text(text: str) -> A.File:
    """Parse one file's text; raises ParseError with a position on any syntax problem."""
    _precheck(text)
    try:
        tree = hcl2.parses_to_tree(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    except LarkError as exc:  # pragma: no cover - other lark failures
        raise ParseError("Syntax error", str(exc).splitlines()[0], 1, 1) from None
    except RecursionError:
        raise ParseError("Syntax error", "The file nests too deeply to parse.", 1, 1) from None
    b = _Builder()
    body = tree.children[0]
    try:
        attrs, blocks = b.body(body)
    except RecursionError:
        raise ParseError(
            "Expression too complex",
            "An expression nests too deeply (or chains too many operators) to read; split it with locals.",
            1,
            1,
        ) from None
    return A.File(attrs, blocks)


def parse_expression(text: str, line: int = 1, column: int = 1) -> A.Expr:
    """Parse a standalone expression (a -var value, a template interpolation)."""
    src = "__e = (" + text + ")"
    try:
        tree = hcl2.parses_to_tree(src)
    except UnexpectedInput as exc:
        err = _syntax_error(exc, src)
        col = err.column - 7 + column - 1 if err.line == 1 else err.column
        raise ParseError(
            err.summary, f"Invalid expression {text.strip()!r}.", line + err.line - 1, max(col, 1)
        ) from None
    except LarkError as exc:
        raise ParseError("Syntax error", str(exc).splitlines()[0], line, column) from None
    body = tree.children[0]
    b = _Builder()
    attrs, blocks = b.body(body)
    if len(attrs) != 1 or blocks:
        raise ParseError(
            "Invalid expression", f"Expected one expression, got {text.strip()!r}.", line, column
        )
    expr = attrs[0].expr
    if line != 1 or column != 8:
        _shift(expr, line - 1, column - 8)
    return expr


def _shift(node: Any, dline: int, dcol: int) -> None:
    """Move every position of a sub-tree (parsed out of context) to where it really is."""
    if isinstance(node, A.Node):
        l1, c1, l2, c2 = node.pos
        node.pos = (l1 + dline, c1 + (dcol if l1 == 1 else 0), l2 + dline, c2 + (dcol if l2 == 1 else 0))
        for f in node._fields():
            if f != "pos":
                _shift(getattr(node, f), dline, dcol)
    elif isinstance(node, (list, tuple)):
        for x in node:
            _shift(x, dline, dcol)


def _tpos(t: Tree) -> A.Pos4:
    m = t.meta
    return (m.line, m.column, m.end_line, m.end_column)


def _kpos(t: Token) -> A.Pos4:
    return (t.line or 1, t.column or 1, t.end_line or 1, t.end_column or 1)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESC_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s

    def rep(m: re.Match[str]) -> str:
        c = m.group(1)
        if c[0] in "uU" and len(c) > 1:
            return chr(int(c[1:], 16))
        return _ESCAPES.get(c, "\\" + c)

    return _ESC_RE.sub(rep, s)


def _is_expr(c: Any) -> bool:
    return isinstance(c, Tree) and c.data != "new_line_or_comment"


class _Builder:
    """Walks the Lark tree. One method per rule; dispatch by rule name."""

    def body(self, t: Tree) -> tuple[list[A.Attribute], list[A.Block]]:
        attrs: list[A.Attribute] = []
        blocks: list[A.Block] = []
        for c in t.children:
            d = c.data
            if d == "attribute":
                ch = c.children
                attrs.append(A.Attribute(self.name_of(ch[0]), self.expr(ch[2]), _tpos(c)))
            elif d == "block":
                blocks.append(self.block(c))
        return attrs, blocks

    def name_of(self, t: Tree) -> str:
        if t.data == "string":
            return "".join(
                _unescape(str(p.children[0]))
                for p in t.children
                if isinstance(p, Tree) and isinstance(p.children[0], Token)
            )
        return str(t.children[0])

    def block(self, t: Tree) -> A.Block:
        names: list[str] = []
        body: Tree | None = None
        lbrace: Token | None = None
        for c in t.children:
            if isinstance(c, Tree):
                if c.data == "body":
                    body = c
                elif c.data != "new_line_or_comment":
                    names.append(self.name_of(c))
            elif c.type == "LBRACE":
                lbrace = c
        m = t.meta
        head_end = (
            (lbrace.line or m.line, lbrace.column or m.column) if lbrace is not None else (m.line, m.column)
        )
        attrs, blocks = self.body(body) if body is not None else ([], [])
        return A.Block(
            names[0],
            names[1:],
            attrs,
            blocks,
            (m.line, m.column, head_end[0], head_end[1]),
            (m.line, m.column, m.end_line, m.end_column),
        )

    # ---- expressions ----------------------------------------------------------------------

    def expr(self, t: Tree) -> A.Expr:
        fn: Callable[[Tree], A.Expr] = getattr(self, "x_" + t.data)
        return fn(t)

    def x_expr_term(self, t: Tree) -> A.Expr:
        ch = t.children
        if len(ch) == 1:
            c = ch[0]
            return self.expr(c)
        for c in ch:  # ( expression )
            if _is_expr(c):
                return self.expr(c)
        raise ParseError("Invalid expression", "Empty parentheses.", *_tpos(t)[:2])

    def x_int_lit(self, t: Tree) -> A.Expr:
        text = str(t.children[0])
        if len(text) > MAX_NUMBER_DIGITS:
            raise ParseError(
                "Invalid number literal",
                f"This number has {len(text):,} digits; mlrt accepts at most {MAX_NUMBER_DIGITS:,}.",
                *_tpos(t)[:2],
            )
        return A.Literal(int(text), _tpos(t))

    def x_float_lit(self, t: Tree) -> A.Expr:
        v = float(str(t.children[0]))
        return A.Literal(int(v) if v.is_integer() and abs(v) < 2**53 else v, _tpos(t))

    def x_literal_value(self, t: Tree) -> A.Expr:
        s = str(t.children[0])
        return A.Literal({"true": True, "false": False, "null": None}[s], _tpos(t))

    def x_identifier(self, t: Tree) -> A.Expr:
        return A.Traversal(str(t.children[0]), (), _tpos(t))

    def x_string(self, t: Tree) -> A.Expr:
        flat: list[Any] = []
        for p in t.children:
            if isinstance(p, Token):
                continue
            c = p.children[0]
            if isinstance(c, Token):
                s = str(c)
                if c.type == "ESCAPED_INTERPOLATION" or c.type == "ESCAPED_DIRECTIVE":
                    s = s[1:]
                else:
                    s = _unescape(s)
                if flat and isinstance(flat[-1], str):
                    flat[-1] += s
                else:
                    flat.append(s)
            elif c.data == "interpolation":
                flat.append(self.expr(next(x for x in c.children if _is_expr(x))))
            else:
                flat.append(self.directive(c))
        pos = _tpos(t)
        if not flat:
            return A.Literal("", pos)
        if len(flat) == 1 and isinstance(flat[0], str):
            return A.Literal(flat[0], pos)
        return A.Template(assemble_template(flat, pos), pos)

    def directive(self, t: Tree) -> tuple[Any, ...]:
        kind = t.data
        ch = t.children
        strip_l = strip_r = False
        seen_kw = False
        for c in ch:
            if isinstance(c, Token):
                if c.type == "STRIP_MARKER":
                    if seen_kw:
                        strip_r = True
                    else:
                        strip_l = True
                elif c.type in ("IF", "ELSE", "ENDIF", "FOR", "ENDFOR"):
                    seen_kw = True
        pos = _tpos(t)
        if kind == "template_if_start":
            cond = self.expr(next(c for c in ch if _is_expr(c)))
            return ("if", cond, strip_l, strip_r, pos)
        if kind == "template_for_start":
            idents = [str(c.children[0]) for c in ch if isinstance(c, Tree) and c.data == "identifier"]
            exprs = [c for c in ch if _is_expr(c) and c.data != "identifier"]
            # the collection may itself be a bare identifier: it is then the last identifier tree
            if exprs:
                coll = self.expr(exprs[-1])
            else:
                last = [c for c in ch if isinstance(c, Tree) and c.data == "identifier"][-1]
                idents = idents[:-1]
                coll = self.expr(last)
            k, v = (idents[0], idents[1]) if len(idents) == 2 else (None, idents[0])
            return ("for", k, v, coll, strip_l, strip_r, pos)
        name = {"template_else": "else", "template_endif": "endif", "template_endfor": "endfor"}[kind]
        return (name, strip_l, strip_r, pos)

    def x_template_string(self, t: Tree) -> A.Expr:
        s = str(t.children[0])
        return A.Literal(_unescape(s[2:-2]), _tpos(t))

    def x_heredoc_template(self, t: Tree) -> A.Expr:
        return self._heredoc(cast(Token, t.children[0]), trim=False)

    def x_heredoc_template_trim(self, t: Tree) -> A.Expr:
        return self._heredoc(cast(Token, t.children[0]), trim=True)

    def _heredoc(self, tok: Token, trim: bool) -> A.Expr:
        raw = str(tok).replace("\r\n", "\n")
        lines = raw.split("\n")
        # lines[0] is "<<EOT", the last two are "  EOT" and "" (the token ends with a newline)
        body_lines = lines[1:-2]
        if trim:
            indents = [len(ln) - len(ln.lstrip(" \t")) for ln in body_lines if ln.strip()]
            cut = min(indents) if indents else 0
            body_lines = [ln[cut:] for ln in body_lines]
        text = "".join(ln + "\n" for ln in body_lines)
        pos = _kpos(tok)
        return template_from_text(text, (pos[0] + 1, 1), pos)

    def x_tuple(self, t: Tree) -> A.Expr:
        return A.TupleExpr([self.expr(c) for c in t.children if _is_expr(c)], _tpos(t))

    def x_object(self, t: Tree) -> A.Expr:
        items: list[tuple[A.Expr, A.Expr]] = []
        for e in t.children:
            if isinstance(e, Tree) and e.data == "object_elem":
                kt, _, vt = e.children
                items.append((self.obj_key(kt), self.expr(vt)))
        return A.ObjectExpr(items, _tpos(t))

    def obj_key(self, kt: Tree) -> A.Expr:
        k = kt.children[0]
        if k.data == "keyword":
            return A.Literal(str(k.children[0]), _tpos(k))
        if k.data == "expr_term" and len(k.children) == 1 and isinstance(k.children[0], Tree):
            inner = k.children[0]
            if inner.data == "identifier":
                return A.Literal(str(inner.children[0]), _tpos(inner))
            if inner.data == "literal_value":
                return A.Literal(str(inner.children[0]), _tpos(inner))
        return self.expr(k)

    def x_function_call(self, t: Tree) -> A.Expr:
        ch = t.children
        idents = [str(c.children[0]) for c in ch if isinstance(c, Tree) and c.data == "identifier"]
        args: list[A.Expr] = []
        expand = False
        for c in ch:
            if isinstance(c, Tree) and c.data == "arguments":
                for a in c.children:
                    if isinstance(a, Token):
                        if a.type == "ELLIPSIS":
                            expand = True
                    elif a.data != "new_line_or_comment":
                        args.append(self.expr(a))
        return A.FuncCall("::".join(idents), args, expand, _tpos(t))

    def _steps(self, nodes: list[Any]) -> list[A.Step]:
        steps: list[A.Step] = []
        for n in nodes:
            if not isinstance(n, Tree):
                continue
            d = n.data
            if d == "get_attr":
                steps.append(("a", str(n.children[1].children[0])))
            elif d == "braces_index":
                steps.append(("i", self.expr(next(c for c in n.children if _is_expr(c)))))
            elif d == "short_index":
                tok = cast(Token, n.children[1])
                steps.append(("i", A.Literal(int(tok), _kpos(tok))))
        return steps

    def _with_steps(self, base: A.Expr, steps: list[A.Step], pos: A.Pos4) -> A.Expr:
        if isinstance(base, A.Traversal):
            return A.Traversal(base.root, base.steps + tuple(steps), pos)
        if isinstance(base, A.Relative):
            return A.Relative(base.source, base.steps + tuple(steps), pos)
        return A.Relative(base, tuple(steps), pos)

    def x_get_attr_expr_term(self, t: Tree) -> A.Expr:
        base = self.expr(t.children[0])
        return self._with_steps(base, self._steps(t.children[1:]), _tpos(t))

    x_index_expr_term = x_get_attr_expr_term

    def x_attr_splat_expr_term(self, t: Tree) -> A.Expr:
        base = self.expr(t.children[0])
        return A.Splat(base, tuple(self._steps(t.children[1].children)), _tpos(t))

    x_full_splat_expr_term = x_attr_splat_expr_term

    def x_unary_op(self, t: Tree) -> A.Expr:
        op, operand = t.children
        return A.Unary(str(op).strip(), self.expr(operand), _tpos(t))

    def x_binary_op(self, t: Tree) -> A.Expr:
        lhs = self.expr(t.children[0])
        term = t.children[1]
        op = str(term.children[0].children[0]).strip()
        rhs = self.expr(next(c for c in term.children[1:] if _is_expr(c)))
        return A.Binary(op, lhs, rhs, _tpos(t))

    def x_conditional(self, t: Tree) -> A.Expr:
        parts = [c for c in t.children if _is_expr(c)]
        return A.Conditional(self.expr(parts[0]), self.expr(parts[1]), self.expr(parts[2]), _tpos(t))

    def _for_intro(self, t: Tree) -> tuple[str | None, str, A.Expr]:
        idents: list[str] = []
        coll: A.Expr | None = None
        after_in = False
        for c in t.children:
            if isinstance(c, Token):
                if c.type == "IN":
                    after_in = True
                continue
            if c.data == "new_line_or_comment":
                continue
            if not after_in:
                idents.append(str(c.children[0]))
            else:
                coll = self.expr(c)
        assert coll is not None
        if len(idents) == 2:
            return idents[0], idents[1], coll
        return None, idents[0], coll

    def x_for_tuple_expr(self, t: Tree) -> A.Expr:
        intro = next(c for c in t.children if isinstance(c, Tree) and c.data == "for_intro")
        k, v, coll = self._for_intro(intro)
        exprs = [c for c in t.children if _is_expr(c) and c.data not in ("for_intro", "for_cond")]
        cond = self._for_cond(t)
        return A.ForExpr(k, v, coll, None, self.expr(exprs[0]), cond, False, _tpos(t))

    def _for_cond(self, t: Tree) -> A.Expr | None:
        for c in t.children:
            if isinstance(c, Tree) and c.data == "for_cond":
                return self.expr(next(x for x in c.children if _is_expr(x)))
        return None

    def x_for_object_expr(self, t: Tree) -> A.Expr:
        intro = next(c for c in t.children if isinstance(c, Tree) and c.data == "for_intro")
        k, v, coll = self._for_intro(intro)
        exprs = [c for c in t.children if _is_expr(c) and c.data not in ("for_intro", "for_cond")]
        group = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in t.children)
        return A.ForExpr(
            k, v, coll, self.expr(exprs[0]), self.expr(exprs[1]), self._for_cond(t), group, _tpos(t)
        )
