"""A small AST for HCL bodies and expressions.

Built once from python-hcl2's Lark tree (see parser.py) and cached on disk, so it is made of
plain `__slots__` classes with positional state: cheap to build, and cheap to encode as the
tagged JSON the parse cache stores (config/cache.py; never pickle: cache files are untrusted).
Every node carries `pos` = (line, column, end_line, end_column), 1-based; the file name lives
on the enclosing `File` so nodes stay small.
"""

from __future__ import annotations

from typing import Any, ClassVar, Union

Pos4 = tuple[int, int, int, int]


class Node:
    __slots__ = ("pos",)
    pos: Pos4
    _all_fields: ClassVar[tuple[str, ...]]  # every slot of the class and its bases, cached per class

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self._fields())

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for s, v in zip(self._fields(), state):
            object.__setattr__(self, s, v)

    @classmethod
    def _fields(cls) -> tuple[str, ...]:
        f: tuple[str, ...] | None = cls.__dict__.get("_all_fields")
        if f is None:
            names: list[str] = []
            for klass in reversed(cls.__mro__):
                names.extend(klass.__dict__.get("__slots__", ()))
            f = tuple(names)
            cls._all_fields = f
        return f

    def __repr__(self) -> str:
        inner = ", ".join(f"{s}={getattr(self, s)!r}" for s in self._fields() if s != "pos")
        return f"{type(self).__name__}({inner})"


# ---- expressions -------------------------------------------------------------------------


class Literal(Node):
    __slots__ = ("value",)

    def __init__(self, value: Any, pos: Pos4) -> None:
        self.value = value
        self.pos = pos


class Template(Node):
    """A quoted string or heredoc: literal strings and expression/directive parts."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[Union[str, Expr]], pos: Pos4) -> None:
        self.parts = parts
        self.pos = pos


class TemplateIf(Node):
    __slots__ = ("cond", "then", "else_")

    def __init__(
        self, cond: Expr, then: list[Union[str, Expr]], else_: list[Union[str, Expr]], pos: Pos4
    ) -> None:
        self.cond = cond
        self.then = then
        self.else_ = else_
        self.pos = pos


class TemplateFor(Node):
    __slots__ = ("key_var", "val_var", "coll", "body")

    def __init__(
        self, key_var: str | None, val_var: str, coll: Expr, body: list[Union[str, Expr]], pos: Pos4
    ) -> None:
        self.key_var = key_var
        self.val_var = val_var
        self.coll = coll
        self.body = body
        self.pos = pos


class TupleExpr(Node):
    __slots__ = ("items",)

    def __init__(self, items: list[Expr], pos: Pos4) -> None:
        self.items = items
        self.pos = pos


class ObjectExpr(Node):
    """`{ k = v }`: keys are expressions (a bare identifier key is a string Literal)."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[Expr, Expr]], pos: Pos4) -> None:
        self.items = items
        self.pos = pos


# A traversal step: ("a", name) attribute, ("i", expr) index.
Step = tuple[str, Any]


class Traversal(Node):
    """`root.a["b"][0]`: a variable root followed by attribute/index steps."""

    __slots__ = ("root", "steps")

    def __init__(self, root: str, steps: tuple[Step, ...], pos: Pos4) -> None:
        self.root = root
        self.steps = steps
        self.pos = pos


class Relative(Node):
    """Attribute/index steps applied to the result of any other expression: `f(x)[0].a`."""

    __slots__ = ("source", "steps")

    def __init__(self, source: Expr, steps: tuple[Step, ...], pos: Pos4) -> None:
        self.source = source
        self.steps = steps
        self.pos = pos


class Splat(Node):
    """`x[*].a` / `x.*.a`: apply `steps` to every element of `source`."""

    __slots__ = ("source", "steps")

    def __init__(self, source: Expr, steps: tuple[Step, ...], pos: Pos4) -> None:
        self.source = source
        self.steps = steps
        self.pos = pos


class FuncCall(Node):
    __slots__ = ("name", "args", "expand")

    def __init__(self, name: str, args: list[Expr], expand: bool, pos: Pos4) -> None:
        self.name = name
        self.args = args
        self.expand = expand
        self.pos = pos


class Unary(Node):
    __slots__ = ("op", "operand")

    def __init__(self, op: str, operand: Expr, pos: Pos4) -> None:
        self.op = op
        self.operand = operand
        self.pos = pos


class Binary(Node):
    __slots__ = ("op", "lhs", "rhs")

    def __init__(self, op: str, lhs: Expr, rhs: Expr, pos: Pos4) -> None:
        self.op = op
        self.lhs = lhs
        self.rhs = rhs
        self.pos = pos


class Conditional(Node):
    __slots__ = ("cond", "then", "else_")

    def __init__(self, cond: Expr, then: Expr, else_: Expr, pos: Pos4) -> None:
        self.cond = cond
        self.then = then
        self.else_ = else_
        self.pos = pos


class ForExpr(Node):
    """`[for k, v in c : v if cond]` (key_expr None) or `{for k, v in c : k => v... if cond}`."""

    __slots__ = ("key_var", "val_var", "coll", "key_expr", "val_expr", "cond", "group")

    def __init__(
        self,
        key_var: str | None,
        val_var: str,
        coll: Expr,
        key_expr: Expr | None,
        val_expr: Expr,
        cond: Expr | None,
        group: bool,
        pos: Pos4,
    ) -> None:
        self.key_var = key_var
        self.val_var = val_var
        self.coll = coll
        self.key_expr = key_expr
        self.val_expr = val_expr
        self.cond = cond
        self.group = group
        self.pos = pos


Expr = Union[
    Literal,
    Template,
    TemplateIf,
    TemplateFor,
    TupleExpr,
    ObjectExpr,
    Traversal,
    Relative,
    Splat,
    FuncCall,
    Unary,
    Binary,
    Conditional,
    ForExpr,
]


# ---- structure ---------------------------------------------------------------------------


class Attribute(Node):
    __slots__ = ("name", "expr")

    def __init__(self, name: str, expr: Expr, pos: Pos4) -> None:
        self.name = name
        self.expr = expr
        self.pos = pos


class Block(Node):
    """`type "label" ... { body }`; `pos` spans the header line (type and labels)."""

    __slots__ = ("type", "labels", "attributes", "blocks", "body_pos")

    def __init__(
        self,
        type: str,
        labels: list[str],
        attributes: list[Attribute],
        blocks: list[Block],
        pos: Pos4,
        body_pos: Pos4,
    ) -> None:
        self.type = type
        self.labels = labels
        self.attributes = attributes
        self.blocks = blocks
        self.pos = pos
        self.body_pos = body_pos


class File(Node):
    """A parsed file: its top-level attributes (only var-files use them) and blocks."""

    __slots__ = ("attributes", "blocks")

    def __init__(self, attributes: list[Attribute], blocks: list[Block]) -> None:
        self.attributes = attributes
        self.blocks = blocks
        self.pos = (1, 1, 1, 1)
