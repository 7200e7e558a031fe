"""Expression evaluation over the AST, with UNKNOWN and Sensitive propagation.

`Evaluator.eval(expr, scope)` returns a value or raises `EvalError` (with the position of the
sub-expression at fault). Unknown values flow through every operation without raising;
sensitive marks are re-applied to every result derived from a sensitive operand.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..values import UNKNOWN, Sensitive
from . import ast as A
from .functions import FUNCTIONS, SPECIAL_FUNCTIONS, FuncError, Syntax
from .scope import Resolver, Scope
from .valueops import (
    EvalError,
    HclSet,
    ResourceRef,
    deep_sensitive,
    deep_unknown,
    hcl_equal,
    mark,
    norm_number,
    strip_marks,
    to_bool,
    to_number,
    to_str,
    type_name,
)

# Limits on one value, so a configuration cannot exhaust memory while `validate` runs on an
# untrusted pull request (a string doubled through 34 locals reached 12 GB). Far above real use.
MAX_STRING_CHARS = 16 * 1024 * 1024
MAX_COLLECTION_ITEMS = 1_000_000


def check_size(value: Any, pos: A.Pos4) -> Any:
    """`value`, or an EvalError when it is a string or collection over the limits."""
    v = value.value if isinstance(value, Sensitive) else value
    if isinstance(v, str) and len(v) > MAX_STRING_CHARS:
        raise EvalError(
            "Value too large",
            f"This expression produced a string of {len(v):,} characters; the limit is {MAX_STRING_CHARS:,}.",
            pos,
        )
    if isinstance(v, (list, tuple, dict, set, frozenset)) and len(v) > MAX_COLLECTION_ITEMS:
        raise EvalError(
            "Value too large",
            f"This expression produced a collection of {len(v):,} elements; the limit is "
            f"{MAX_COLLECTION_ITEMS:,}.",
            pos,
        )
    return value


def suggest(name: str, options: Any) -> str:
    m = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f' Did you mean "{m[0]}"?' if m else ""


def render(v: Any) -> str:
    """A value inside a string template."""
    if isinstance(v, (dict, list)):
        raise EvalError(
            "Invalid template interpolation value",
            f"Cannot include a {type_name(v)} value in a string template; a string is required."
            " Use jsonencode() or join() to turn it into a string.",
        )
    if v is None:
        raise EvalError(
            "Invalid template interpolation value",
            "The expression result is null. Cannot include a null value in a string template.",
        )
    return to_str(v)


class Evaluator:
    """Evaluates expressions. `base_dir` anchors file functions; `tainted` is set when an
    expression read a value that failed earlier (so callers can avoid cascading errors)."""

    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir or Path.cwd()
        self.tainted = False
        self._dispatch: dict[type, Callable[[Any, Scope], Any]] = {
            A.Literal: self._literal,
            A.Template: self._template,
            A.TupleExpr: self._tuple,
            A.ObjectExpr: self._object,
            A.Traversal: self._traversal,
            A.Relative: self._relative,
            A.Splat: self._splat,
            A.FuncCall: self._call,
            A.Unary: self._unary,
            A.Binary: self._binary,
            A.Conditional: self._conditional,
            A.ForExpr: self._for,
        }

    def eval(self, node: A.Expr, scope: Scope) -> Any:
        try:
            return self._dispatch[type(node)](node, scope)
        except EvalError as e:
            if e.pos is None:
                e.pos = node.pos
            raise
        except RecursionError:
            raise EvalError(
                "Expression too complex", "The expression nests too deeply to evaluate.", node.pos
            ) from None

    # ---- leaves ---------------------------------------------------------------------------

    def _literal(self, n: A.Literal, scope: Scope) -> Any:
        return n.value

    def _tuple(self, n: A.TupleExpr, scope: Scope) -> Any:
        return [self.eval(x, scope) for x in n.items]

    def _object(self, n: A.ObjectExpr, scope: Scope) -> Any:
        out: dict[str, Any] = {}
        for k, v in n.items:
            if isinstance(k, A.Literal) and isinstance(k.value, str):
                key: Any = k.value
            else:
                key = self.eval(k, scope)
                if key is UNKNOWN:
                    return UNKNOWN
                key, _ = (key.value, True) if isinstance(key, Sensitive) else (key, False)
                if key is None:
                    raise EvalError("Invalid object key", "An object key must not be null.", k.pos)
                key = to_str(key, "object key")
            out[key] = self.eval(v, scope)
        return out

    # ---- templates ------------------------------------------------------------------------

    def _template(self, n: A.Template, scope: Scope) -> Any:
        parts = n.parts
        if len(parts) == 1 and not isinstance(parts[0], (str, A.TemplateIf, A.TemplateFor)):
            return self.eval(parts[0], scope)
        out: list[str] = []
        sens = [False]
        if not self._render_parts(parts, scope, out, sens):
            return UNKNOWN
        return mark(check_size("".join(out), n.pos), sens[0])

    def _render_parts(self, parts: list[Any], scope: Scope, out: list[str], sens: list[bool]) -> bool:
        for p in parts:
            if isinstance(p, str):
                out.append(p)
            elif isinstance(p, A.TemplateIf):
                c = self.eval(p.cond, scope)
                if c is UNKNOWN:
                    return False
                if isinstance(c, Sensitive):
                    sens[0] = True
                    c = c.value
                try:
                    cb = to_bool(c, "condition")
                except EvalError as e:
                    e.pos = p.cond.pos
                    raise
                if not self._render_parts(p.then if cb else p.else_, scope, out, sens):
                    return False
            elif isinstance(p, A.TemplateFor):
                coll = self.eval(p.coll, scope)
                if coll is UNKNOWN:
                    return False
                if isinstance(coll, Sensitive):
                    sens[0] = True
                    coll = coll.value
                for k, v in self._iter(coll, p.coll.pos):
                    b = {p.val_var: v}
                    if p.key_var:
                        b[p.key_var] = k
                    if not self._render_parts(p.body, scope.child(b), out, sens):
                        return False
            else:
                v = self.eval(p, scope)
                if v is UNKNOWN:
                    return False
                if isinstance(v, Sensitive):
                    sens[0] = True
                    v = v.value
                if deep_unknown(v):
                    return False
                try:
                    out.append(render(v))
                except EvalError as e:
                    e.pos = p.pos
                    raise
        return True

    def render_template(self, text: str, variables: dict[str, Any], filename: str) -> Any:
        """templatefile(): the template sees only the given variables."""
        from .parser import ParseError
        from .templates import template_from_text

        try:
            t = template_from_text(text, (1, 1), (1, 1, 1, 1))
        except ParseError as e:
            raise FuncError(f"{filename}:{e.line},{e.column}: {e.summary}: {e.detail}") from None

        def no_refs(tr: A.Traversal) -> tuple[Any, int]:
            raise EvalError(
                "Invalid template variable",
                f"{filename}: there is no variable named {tr.root!r}"
                " among the variables given to templatefile.",
            )

        try:
            return self.eval(t, Scope(dict(variables), None, no_refs))
        except EvalError as e:
            raise FuncError(f"{filename}:{e.pos[0] if e.pos else 1}: {e.detail}") from None

    # ---- traversals -----------------------------------------------------------------------

    def _traversal(self, n: A.Traversal, scope: Scope) -> Any:
        found, v = scope.lookup(n.root)
        consumed = 0
        if not found:
            if scope.resolver is None:
                raise EvalError(
                    "Variables not allowed", f"Variables may not be used here ({n.root!r}).", n.pos
                )
            v, consumed = scope.resolver(n)
        return self.apply_steps(v, n.steps[consumed:], scope, n.pos)

    def _relative(self, n: A.Relative, scope: Scope) -> Any:
        return self.apply_steps(self.eval(n.source, scope), n.steps, scope, n.pos)

    def apply_steps(self, v: Any, steps: tuple[A.Step, ...], scope: Scope, pos: A.Pos4) -> Any:
        sens = False
        for kind, arg in steps:
            if v is UNKNOWN:
                return UNKNOWN
            if isinstance(v, Sensitive):
                sens = True
                v = v.value
            if kind == "a":
                if isinstance(v, dict):
                    if arg in v:
                        v = v[arg]
                    elif isinstance(v, ResourceRef):
                        v = UNKNOWN
                    else:
                        raise EvalError(
                            "Unsupported attribute",
                            f"This object does not have an attribute named {arg!r}." + suggest(arg, v.keys()),
                            pos,
                        )
                elif v is None:
                    raise EvalError(
                        "Attempt to get attribute from null value",
                        f"This value is null, so it does not have an attribute named {arg!r}.",
                        pos,
                    )
                elif isinstance(v, list):
                    raise EvalError(
                        "Unsupported attribute",
                        f"Cannot read {arg!r} of a list; use an index like [0] or a splat [*].{arg}.",
                        pos,
                    )
                else:
                    raise EvalError(
                        "Unsupported attribute",
                        f"Cannot read attribute {arg!r} of a {type_name(v)} value.",
                        pos,
                    )
            else:
                key = self.eval(arg, scope)
                if key is UNKNOWN:
                    return UNKNOWN
                if isinstance(key, Sensitive):
                    sens = True
                    key = key.value
                v = self._index(v, key, arg.pos)
        return mark(v, sens)

    def _index(self, v: Any, key: Any, pos: A.Pos4) -> Any:
        if isinstance(v, list):
            if isinstance(v, HclSet):
                raise EvalError(
                    "Invalid index",
                    "Elements of a set cannot be accessed by index; convert it with tolist() first.",
                    pos,
                )
            try:
                i = to_number(key, "index")
            except EvalError:
                raise EvalError(
                    "Invalid index", f"A list index must be a number, got {type_name(key)}.", pos
                ) from None
            if not isinstance(i, int) or i < 0 or i >= len(v):
                raise EvalError(
                    "Invalid index",
                    f"The given key does not identify an element in this collection"
                    f" value: index {key} out of range for a list of {len(v)}.",
                    pos,
                )
            return v[i]
        if isinstance(v, dict):
            k = to_str(key, "key")
            if k in v:
                return v[k]
            if isinstance(v, ResourceRef):
                return UNKNOWN
            raise EvalError(
                "Invalid index",
                f"The given key does not identify an element in this collection"
                f" value: no key {k!r}." + suggest(k, v.keys()),
                pos,
            )
        if v is None:
            raise EvalError(
                "Attempt to index null value", "This value is null, so it cannot be indexed.", pos
            )
        raise EvalError("Invalid index", f"A {type_name(v)} value cannot be indexed.", pos)

    def _splat(self, n: A.Splat, scope: Scope) -> Any:
        src = self.eval(n.source, scope)
        if src is UNKNOWN:
            return UNKNOWN
        sens = isinstance(src, Sensitive)
        if sens:
            src = src.value
        if src is None:
            return []
        items = src if isinstance(src, list) else [src]
        out = [self.apply_steps(x, n.steps, scope, n.pos) for x in items]
        return mark(out, sens)

    # ---- operators ------------------------------------------------------------------------

    def _unary(self, n: A.Unary, scope: Scope) -> Any:
        v = self.eval(n.operand, scope)
        if v is UNKNOWN:
            return UNKNOWN
        sens = isinstance(v, Sensitive)
        if sens:
            v = v.value
        if n.op == "!":
            return mark(not to_bool(v, "operand of !"), sens)
        return mark(norm_number(-to_number(v, "operand of -")), sens)

    def _binary(self, n: A.Binary, scope: Scope) -> Any:
        op = n.op
        a = self.eval(n.lhs, scope)
        if op in ("&&", "||"):
            sa = isinstance(a, Sensitive)
            av = a.value if sa else a
            if av is not UNKNOWN:
                ab = self._bool_operand(av, n.lhs.pos, op)
                if (op == "&&" and not ab) or (op == "||" and ab):
                    return mark(ab, sa)
            b = self.eval(n.rhs, scope)
            sb = isinstance(b, Sensitive)
            bv = b.value if sb else b
            if av is UNKNOWN or bv is UNKNOWN:
                return UNKNOWN
            return mark(self._bool_operand(bv, n.rhs.pos, op), sa or sb)
        b = self.eval(n.rhs, scope)
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        sens = False
        if op in ("==", "!="):
            if deep_unknown(a) or deep_unknown(b):
                return UNKNOWN
            sens = deep_sensitive(a) or deep_sensitive(b)
            eq = hcl_equal(strip_marks(a), strip_marks(b))
            return mark(eq if op == "==" else not eq, sens)
        if isinstance(a, Sensitive):
            sens, a = True, a.value
        if isinstance(b, Sensitive):
            sens, b = True, b.value
        try:
            x = to_number(a, f"left operand of {op}")
        except EvalError as e:
            raise EvalError(
                "Invalid operand", f"Unsuitable value for left operand: {e.detail}", n.lhs.pos
            ) from None
        try:
            y = to_number(b, f"right operand of {op}")
        except EvalError as e:
            raise EvalError(
                "Invalid operand", f"Unsuitable value for right operand: {e.detail}", n.rhs.pos
            ) from None
        if op == "+":
            r: Any = x + y
        elif op == "-":
            r = x - y
        elif op == "*":
            r = x * y
        elif op == "/":
            if y == 0:
                raise EvalError("Division by zero", "The right operand of / is zero.", n.pos)
            r = x / y
        elif op == "%":
            if y == 0:
                raise EvalError("Division by zero", "The right operand of % is zero.", n.pos)
            r = x % y
            if (r != 0) and ((r < 0) != (x < 0)):
                r -= y  # HCL's modulo keeps the sign of the dividend, like Go
        elif op == "<":
            return mark(x < y, sens)
        elif op == ">":
            return mark(x > y, sens)
        elif op == "<=":
            return mark(x <= y, sens)
        elif op == ">=":
            return mark(x >= y, sens)
        else:
            raise EvalError("Invalid operator", f"Unknown operator {op!r}.", n.pos)
        return mark(norm_number(r), sens)

    @staticmethod
    def _bool_operand(v: Any, pos: A.Pos4, op: str) -> bool:
        try:
            return to_bool(v, f"operand of {op}")
        except EvalError as e:
            raise EvalError("Invalid operand", e.detail, pos) from None

    def _conditional(self, n: A.Conditional, scope: Scope) -> Any:
        c = self.eval(n.cond, scope)
        if c is UNKNOWN:
            return UNKNOWN
        sens = isinstance(c, Sensitive)
        if sens:
            c = c.value
        try:
            cb = to_bool(c, "condition")
        except EvalError as e:
            raise EvalError(
                "Incorrect condition type", e.detail + " The condition must be true or false.", n.cond.pos
            ) from None
        return mark(self.eval(n.then if cb else n.else_, scope), sens)

    # ---- for expressions ------------------------------------------------------------------

    def _iter(self, coll: Any, pos: A.Pos4) -> Iterator[tuple[Any, Any]]:
        if isinstance(coll, HclSet):
            return ((x, x) for x in coll)
        if isinstance(coll, list):
            return iter(enumerate(coll))
        if isinstance(coll, dict):
            return ((k, coll[k]) for k in sorted(coll))
        raise EvalError(
            "Iteration over non-iterable value",
            f"A value of type {type_name(coll)} cannot be used as the collection in a 'for' expression.",
            pos,
        )

    def _for(self, n: A.ForExpr, scope: Scope) -> Any:
        coll = self.eval(n.coll, scope)
        if coll is UNKNOWN:
            return UNKNOWN
        sens = isinstance(coll, Sensitive)
        if sens:
            coll = coll.value
        is_obj = n.key_expr is not None
        out_l: list[Any] = []
        out_d: dict[str, Any] = {}
        unknown = False
        for k, v in self._iter(coll, n.coll.pos):
            b = {n.val_var: v}
            if n.key_var:
                b[n.key_var] = k
            s = scope.child(b)
            if n.cond is not None:
                c = self.eval(n.cond, s)
                if c is UNKNOWN:
                    unknown = True
                    continue
                if isinstance(c, Sensitive):
                    sens, c = True, c.value
                try:
                    if not to_bool(c, "condition"):
                        continue
                except EvalError as e:
                    raise EvalError("Invalid 'for' condition", e.detail, n.cond.pos) from None
            val = self.eval(n.val_expr, s)
            if not is_obj:
                out_l.append(val)
                continue
            assert n.key_expr is not None
            key = self.eval(n.key_expr, s)
            if key is UNKNOWN:
                unknown = True
                continue
            if isinstance(key, Sensitive):
                sens, key = True, key.value
            key = to_str(key, "object key")
            if n.group:
                out_d.setdefault(key, []).append(val)
            elif key in out_d:
                raise EvalError(
                    "Duplicate object key",
                    f"Two different items produced the key {key!r} in this 'for' expression. If"
                    " duplicates are expected, use the ellipsis (...) after the value expression"
                    " to enable grouping by key.",
                    n.key_expr.pos,
                )
            else:
                out_d[key] = val
        if unknown:
            return UNKNOWN
        return mark(out_d if is_obj else out_l, sens)

    # ---- function calls -------------------------------------------------------------------

    def _call(self, n: A.FuncCall, scope: Scope) -> Any:
        name = n.name
        if name in ("try", "can"):
            return self._try_can(n, scope)
        if name in ("sensitive", "nonsensitive"):
            if len(n.args) != 1:
                raise EvalError(
                    "Invalid function argument", f'Function "{name}" takes exactly one argument.', n.pos
                )
            v = self.eval(n.args[0], scope)
            return (
                Sensitive(v)
                if name == "sensitive" and v is not UNKNOWN
                else (strip_marks(v) if name == "nonsensitive" else v)
            )
        f = FUNCTIONS.get(name)
        if f is None:
            raise EvalError(
                "Call to unknown function",
                f'There is no function named "{name}".'
                + suggest(name, list(FUNCTIONS) + list(SPECIAL_FUNCTIONS)),
                n.pos,
            )
        args = [Syntax(a, scope) if i in f.syntax_args else self.eval(a, scope) for i, a in enumerate(n.args)]
        if n.expand and args:
            last = args.pop()
            if last is UNKNOWN:
                return UNKNOWN
            if isinstance(last, Sensitive):
                last = last.value
                args.extend(Sensitive(x) for x in last) if isinstance(last, list) else None
            elif isinstance(last, list):
                args.extend(last)
            if not isinstance(last, list):
                raise EvalError(
                    "Invalid expanding argument value",
                    "The expanding argument (indicated by ...) must be of a tuple, list, or set type.",
                    n.args[-1].pos,
                )
        if len(args) < f.min_args:
            raise EvalError(
                "Not enough function arguments",
                f'Function "{name}" expects at least {f.min_args} argument(s); only {len(args)} given.',
                n.pos,
            )
        if f.max_args is not None and len(args) > f.max_args:
            raise EvalError(
                "Too many function arguments",
                f'Function "{name}" expects at most {f.max_args} argument(s); {len(args)} given.',
                n.pos,
            )
        if f.raw:
            pass  # it sees marks and unknowns itself
        elif f.shallow_unknown:
            if any(a is UNKNOWN for a in args):
                return UNKNOWN
        elif any(deep_unknown(a) for a in args):
            return UNKNOWN
        sens = not f.raw and any(deep_sensitive(a) for a in args)
        if sens:
            args = [strip_marks(a) for a in args]
        try:
            r = f.fn(self, *args)
        except (FuncError, EvalError) as e:
            msg = e.detail if isinstance(e, EvalError) else str(e)
            raise EvalError(
                "Error in function call", f'Call to function "{name}" failed: {msg}', n.pos
            ) from None
        except (TypeError, ValueError, OverflowError, RecursionError) as e:
            raise EvalError(
                "Invalid function argument", f'Call to function "{name}" failed: {e}', n.pos
            ) from None
        except MemoryError:
            raise EvalError(
                "Value too large", f'Call to function "{name}" ran out of memory building its result.', n.pos
            ) from None
        return mark(check_size(r, n.pos), sens)

    def _try_can(self, n: A.FuncCall, scope: Scope) -> Any:
        if n.name == "can":
            if len(n.args) != 1:
                raise EvalError(
                    "Invalid function argument", 'Function "can" takes exactly one argument.', n.pos
                )
            try:
                v = self.eval(n.args[0], scope)
            except EvalError:
                return False
            return UNKNOWN if deep_unknown(v) else True
        if not n.args:
            raise EvalError(
                "Not enough function arguments", 'Function "try" needs at least one argument.', n.pos
            )
        last: EvalError | None = None
        for a in n.args:
            try:
                v = self.eval(a, scope)
            except EvalError as e:
                last = e
                continue
            return UNKNOWN if v is UNKNOWN else v
        assert last is not None
        raise EvalError(
            "Error in function call",
            "No expression in the try() call succeeded; the last error was: " + last.detail,
            n.pos,
        )


__all__ = ["Evaluator", "Resolver", "Scope", "render", "suggest"]
