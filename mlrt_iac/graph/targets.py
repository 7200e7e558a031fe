"""`-target`: which declarations an evaluation needs for the targeted resources, and which
evaluated instances a targeted plan keeps. Addresses are `addrs.Address`, the one address type."""

from __future__ import annotations

from ..addrs import Address, matches_any
from ..config.instances import ResourceInstance
from ..config.loader import RESOURCE_TYPES
from ..config.nodes import NodeKey
from ..diagnostics import Diagnostics
from .static import StaticGraph


def target_address(text: str) -> Address | None:
    """A resource or module address of a known resource type, or None."""
    a = Address.try_parse(text, allow_module_only=True)
    if a is None or (not a.is_module_only and a.type not in RESOURCE_TYPES):
        return None
    keys = [k for _, k in a.module_path] + [a.key]
    if any(isinstance(k, int) and k < 0 for k in keys):
        return None  # an instance key is never negative
    return a


def select_targets(sg: StaticGraph, targets: list[str], diags: Diagnostics) -> tuple[set[NodeKey], list[str]]:
    """The nodes the targeted resources need (and outputs that need nothing more), and the
    targets that matched a resource block; the others are reported."""
    edges = sg.graph.deps
    roots: set[NodeKey] = set()
    found_targets: list[str] = []
    for t in targets:
        a = target_address(t)
        if a is None:
            diags.add_error(
                "Invalid target address",
                f'"{t}" is not a resource or module address, like'
                ' training.t, compute_pool.p[0] or module.team["a"].service.s.',
            )
            continue
        mp, res = a.module_names, a.local or None
        found = False
        for k in edges:
            if k[1] == "res" and (
                k[0] == mp and (res is None or k[2] == res) or res is None and k[0][: len(mp)] == mp
            ):
                roots.add(k)
                found = True
        if not found:
            diags.add_error("Invalid target", f'No resource in the configuration matches "{t}".')
            continue
        found_targets.append(t)
    needed: set[NodeKey] = set()
    stack = list(roots)
    while stack:
        k = stack.pop()
        if k in needed:
            continue
        needed.add(k)
        stack.extend(edges.get(k, {}))
        if k[0]:  # a node inside a module needs the module call (expansion)
            stack.append((k[0][:-1], "mod", k[0][-1]))
    # outputs whose every dependency is evaluated come along
    for k, deps in edges.items():
        if k[1] == "out" and all(d in needed or d[1] == "out" for d in deps):
            needed.add(k)
    return needed, found_targets


def keep_targeted(instances: list[ResourceInstance], targets: list[str]) -> list[ResourceInstance]:
    """The instances a target contains, and every instance they depend on, transitively."""
    by_addr = {i.address: i for i in instances}
    keep: set[str] = set()
    stack = [a for a in by_addr if matches_any(a, targets)]
    while stack:
        a = stack.pop()
        if a in keep:
            continue
        keep.add(a)
        stack.extend(by_addr[a].depends_on if a in by_addr else ())
    return [i for i in instances if i.address in keep]
