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


def dot_id(text: str) -> str:
    """A DOT quoted string: `module.team["a"].x` holds quotes, which must be escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: ResourceGraph, actions: Mapping[str, str] | None = None) -> str:
    """Graphviz DOT; with `actions`, nodes are coloured by planned action, named in the box."""
    lines = ["digraph mlrt {", '  rankdir = "LR";', '  node [shape = box, fontname = "Helvetica"];']
    for n in sorted(graph.deps):
        label = dot_id(n)
        attrs = []
        if actions is not None and n in actions:
            label = label[:-1] + f'\\n({actions[n]})"'  # inside the box: an xlabel floats off it
            attrs.append(f'color = "{_ACTION_COLORS.get(actions[n], "black")}"')
        lines.append(f"  {dot_id(n)} [{', '.join([f'label = {label}', *attrs])}];")
    for a, b in sorted(graph.edges()):
        lines.append(f"  {dot_id(a)} -> {dot_id(b)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
