"""Module calls: expand a call's count/for_each into child module instances and evaluate the
arguments each child's variables receive (with the resource instances they depend on)."""

from __future__ import annotations

from .context import EvalContext, ModuleInstance
from .loader import ModuleCall
from .meta import expand
from .nodes import NodeKey, Ref, key_str
from .references import iter_refs


def eval_mod(ctx: EvalContext, mi: ModuleInstance, k: NodeKey) -> None:
    call: ModuleCall = mi.mc.module_calls[k[2]]
    mi.children[call.name] = []
    mi.child_mode[call.name] = "single"
    kk = ("mod", call.name)
    mi.deps[kk] = ctx.deps_of(mi, k)
    if call.child is None:
        mi.failed.add(kk)
        return
    what = f"{mi.prefix()}module.{call.name}"
    exp = expand(ctx, mi, call.count, call.for_each, call.filename, what)
    if exp is None:
        mi.failed.add(kk)
        return
    mode, keys = exp
    mi.child_mode[call.name] = mode
    lst = ctx.instances.setdefault(mi.mc.path + (call.name,), [])
    node_refs = ctx.refs[k]
    for key, extra in keys:
        addr = f"{mi.prefix()}module.{call.name}" + ("" if key is None else key_str(key))
        child = ModuleInstance(addr, call.child, mi)
        scope = ctx.scope_for(mi, extra)
        for an, a in call.args.items():
            if an not in call.child.variables:
                continue
            v, bad = ctx.try_eval(a.expr, scope, call.filename)
            refs: list[Ref] = [
                (t, tg, call.filename) for t in iter_refs(a.expr) for tt, tg, _ in node_refs if tt is t
            ]
            child.pending_args[an] = (v, ctx.deps_of(mi, k, refs), bad)
        mi.children[call.name].append((key, child))
        lst.append(child)
