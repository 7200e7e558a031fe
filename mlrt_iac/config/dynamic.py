"""`dynamic "NAME" { for_each iterator labels content {} }`: one NAME block per element, as in
Terraform. The iterator (NAME unless `iterator` renames it) has `key` (index or map key) and
`value`; `labels` gives each generated block its labels. A for_each whose value is unknown yields
no block here (the plan sees the enclosing block's arguments as they are known)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..values import UNKNOWN
from . import ast as A
from .context import EvalContext
from .scope import Scope
from .valueops import HclSet, strip_marks, type_name

_ARGS = ("for_each", "iterator", "labels")


def dynamic_iterator(b: A.Block) -> str:
    """The iterator name a dynamic block binds in its `content` and `labels`."""
    for a in b.attributes:
        if a.name == "iterator" and isinstance(a.expr, A.Traversal) and not a.expr.steps:
            return a.expr.root
    return b.labels[0] if b.labels else "dynamic"


def expand_dynamic(
    ctx: EvalContext, b: A.Block, scope: Scope, fn: str
) -> Iterator[tuple[list[str], A.Block, Scope]]:
    """(labels, content block, scope with the iterator) for each element of `for_each`."""
    if len(b.labels) != 1:
        ctx.err(
            "Invalid dynamic block",
            'A dynamic block takes exactly one label: the type of the blocks it makes, like dynamic "rule".',
            fn,
            b.pos,
        )
        return
    attrs = {a.name: a for a in b.attributes}
    for a in b.attributes:
        if a.name not in _ARGS:
            ctx.err(
                "Unsupported argument",
                f'An argument named "{a.name}" is not expected in a dynamic block;'
                " only for_each, iterator and labels (and a content block).",
                fn,
                a.pos,
            )
            return
    it = attrs.get("iterator")
    if it is not None and not (isinstance(it.expr, A.Traversal) and not it.expr.steps):
        ctx.err("Invalid dynamic iterator", "iterator takes a bare name, like iterator = rule.", fn, it.pos)
        return
    contents = [s for s in b.blocks if s.type == "content"]
    others = [s for s in b.blocks if s.type != "content"]
    if others:
        ctx.err(
            "Unsupported block type",
            f'Blocks of type "{others[0].type}" are not expected in a dynamic block; only content.',
            fn,
            others[0].pos,
        )
        return
    if len(contents) != 1 or "for_each" not in attrs:
        missing = "a for_each argument" if "for_each" not in attrs else "exactly one content block"
        ctx.err("Invalid dynamic block", f"A dynamic block needs {missing}.", fn, b.pos)
        return
    coll, bad = ctx.try_eval(attrs["for_each"].expr, scope, fn)
    coll = strip_marks(coll)
    if bad or coll is UNKNOWN:
        return
    items: list[tuple[Any, Any]]
    if isinstance(coll, dict):
        items = sorted(coll.items())
    elif isinstance(coll, list):
        items = list(enumerate(coll)) if not _is_set(coll) else [(v, v) for v in coll]
    else:
        ctx.err(
            "Invalid dynamic for_each value",
            f"Cannot use a {type_name(coll)} value in for_each. An iterable collection is required.",
            fn,
            attrs["for_each"].pos,
        )
        return
    name = dynamic_iterator(b)
    for key, value in items:
        inner = scope.child({name: {"key": key, "value": value}})
        labels: list[str] = []
        if "labels" in attrs:
            lv, lbad = ctx.try_eval(attrs["labels"].expr, inner, fn)
            lv = strip_marks(lv)
            if lbad:
                return
            if not isinstance(lv, list) or not all(isinstance(x, str) for x in lv):
                ctx.err(
                    "Invalid dynamic labels", "labels must be a list of strings.", fn, attrs["labels"].pos
                )
                return
            labels = list(lv)
        yield labels, contents[0], inner


def _is_set(v: list[Any]) -> bool:
    return isinstance(v, HclSet)
