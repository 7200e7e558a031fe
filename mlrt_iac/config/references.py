"""Static references: which declaration each `var.x`, `local.y`, `module.m.out`, `TYPE.NAME` of an
expression names, found from the configuration alone (before any value is known).

A reference to something undeclared is reported here, once, with a "did you mean"; the evaluator
then sees it as tainted and does not report it again. `graph/static.py` turns these references
into the edges of the static dependency graph.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..diagnostics import Diagnostics
from . import ast as A
from .dynamic import dynamic_iterator
from .expr import suggest
from .functions import FUNCTIONS
from .loader import RESOURCE_TYPES, ModuleConfig, rng
from .nodes import NodeKey

_SELF = frozenset({"self"})
_ROOTS = ("var", "local", "module", "each", "count", "path", "terraform", "mlrt", *RESOURCE_TYPES)


class Bound:
    """An expression in which some names are bound locally, not references: `self` in a
    postcondition, a dynamic block's iterator in its `content` and `labels`."""

    __slots__ = ("expr", "names")

    def __init__(self, expr: A.Expr, names: frozenset[str]) -> None:
        self.expr = expr
        self.names = names


def iter_refs(e: Any, bound: frozenset[str] = frozenset()) -> Iterator[A.Traversal]:
    """Every traversal in an expression whose root is not bound by an enclosing `for`."""
    if isinstance(e, Bound):
        yield from iter_refs(e.expr, bound | e.names)
    elif isinstance(e, A.Traversal):
        if e.root not in bound:
            yield e
        for kind, arg in e.steps:
            if kind == "i":
                yield from iter_refs(arg, bound)
    elif isinstance(e, A.Literal) or isinstance(e, str):
        return
    elif isinstance(e, A.FuncCall) and e.name in FUNCTIONS and FUNCTIONS[e.name].type_args:
        skip = FUNCTIONS[e.name].type_args  # convert(v, list(string)): `string` is a type
        for i, a in enumerate(e.args):
            if i not in skip:
                yield from iter_refs(a, bound)
    elif isinstance(e, A.ForExpr):
        yield from iter_refs(e.coll, bound)
        inner = bound | {e.val_var} | ({e.key_var} if e.key_var else set())
        for x in (e.key_expr, e.val_expr, e.cond):
            if x is not None:
                yield from iter_refs(x, inner)
    elif isinstance(e, A.TemplateFor):
        yield from iter_refs(e.coll, bound)
        inner = bound | {e.val_var} | ({e.key_var} if e.key_var else set())
        for part in e.body:
            yield from iter_refs(part, inner)
    elif isinstance(e, A.Node):
        for f in e._fields():
            if f != "pos":
                yield from iter_refs(getattr(e, f), bound)
    elif isinstance(e, (list, tuple)):
        for x in e:
            if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) and x[0] in ("a", "i"):
                if x[0] == "i":
                    yield from iter_refs(x[1], bound)
            else:
                yield from iter_refs(x, bound)


def node_exprs(items: Sequence[A.Expr | A.Block]) -> list[A.Expr | Bound]:
    """The expressions whose references a node depends on: expressions as given, and every
    argument of a block (nested blocks too) except `provider`; of the `lifecycle` block only
    `replace_triggered_by` (as in Terraform, a trigger is planned before what it triggers)."""
    out: list[A.Expr | Bound] = []
    for it in items:
        if isinstance(it, A.Block):
            _block_exprs(it, out)
        else:
            out.append(it)
    return out


def _block_exprs(b: A.Block, out: list[A.Expr | Bound]) -> None:
    for a in b.attributes:
        if a.name != "provider":
            out.append(a.expr)
    for sub in b.blocks:
        if sub.type == "lifecycle":
            # ignore_changes names attributes, not values; a trigger must be planned first; what
            # a condition reads must exist before it is checked (`self` is the resource itself).
            out.extend(a.expr for a in sub.attributes if a.name == "replace_triggered_by")
            for cond in sub.blocks:
                post = cond.type == "postcondition"
                out.extend(Bound(a.expr, _SELF) if post else a.expr for a in cond.attributes)
            continue
        if sub.type == "dynamic":
            names = frozenset({dynamic_iterator(sub)})
            inner: list[A.Expr | Bound] = []
            for a in sub.attributes:
                if a.name == "for_each":
                    out.append(a.expr)
                elif a.name == "labels":
                    inner.append(a.expr)
            for c in sub.blocks:
                _block_exprs(c, inner)
            out.extend(
                Bound(x.expr, x.names | names) if isinstance(x, Bound) else Bound(x, names) for x in inner
            )
            continue
        _block_exprs(sub, out)


def resolve_reference(
    t: A.Traversal, mc: ModuleConfig, filename: str, each_ok: bool, count_ok: bool, diags: Diagnostics
) -> NodeKey | None | bool:
    """The node a traversal refers to; None for context values; False when invalid (reported)."""
    root, steps, mp = t.root, t.steps, mc.path
    where = "the root module" if not mp else f"module.{'.module.'.join(mp)}"
    first = steps[0][1] if steps and steps[0][0] == "a" else None

    def err(summary: str, detail: str) -> bool:
        diags.add_error(summary, detail, rng(filename, t.pos))
        return False

    if root in ("var", "local", "module") and first is None:
        return err(
            "Invalid reference",
            f'The "{root}" object cannot be accessed directly. Instead, access one'
            f" of its attributes, like {root}.NAME.",
        )
    if root == "var":
        if first not in mc.variables:
            return err(
                "Reference to undeclared input variable",
                f'An input variable with the name "{first}" has not been declared in {where}.'
                + suggest(str(first), mc.variables)
                + f' Declare it with variable "{first}" {{}}.',
            )
        return (mp, "var", str(first))
    if root == "local":
        if first not in mc.locals:
            return err(
                "Reference to undeclared local value",
                f'A local value with the name "{first}" has not been declared in {where}.'
                + suggest(str(first), mc.locals),
            )
        return (mp, "local", str(first))
    if root == "module":
        call = mc.module_calls.get(str(first))
        if call is None:
            return err(
                "Reference to undeclared module",
                f'No module call named "{first}" is declared in {where}.'
                + suggest(str(first), mc.module_calls),
            )
        rest = steps[1:]
        if rest and rest[0][0] == "i":
            rest = rest[1:]
        if rest and rest[0][0] == "a" and call.child is not None:
            oname = rest[0][1]
            if oname not in call.child.outputs:
                return err(
                    "Unsupported attribute",
                    f'Module "{first}" has no output named "{oname}".' + suggest(oname, call.child.outputs),
                )
            return (mp + (str(first),), "out", oname)
        return (mp, "mod", str(first))
    if root in RESOURCE_TYPES:
        if first is None:
            return err(
                "Invalid reference",
                f"A reference to a resource type must be followed by at least one"
                f" attribute access, specifying the resource name, like {root}.NAME.",
            )
        key = f"{root}.{first}"
        if key not in mc.resources:
            return err(
                "Reference to undeclared resource",
                f'A {root} resource named "{first}" has not been declared in {where}.'
                + suggest(key, mc.resources),
            )
        return (mp, "res", key)
    if root == "each":
        if not each_ok:
            return err(
                'Reference to "each" in context without for_each',
                'The "each" object can be used only in "module" or resource blocks, and only when the'
                ' "for_each" argument is set.',
            )
        return None
    if root == "count":
        if not count_ok:
            return err(
                'Reference to "count" in non-counted context',
                'The "count" object can only be used in "module" and resource blocks when the "count"'
                " argument is set.",
            )
        return None
    if root == "self":
        return err(
            'Invalid "self" reference',
            'The "self" object can be used only in a resource\'s lifecycle postcondition blocks,'
            " where it is the resource itself.",
        )
    if root in ("terraform", "mlrt"):
        if first != "workspace":
            return err(
                f'Invalid "{root}" attribute',
                f'The "{root}" object does not have an attribute named "{first}". The only supported'
                f" attribute is {root}.workspace, the name of the currently-selected workspace."
                if first is not None
                else f'The "{root}" object cannot be accessed directly. The only supported attribute'
                f" is {root}.workspace, the name of the currently-selected workspace.",
            )
        return None
    if root == "path":
        if first not in ("module", "root", "cwd"):
            return err(
                'Invalid "path" attribute', 'The "path" object has the attributes "module", "root" and "cwd".'
            )
        return None
    if first is None:
        return err("Invalid reference", f'There is no variable named "{root}".' + suggest(root, _ROOTS))
    return err(
        "Reference to undeclared resource",
        f'A resource "{root}" "{first}" has not been declared in {where}, and "{root}" is not a'
        " resource type." + suggest(root, _ROOTS),
    )
