"""Resource blocks: one `ResourceInstance` per count/for_each key, with its evaluated arguments,
meta-arguments and the instances it depends on; what other expressions then see for it is the
caller's `ResourceResolver` (attributes before apply, state or apply results after)."""

from __future__ import annotations

from typing import Any

from ..values import UNKNOWN
from .blocks import eval_body
from .conditions import check_conditions
from .context import EvalContext, ModuleInstance
from .instances import ResourceInstance
from .loader import ResourceBlock
from .meta import expand, lifecycle_of, provider_of, timeouts_of
from .nodes import NodeKey, key_str
from .valueops import ResourceRef


def eval_res(ctx: EvalContext, mi: ModuleInstance, k: NodeKey) -> None:
    rb: ResourceBlock = mi.mc.resources[k[2]]
    b = rb.block
    fn = rb.filename
    kk = ("res", rb.key)
    attrs = {a.name: a for a in b.attributes}
    base = f"{mi.prefix()}{rb.key}"
    mi.res_addrs[rb.key] = []
    if "count" in attrs and "for_each" in attrs:
        ctx.err(
            'Invalid combination of "count" and "for_each"',
            'The "count" and "for_each" meta-arguments are mutually exclusive; only one should be used.',
            fn,
            attrs["for_each"].pos,
        )
    exp = expand(
        ctx, mi, attrs.get("count"), attrs.get("for_each") if "count" not in attrs else None, fn, base
    )
    deps = ctx.deps_of(mi, k)
    mi.deps[kk] = deps
    if exp is None:
        mi.values[kk] = UNKNOWN
        mi.failed.add(kk)
        return
    mode, keys = exp
    provider, explicit = provider_of(ctx, b, fn)
    lifecycle = lifecycle_of(ctx, b, fn, mi)
    timeouts = timeouts_of(ctx, b, fn)
    vals: list[tuple[int | str | None, Any]] = []
    for key, extra in keys:
        addr = base + ("" if key is None else key_str(key))
        scope = ctx.scope_for(mi, extra)
        values, ranges = eval_body(ctx, b, scope, fn, "", top=True)
        inst = ResourceInstance(
            address=addr,
            type=rb.type,
            name=rb.name,
            index_key=key,
            module_address=mi.addr,
            provider=provider,
            attributes=values,
            range=rb.range,
            attribute_ranges=ranges,
            depends_on=set(deps[0]) - {addr},
            dependency_ranges={a: r for a, r in deps[1].items() if a != addr},
            lifecycle=lifecycle,
            timeouts=timeouts,
            provider_explicit=explicit,
        )
        ctx.out.instances.append(inst)
        mi.res_addrs[rb.key].append(addr)
        seen = dict(ctx.resolver(inst))
        if seen.get("name") is None:
            seen["name"] = values.get("name") if values.get("name") is not None else rb.name
        if lifecycle.conditions:
            # `self` reads like a reference to this resource: an attribute not known yet is unknown.
            inst.checks = check_conditions(ctx, lifecycle.conditions, scope, ResourceRef(addr, seen))
        vals.append((key, ResourceRef(addr, seen)))
    if mode == "single":
        mi.values[kk] = vals[0][1]
    elif mode == "count":
        mi.values[kk] = [v for _, v in vals]
    else:
        mi.values[kk] = {str(kx): v for kx, v in vals}
