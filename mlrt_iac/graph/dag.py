"""The graph of resource instances: what the apply walk runs in order (and skips after a
failure), and what `mlrt graph` draws. An edge `a -> b` means "a must be done before b"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .digraph import Digraph

# Nodes are instance addresses; edges carry no label.
ResourceGraph = Digraph[str, None]


def build_graph(nodes: Iterable[str], edges: Mapping[str, Iterable[str]]) -> ResourceGraph:
    """`edges[b]` lists what b depends on; dependencies outside `nodes` are ignored."""
    g: ResourceGraph = Digraph()
    deps = g.deps
    for n in nodes:
        deps.setdefault(n, {})
    for b, ds in edges.items():
        if b not in deps:
            continue
        mine = deps[b]
        for a in ds:
            if a in deps and a != b:
                mine[a] = None
    return g


_ACTION_COLORS = {
    "create": "green",
    "update": "yellow",
    "replace": "orange",
    "delete": "red",
    "no-op": "gray",
}


def to_dot(graph: ResourceGraph, actions: Mapping[str, str] | None = None) -> str:
    """Graphviz DOT; with `actions`, nodes are coloured by planned action."""
    lines = ["digraph mlrt {", '  rankdir = "LR";', '  node [shape = box, fontname = "Helvetica"];']
    for n in sorted(graph.deps):
        attrs = [f'label = "{n}"']
        if actions is not None and n in actions:
            color = _ACTION_COLORS.get(actions[n], "black")
            attrs.append(f'color = "{color}"')
            attrs.append(f'xlabel = "{actions[n]}"')
        lines.append(f'  "{n}" [{", ".join(attrs)}];')
    for a, b in sorted(graph.edges()):
        lines.append(f'  "{a}" -> "{b}";')
    lines.append("}")
    return "\n".join(lines) + "\n"
