"""The static graph: every declaration of a configuration (variables, locals, resource blocks,
outputs, module calls, per module path) and the references between them, from the
configuration alone, before any value is known.

It lives in `graph/` with the instance graph because it is the same kind of thing, built with the
same `Digraph`; `config/` (which may not import `graph/`) names the nodes (`config.nodes`) and
resolves each reference (`config.references`); `graph/walk.py` orders the nodes and hands them
to the evaluator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..config import ast as A
from ..config.loader import Config, ModuleConfig, ResourceBlock, rng
from ..config.nodes import NodeKey, Ref, node_name
from ..config.references import iter_refs, node_exprs, resolve_reference
from ..diagnostics import Diagnostics, SourceRange
from .digraph import Digraph


@dataclass
class StaticGraph:
    """`graph`: which declarations each one needs, labelled with the range of the reference;
    `refs`: every reference of each node, for the evaluator's instance-level dependencies."""

    graph: Digraph[NodeKey, SourceRange] = field(default_factory=Digraph)
    refs: dict[NodeKey, list[Ref]] = field(default_factory=dict)


def build_static_graph(cfg: Config, diags: Diagnostics) -> StaticGraph:
    """Nodes in declaration order, root module first; invalid references are reported."""
    return _Builder(cfg, diags).build()


class _Builder:
    def __init__(self, cfg: Config, diags: Diagnostics) -> None:
        self.mods: dict[tuple[str, ...], ModuleConfig] = {m.path: m for m in cfg.modules()}
        self.diags = diags
        self.out = StaticGraph()
        self.edges = self.out.graph.deps

    def build(self) -> StaticGraph:
        edges, refs = self.edges, self.out.refs
        for mc in self.mods.values():
            mp = mc.path
            for v in mc.variables.values():
                k: NodeKey = (mp, "var", v.name)
                edges[k] = {}
                refs[k] = []
                if mp:
                    edges[k][(mp[:-1], "mod", mp[-1])] = v.range
            for loc in mc.locals.values():
                self.add((mp, "local", loc.name), [loc.expr], loc.filename, mc, None)
                if mp:  # a child's instances exist only once its call is expanded
                    edges[(mp, "local", loc.name)].setdefault((mp[:-1], "mod", mp[-1]), loc.range)
            for rb in mc.resources.values():
                self.add((mp, "res", rb.key), [rb.block], rb.filename, mc, rb)
                if mp:
                    edges[(mp, "res", rb.key)].setdefault((mp[:-1], "mod", mp[-1]), rb.range)
            for o in mc.outputs.values():
                k = (mp, "out", o.name)
                self.add(k, [x for x in (o.value, o.depends_on) if x is not None], o.filename, mc, None)
                if mp:
                    edges[k].setdefault((mp[:-1], "mod", mp[-1]), o.range)
            for call in mc.module_calls.values():
                exprs: list[A.Expr] = [a.expr for a in call.args.values()]
                exprs += [a.expr for a in (call.count, call.for_each, call.depends_on) if a is not None]
                self.add(
                    (mp, "mod", call.name),
                    exprs,
                    call.filename,
                    mc,
                    None,
                    each_ok=call.for_each is not None,
                    count_ok=call.count is not None,
                )
        return self.out

    def add(
        self,
        k: NodeKey,
        items: Sequence[A.Expr | A.Block],
        filename: str,
        mc: ModuleConfig,
        rb: ResourceBlock | None,
        each_ok: bool = False,
        count_ok: bool = False,
    ) -> None:
        if rb is not None:
            names = {a.name for a in rb.block.attributes}
            each_ok, count_ok = "for_each" in names, "count" in names
        deps: dict[NodeKey, SourceRange] = {}
        self.edges[k] = deps
        refs: list[Ref] = []
        for e in node_exprs(items):
            for t in iter_refs(e):
                target = resolve_reference(t, mc, filename, each_ok, count_ok, self.diags)
                if target is False or target is True:
                    continue
                refs.append((t, target, filename))
                if target is not None:
                    r = rng(filename, t.pos)
                    deps.setdefault(target, r)
                    if target[1] == "mod" and target[0] == mc.path:  # depends_on = [module.m]: all of it
                        self.module_subtree(deps, mc.path + (target[2],), r)
        self.out.refs[k] = refs

    def module_subtree(
        self, deps: dict[NodeKey, SourceRange], child: tuple[str, ...], r: SourceRange
    ) -> None:
        for mp, mc in self.mods.items():
            if mp[: len(child)] == child:
                for rk in mc.resources:
                    deps.setdefault((mp, "res", rk), r)
                for on in mc.outputs:
                    deps.setdefault((mp, "out", on), r)


def settings_nodes(sg: StaticGraph) -> set[NodeKey]:
    """Root variables, and root locals that need nothing but variables and locals: what
    the `mlrt { }` and `provider` blocks may refer to."""
    edges = sg.graph.deps
    ok: dict[NodeKey, bool] = {}

    def plain(k: NodeKey, seen: frozenset[NodeKey] = frozenset()) -> bool:
        if k in ok:
            return ok[k]
        if k[0] != () or k[1] not in ("var", "local") or k in seen:
            return False
        res = all(plain(d, seen | {k}) for d in edges.get(k, {}))
        ok[k] = res
        return res

    return {k for k in edges if plain(k)}


def report_cycles(sg: StaticGraph, stuck: set[NodeKey], diags: Diagnostics) -> None:
    """One error per cycle among `stuck`, naming its nodes, with the reference of each edge."""
    edges = sg.graph.deps
    for path in sg.graph.cycles(stuck):
        names = " -> ".join(node_name(n) for n in path)
        related = [edges[a][b] for a, b in zip(path, path[1:])]
        diags.add_error(
            f"Cycle: {names}",
            "These blocks refer to each other in a loop, so none can be evaluated first."
            " Break the cycle by removing one of the references (each is shown below).",
            related[0],
            related,
        )
