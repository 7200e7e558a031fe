"""A block's body -> values: arguments as they are, nested blocks as dicts (labelled ones keyed
by label, repeated ones as a list), with the source range of every argument and block. Used for
resources, providers and the `mlrt { }` settings alike."""

from __future__ import annotations

from typing import Any

from ..diagnostics import SourceRange
from . import ast as A
from .context import EvalContext
from .dynamic import expand_dynamic
from .loader import rng
from .meta import META_ATTRS, META_BLOCKS
from .scope import Scope


def eval_body(
    ctx: EvalContext, b: A.Block, scope: Scope, fn: str, prefix: str, top: bool
) -> tuple[dict[str, Any], dict[str, SourceRange]]:
    """`top`: the body of a resource block itself, whose meta-arguments are left out."""
    values: dict[str, Any] = {}
    ranges: dict[str, SourceRange] = {}
    for a in b.attributes:
        if top and a.name in META_ATTRS:
            continue
        if a.name in values:
            ctx.err("Duplicate argument", f'The argument "{a.name}" was already set.', fn, a.pos)
            continue
        v, _ = ctx.try_eval(a.expr, scope, fn)
        values[a.name] = v
        ranges[prefix + a.name] = rng(fn, a.pos)
    for sub in b.blocks:
        if top and sub.type in META_BLOCKS:
            continue
        if sub.type == "dynamic":
            for labels, content, cscope in expand_dynamic(ctx, sub, scope, fn):
                gen = A.Block(
                    sub.labels[0], labels, content.attributes, content.blocks, content.pos, content.body_pos
                )
                _put_block(ctx, gen, cscope, fn, prefix, values, ranges)
            continue
        _put_block(ctx, sub, scope, fn, prefix, values, ranges)
    return values, ranges


def _put_block(
    ctx: EvalContext,
    sub: A.Block,
    scope: Scope,
    fn: str,
    prefix: str,
    values: dict[str, Any],
    ranges: dict[str, SourceRange],
) -> None:
    """Evaluate one nested block into `values`: labelled ones keyed by label, repeated ones as a list."""
    path = prefix + sub.type + "".join("." + lb for lb in sub.labels)
    sv, sr = eval_body(ctx, sub, scope, fn, path + ".", top=False)
    ranges.update(sr)
    ranges[path] = rng(fn, sub.pos)
    if sub.labels:
        slot = values.setdefault(sub.type, {})
        if not isinstance(slot, dict):
            ctx.err(
                "Duplicate argument",
                f'"{sub.type}" is set both as an argument and as a block.',
                fn,
                sub.pos,
            )
            return
        for lb in sub.labels[:-1]:
            slot = slot.setdefault(lb, {})
        if sub.labels[-1] in slot:
            ctx.err(
                "Duplicate block",
                f'A {sub.type} block labelled "{".".join(sub.labels)}" was already declared in this block.',
                fn,
                sub.pos,
            )
        slot[sub.labels[-1]] = sv
    elif sub.type in values:
        prev = values[sub.type]
        values[sub.type] = (prev if isinstance(prev, list) else [prev]) + [sv]
    else:
        values[sub.type] = sv
