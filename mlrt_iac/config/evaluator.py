"""Evaluate the nodes of a configuration, in an order given by the caller.

The order (and which nodes: all, those a -target needs, or only what the settings need) comes
from the static graph in `graph/`, which this layer may not import: `graph/walk.py` builds the
graph, orders it and drives a `NodeEvaluator`. Each node kind has its evaluator in a module of its
own; `_DISPATCH` maps the kind to it. Locals and outputs, a few lines each, are here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..diagnostics import Diagnostics
from ..values import UNKNOWN, Sensitive
from .checks import eval_checks
from .context import EvalContext, ModuleInstance
from .instances import EvaluatedConfig, OutputValue, ResourceInstance, ResourceResolver
from .loader import Config
from .modules import eval_mod
from .nodes import NodeKey, Ref
from .resources import eval_res
from .settings import eval_providers, eval_settings
from .valueops import deep_sensitive
from .variable_eval import eval_var

NodeEval = Callable[[EvalContext, ModuleInstance, NodeKey], None]


def default_resolver(inst: ResourceInstance) -> Mapping[str, Any]:
    """What expressions see for a resource before apply: its arguments, with `name` defaulting to the label."""
    out = dict(inst.attributes)
    if out.get("name") is None:
        out["name"] = inst.name
    return out


def eval_local(ctx: EvalContext, mi: ModuleInstance, k: NodeKey) -> None:
    decl = mi.mc.locals[k[2]]
    v, bad = ctx.try_eval(decl.expr, ctx.scope_for(mi), decl.filename)
    kk = ("local", decl.name)
    mi.values[kk] = v
    mi.deps[kk] = ctx.deps_of(mi, k)
    if bad:
        mi.failed.add(kk)


def eval_out(ctx: EvalContext, mi: ModuleInstance, k: NodeKey) -> None:
    decl = mi.mc.outputs[k[2]]
    kk = ("out", decl.name)
    mi.deps[kk] = ctx.deps_of(mi, k)
    if decl.value is None:
        mi.values[kk] = UNKNOWN
        mi.failed.add(kk)
        return
    v, bad = ctx.try_eval(decl.value, ctx.scope_for(mi), decl.filename)
    if not bad and not decl.sensitive and deep_sensitive(v):
        ctx.diags.add_error(
            "Output refers to sensitive values",
            "To reduce the risk of accidentally exporting sensitive data, an output that"
            " contains sensitive values must be marked as such: add sensitive = true to"
            f' output "{decl.name}".',
            decl.range,
        )
        bad = True
    if bad:
        mi.failed.add(kk)
    if decl.sensitive and v is not UNKNOWN and mi.mc.path:
        v = Sensitive(v)
    mi.values[kk] = v
    if not mi.mc.path:
        ctx.out.outputs[decl.name] = OutputValue(decl.name, v, decl.sensitive, decl.description, decl.range)


_DISPATCH: dict[str, NodeEval] = {
    "var": eval_var,
    "local": eval_local,
    "res": eval_res,
    "out": eval_out,
    "mod": eval_mod,
}


class NodeEvaluator:
    """`eval_settings()` first (the default provider), then `run()` over the ordered nodes."""

    def __init__(
        self,
        cfg: Config,
        inputs: Mapping[str, Any],
        resolver: ResourceResolver,
        diags: Diagnostics,
        workspace: str = "default",
    ) -> None:
        self.ctx = EvalContext(cfg, inputs, resolver, diags, {}, workspace)

    def eval_settings(self) -> None:
        eval_settings(self.ctx)

    def run(
        self, order: Iterable[NodeKey], stuck: Iterable[NodeKey], refs: Mapping[NodeKey, list[Ref]]
    ) -> EvaluatedConfig:
        """Evaluate `order` for every instance of each node's module; `stuck` nodes (on a cycle,
        already reported) count as failed so that nothing that reads them reports again."""
        ctx = self.ctx
        ctx.refs = refs
        for mi_list in ctx.instances.values():
            for mi in mi_list:
                for k in stuck:
                    if k[0] == mi.mc.path:
                        mi.failed.add((k[1], k[2]))
        instances = ctx.instances
        for k in order:
            fn = _DISPATCH[k[1]]
            for mi in instances.get(k[0], ()):
                fn(ctx, mi, k)
        eval_checks(ctx)
        eval_providers(ctx)
        ctx.out.settings = ctx.settings
        return ctx.out
