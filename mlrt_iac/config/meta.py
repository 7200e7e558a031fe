"""Meta-arguments of resource blocks and module calls: `count`/`for_each` expansion, `provider`,
`lifecycle` and `timeouts` (with `parse_duration`). `depends_on` has no value: it only adds edges
to the static graph, so here it is merely left out of a resource's attributes (`META_ATTRS`).
"""

from __future__ import annotations

import re
from typing import Any

from ..values import UNKNOWN, Sensitive
from . import ast as A
from .conditions import CONDITION_BLOCKS, parse_condition
from .context import EvalContext, ModuleInstance
from .expr import suggest
from .instances import Lifecycle
from .loader import RESOURCE_TYPES, rng
from .nodes import key_str
from .scope import Scope
from .valueops import EvalError, HclSet, strip_marks, to_str, type_name

META_ATTRS = ("provider", "count", "for_each", "depends_on")
# Instances one block may expand to. Far above any real configuration, low enough that a typo or
# an attack (count = 1e35) is an error on the count's line instead of exhausting memory.
MAX_INSTANCES = 25_000
META_BLOCKS = ("lifecycle", "timeouts")
_DUR_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_LIFECYCLE_ARGS = ("prevent_destroy", "create_before_destroy", "ignore_changes", "replace_triggered_by")

# (mode, [(instance key, extra scope bindings)]); mode is "single", "count" or "for_each".
Expansion = tuple[str, list[tuple[int | str | None, dict[str, Any]]]]


def parse_duration(s: str) -> float | None:
    """Seconds in "30s", "10m", "1h30m", "500ms"; None when `s` is not such a duration."""
    pos = 0
    total = 0.0
    for m in _DUR_RE.finditer(s):
        if m.start() != pos:
            return None
        n = float(m.group(1))
        total += n * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[m.group(2)]
        pos = m.end()
    return total if pos == len(s) and s else None


def expand(
    ctx: EvalContext,
    mi: ModuleInstance,
    count: A.Attribute | None,
    for_each: A.Attribute | None,
    filename: str,
    what: str,
) -> Expansion | None:
    """The instances `count` or `for_each` asks for; None when the value is invalid (reported)."""
    scope = ctx.scope_for(mi)
    if count is not None:
        v, bad = ctx.try_eval(count.expr, scope, filename)
        if bad:
            return None
        v = strip_marks(v)
        if v is UNKNOWN:
            ctx.diags.add_error(
                "Invalid count argument",
                f'The "count" value of {what} depends on values that cannot be determined until'
                " apply, so mlrt cannot predict how many instances will be created. To work"
                " around this, use -target to apply the resource it depends on first.",
                rng(filename, count.expr.pos),
            )
            return None
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or v < 0
            or v != v  # NaN
            or v in (float("inf"), float("-inf"))
            or int(v) != v
        ):
            ctx.diags.add_error(
                "Invalid count argument",
                f"The count argument must be a whole number of zero or more, got {type_name(v)} {v!r}.",
                rng(filename, count.expr.pos),
            )
            return None
        if v > MAX_INSTANCES:
            ctx.diags.add_error(
                "Invalid count argument",
                f"count = {_short(v)} is more than the {MAX_INSTANCES:,} instances one block may have. "
                "Split the block, or check the expression that computes the count.",
                rng(filename, count.expr.pos),
            )
            return None
        return "count", [(i, {"count": {"index": i}}) for i in range(int(v))]
    if for_each is not None:
        expansion = _expand_for_each(ctx, for_each, scope, filename, what)
        if expansion is not None and len(expansion[1]) > MAX_INSTANCES:
            ctx.diags.add_error(
                "Invalid for_each argument",
                f"for_each has {len(expansion[1]):,} elements, more than the {MAX_INSTANCES:,} instances one "
                "block may have. Split the block, or check the expression.",
                rng(filename, for_each.expr.pos),
            )
            return None
        return expansion
    return "single", [(None, {})]


def _short(v: float) -> str:
    text = str(v)
    return text if len(text) <= 20 else text[:8] + f"...({len(text)} digits)"


def _expand_for_each(
    ctx: EvalContext, for_each: A.Attribute, scope: Scope, filename: str, what: str
) -> Expansion | None:
    v, bad = ctx.try_eval(for_each.expr, scope, filename)
    if bad:
        return None
    if isinstance(v, Sensitive):
        ctx.diags.add_error(
            "Invalid for_each argument",
            "Sensitive values, or values derived from sensitive values, cannot be used as"
            " for_each arguments: the keys would be shown in every address.",
            rng(filename, for_each.expr.pos),
        )
        return None
    if v is UNKNOWN or (isinstance(v, list) and any(x is UNKNOWN for x in v)):
        ctx.diags.add_error(
            "Invalid for_each argument",
            f'The "for_each" value of {what} depends on resource attributes that cannot be'
            " determined until apply, so mlrt cannot predict how many instances will be"
            " created. The value is known only after apply; use -target to apply the"
            " resource it depends on first.",
            rng(filename, for_each.expr.pos),
        )
        return None
    if isinstance(v, dict):
        return "for_each", [
            (str(kk), {"each": {"key": str(kk), "value": vv}}) for kk, vv in sorted(v.items())
        ]
    if isinstance(v, HclSet) and all(isinstance(x, str) for x in v):
        return "for_each", [(x, {"each": {"key": x, "value": x}}) for x in v]
    kind = "set of " + type_name(v[0]) if isinstance(v, HclSet) and v else type_name(v)
    ctx.diags.add_error(
        "Invalid for_each argument",
        'The given "for_each" argument value is unsuitable: the "for_each" argument must be'
        f" a map, or set of strings, and you have provided a value of type {kind}."
        + (" Convert a list with toset()." if type_name(v) == "tuple" else ""),
        rng(filename, for_each.expr.pos),
    )
    return None


def provider_of(ctx: EvalContext, b: A.Block, fn: str) -> tuple[str, bool]:
    """The provider key of a resource block, and whether `provider = ...` was written."""
    for a in b.attributes:
        if a.name == "provider":
            e = a.expr
            if isinstance(e, A.Traversal) and len(e.steps) <= 1 and all(s[0] == "a" for s in e.steps):
                key = e.root + ("." + e.steps[0][1] if e.steps else "")
                if e.steps and key not in declared_providers(ctx):
                    ctx.err(
                        "Provider configuration not present",
                        f'The provider configuration "{key}" is not declared. Add provider "{e.root}"'
                        f' {{ alias = "{e.steps[0][1]}" }} to the root module.',
                        fn,
                        a.pos,
                    )
                return key, True
            ctx.err(
                "Invalid provider reference",
                "The provider argument takes a provider name and an optional alias, like ray or ray.big"
                " (not a string).",
                fn,
                e.pos,
            )
            return ctx.settings.default_provider, True
    return ctx.settings.default_provider, False


def declared_providers(ctx: EvalContext) -> set[str]:
    """`NAME` or `NAME.ALIAS` of every provider block of the root module."""
    out = set()
    for blk, _ in ctx.cfg.root.providers:
        alias = next(
            (a.expr.value for a in blk.attributes if a.name == "alias" and isinstance(a.expr, A.Literal)),
            None,
        )
        out.add(blk.labels[0] + (f".{alias}" if alias else ""))
    return out


def lifecycle_of(ctx: EvalContext, b: A.Block, fn: str, mi: ModuleInstance) -> Lifecycle:
    lc = [s for s in b.blocks if s.type == "lifecycle"]
    if not lc:
        return Lifecycle()
    opts: dict[str, Any] = {}
    conditions = []
    for sub in lc[0].blocks:
        if sub.type in CONDITION_BLOCKS:
            cond = parse_condition(ctx, sub, fn)
            if cond is not None:
                conditions.append(cond)
        else:
            ctx.err(
                "Unsupported block type",
                f'Blocks of type "{sub.type}" are not expected in a lifecycle block;'
                " only precondition and postcondition.",
                fn,
                sub.pos,
            )
    opts["conditions"] = tuple(conditions)
    for a in lc[0].attributes:
        e = a.expr
        if a.name in ("prevent_destroy", "create_before_destroy"):
            v, bad = ctx.try_eval(e, Scope(), fn)
            if not bad and not isinstance(v, bool):
                ctx.err("Invalid value", f'"{a.name}" must be true or false.', fn, a.pos)
            elif not bad:
                opts[a.name] = v
        elif a.name == "ignore_changes":
            if isinstance(e, A.Traversal) and e.root == "all" and not e.steps:
                opts[a.name] = ("*",)
            elif isinstance(e, A.TupleExpr) and all(isinstance(x, A.Traversal) for x in e.items):
                opts[a.name] = tuple(traversal_text(ctx, x, None) for x in e.items)  # type: ignore[arg-type]
            else:
                ctx.err(
                    "Invalid ignore_changes",
                    "ignore_changes takes a list of attribute names, like"
                    " [comment, scaling.num_nodes], or the keyword all.",
                    fn,
                    e.pos,
                )
        elif a.name == "replace_triggered_by":
            if isinstance(e, A.TupleExpr) and all(
                isinstance(x, A.Traversal) and x.root in RESOURCE_TYPES for x in e.items
            ):
                opts[a.name] = tuple(
                    mi.prefix() + traversal_text(ctx, x, ctx.scope_for(mi))  # type: ignore[arg-type]
                    for x in e.items
                )
            else:
                ctx.err(
                    "Invalid replace_triggered_by",
                    "replace_triggered_by takes a list of resource"
                    " references, like [training.t] or [training.t.model_uri].",
                    fn,
                    e.pos,
                )
        else:
            ctx.err(
                "Unsupported argument",
                f'An argument named "{a.name}" is not expected in a lifecycle block.'
                + suggest(a.name, _LIFECYCLE_ARGS),
                fn,
                a.pos,
            )
    return Lifecycle(**opts)


def traversal_text(ctx: EvalContext, t: A.Traversal, scope: Scope | None) -> str:
    """`a.b[0]` as text; index expressions are evaluated in `scope` (or written `[*]`)."""
    out = t.root
    for kind, arg in t.steps:
        if kind == "a":
            out += "." + arg
        elif isinstance(arg, A.Literal):
            out += key_str(arg.value)
        elif scope is not None:
            try:
                v = strip_marks(ctx.ev.eval(arg, scope))
                out += key_str(v if isinstance(v, (int, str)) else to_str(v))
            except EvalError:
                out += "[*]"
        else:
            out += "[*]"
    return out


def timeouts_of(ctx: EvalContext, b: A.Block, fn: str) -> dict[str, float]:
    """Seconds per operation from the `timeouts { }` blocks."""
    out: dict[str, float] = {}
    for blk in b.blocks:
        if blk.type != "timeouts":
            continue
        for a in blk.attributes:
            if a.name not in ("create", "update", "delete"):
                ctx.err(
                    "Unsupported argument",
                    f'An argument named "{a.name}" is not expected in a timeouts'
                    " block; use create, update or delete.",
                    fn,
                    a.pos,
                )
                continue
            v, bad = ctx.try_eval(a.expr, Scope(), fn)
            secs = parse_duration(v) if isinstance(v, str) else None
            if secs is None:
                if not bad:
                    ctx.err(
                        "Invalid duration",
                        f'"{a.name}" must be a duration like "30s", "10m" or "1h30m".',
                        fn,
                        a.expr.pos,
                    )
                continue
            out[a.name] = secs
    return out
