"""The `mlrt { }` block (default provider, required providers, backend) and the root module's
`provider` blocks: what a command needs before it can touch any resource."""

from __future__ import annotations

from .blocks import eval_body
from .context import EvalContext
from .expr import suggest
from .instances import BackendConfig, ProviderConfig, Settings
from .loader import rng
from .scope import Scope


def eval_settings(ctx: EvalContext) -> None:
    """Evaluated first, before the graph: the default provider is needed by every resource."""
    sb = ctx.cfg.root.settings
    if sb is None:
        return
    blk, fn = sb
    s = Settings(range=rng(fn, blk.pos))
    for a in blk.attributes:
        if a.name == "default_provider":
            v, bad = ctx.try_eval(a.expr, Scope(), fn)
            if isinstance(v, str):
                s.default_provider = v
            elif not bad:
                ctx.err(
                    "Invalid value", 'default_provider must be a provider name string, like "ray".', fn, a.pos
                )
        else:
            ctx.err(
                "Unsupported argument",
                f'An argument named "{a.name}" is not expected in the mlrt block.'
                + suggest(a.name, ("default_provider",)),
                fn,
                a.pos,
            )
    for sub in blk.blocks:
        if sub.type == "required_providers" and not sub.labels:
            vals, _ = eval_body(ctx, sub, Scope(), fn, "", top=False)
            s.required_providers = vals
        elif sub.type == "backend" and len(sub.labels) == 1:
            vals, _ = eval_body(ctx, sub, Scope(), fn, "", top=False)
            s.backend = BackendConfig(sub.labels[0], vals, rng(fn, sub.pos))
        else:
            ctx.err(
                "Unsupported block type",
                f'Blocks of type "{sub.type}" are not expected in the mlrt block;'
                ' use required_providers { } or backend "TYPE" { }.',
                fn,
                sub.pos,
            )
    ctx.settings = s


def eval_providers(ctx: EvalContext) -> None:
    """Evaluated last: provider blocks may refer to root variables and locals."""
    root = ctx.instances[()][0]
    for blk, fn in ctx.cfg.root.providers:
        scope = ctx.scope_for(root)
        vals, _ = eval_body(ctx, blk, scope, fn, "", top=False)
        alias = vals.pop("alias", None)
        if alias is not None and not isinstance(alias, str):
            ctx.err("Invalid alias", "alias must be a string.", fn, blk.pos)
            alias = None
        pc = ProviderConfig(blk.labels[0], alias, vals, rng(fn, blk.pos))
        if pc.key in ctx.out.providers:
            prev = ctx.out.providers[pc.key]
            ctx.diags.add_error(
                "Duplicate provider configuration",
                f'A provider configuration "{pc.key}" was already given at {prev.range.filename}'
                f" line {prev.range.start.line}. Give one of them an alias.",
                pc.range,
                [prev.range],
            )
            continue
        ctx.out.providers[pc.key] = pc
