"""A thin layer over networkx: edges come from references and `depends_on`.

An edge `a -> b` means "a must be done before b" (b depends on a). Destroy walks the reverse.
networkx is imported when a graph is first built: importing it costs half a second, which
commands that never build one (validate, output, state ...) should not pay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config.instances import ResourceInstance
from ..diagnostics import Diagnostic, SourceRange, error

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class ResourceGraph:
    graph: nx.DiGraph[str]

    def generations(self) -> list[list[str]]:
        """Topological generations: every node of a generation can run in parallel."""
        import networkx as nx

        return [sorted(g) for g in nx.topological_generations(self.graph)]

    def order(self) -> list[str]:
        import networkx as nx

        return list(nx.lexicographical_topological_sort(self.graph))

    def dependencies(self, node: str) -> set[str]:
        return set(self.graph.predecessors(node))

    def dependents(self, node: str) -> set[str]:
        return set(self.graph.successors(node))

    def ancestors(self, nodes: Iterable[str]) -> set[str]:
        import networkx as nx

        out: set[str] = set()
        for n in nodes:
            if n in self.graph:
                out |= nx.ancestors(self.graph, n)
                out.add(n)
        return out

    def descendants(self, nodes: Iterable[str]) -> set[str]:
        import networkx as nx

        out: set[str] = set()
        for n in nodes:
            if n in self.graph:
                out |= nx.descendants(self.graph, n)
                out.add(n)
        return out

    def find_cycle(self) -> list[str] | None:
        import networkx as nx

        try:
            edges = nx.find_cycle(self.graph)
        except nx.NetworkXNoCycle:
            return None
        return [e[0] for e in edges] + [edges[0][0]]


def build_graph(nodes: Iterable[str], edges: Mapping[str, Iterable[str]]) -> ResourceGraph:
    """`edges[b]` lists what b depends on; dependencies outside `nodes` are ignored."""
    import networkx as nx

    g: nx.DiGraph[str] = nx.DiGraph()
    node_set = set(nodes)
    g.add_nodes_from(node_set)
    for b, deps in edges.items():
        if b not in node_set:
            continue
        for a in deps:
            if a in node_set and a != b:
                g.add_edge(a, b)
    return ResourceGraph(g)


def cycle_diagnostic(cycle: list[str], instances: Mapping[str, ResourceInstance]) -> Diagnostic:
    """'Cycle: a -> b -> a', with the range of each reference that makes an edge."""
    related: list[SourceRange] = []
    for a, b in zip(cycle, cycle[1:]):
        inst = instances.get(b)
        if inst is not None:
            related.append(inst.dependency_ranges.get(a, inst.range))
    first = instances.get(cycle[0])
    return error(
        "Cycle: " + " -> ".join(cycle),
        "These resources depend on each other, so none can be created first. Remove one of the "
        "references (or depends_on) on the path.",
        first.range if first else None,
        related,
    )


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
    for n in sorted(graph.graph.nodes):
        attrs = [f'label = "{n}"']
        if actions is not None and n in actions:
            color = _ACTION_COLORS.get(actions[n], "black")
            attrs.append(f'color = "{color}"')
            attrs.append(f'xlabel = "{actions[n]}"')
        lines.append(f'  "{n}" [{", ".join(attrs)}];')
    for a, b in sorted(graph.graph.edges):
        lines.append(f'  "{a}" -> "{b}";')
    lines.append("}")
    return "\n".join(lines) + "\n"
