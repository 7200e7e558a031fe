"""The one dependency graph of mlrt: nodes, the nodes each depends on, and why.

Both graphs of the engine are this class: the static graph of declarations (nodes are
`config.nodes.NodeKey`, an edge's label is the range of the reference that makes it) and the
graph of resource instances the apply walk and `mlrt graph` use (nodes are addresses, no label).
Plain dicts rather than networkx: the static graph is built on every command, for up to tens of
thousands of nodes, and must cost no more than the walk over the configuration that builds it.

Orders and cycles are deterministic: they follow the order in which nodes were added
(declaration order), never the iteration order of a set.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

N = TypeVar("N", bound=Hashable)
L = TypeVar("L")


class Digraph(Generic[N, L]):
    """`deps[n]` maps each node `n` depends on (must come before `n`) to the edge's label."""

    __slots__ = ("deps", "_dependents")

    def __init__(self) -> None:
        self.deps: dict[N, dict[N, L]] = {}
        self._dependents: dict[N, list[N]] | None = None

    def add_node(self, n: N) -> dict[N, L]:
        """Add `n` (if new) and return its dependency map, to add edges into."""
        self._dependents = None
        d = self.deps.get(n)
        if d is None:
            d = self.deps[n] = {}
        return d

    def __contains__(self, n: object) -> bool:
        return n in self.deps

    def __len__(self) -> int:
        return len(self.deps)

    def edges(self) -> Iterable[tuple[N, N]]:
        """`(a, b)` for every edge: a comes before b."""
        return ((a, b) for b, ds in self.deps.items() for a in ds)

    def dependencies(self, n: N) -> set[N]:
        return set(self.deps.get(n, ()))

    def descendants(self, roots: Iterable[N]) -> set[N]:
        """`roots` (those in the graph) and everything that depends on them, transitively."""
        if self._dependents is None:
            rev: dict[N, list[N]] = {n: [] for n in self.deps}
            for a, b in self.edges():
                if a in rev:
                    rev[a].append(b)
            self._dependents = rev
        out: set[N] = set()
        stack = [n for n in roots if n in self.deps]
        while stack:
            n = stack.pop()
            if n not in out:
                out.add(n)
                stack.extend(self._dependents[n])
        return out

    def order(self, needed: set[N] | None = None) -> tuple[list[N], set[N]]:
        """A topological order of `needed` (default: all nodes), ready nodes in the order they were
        added; and the nodes left out because they are on, or depend on, a cycle."""
        deps = self.deps
        nodes = [k for k in deps if needed is None or k in needed]
        nodeset = set(nodes)
        indeg = dict.fromkeys(nodes, 0)
        rdeps: dict[N, list[N]] = {k: [] for k in nodes}
        for k in nodes:
            for d in deps[k]:
                if d in nodeset and d != k:
                    indeg[k] += 1
                    rdeps[d].append(k)
        ready = [k for k in nodes if indeg[k] == 0 and k not in deps[k]]
        out: list[N] = []
        i = 0
        while i < len(ready):
            k = ready[i]
            i += 1
            out.append(k)
            for r in rdeps[k]:
                indeg[r] -= 1
                if indeg[r] == 0 and r not in deps[r]:
                    ready.append(r)
        return out, nodeset - set(out)

    def cycles(self, among: set[N] | None = None) -> list[list[N]]:
        """One cycle per strongly connected component of `among` (default: all nodes) that has
        one, as `[n0, n1, ..., n0]` where each node depends on the next. Components come in the
        order of their first-added node, and each cycle starts there."""
        deps = self.deps
        nodes = [n for n in deps if among is None or n in among]
        inside = set(nodes)
        rank = {n: i for i, n in enumerate(nodes)}
        out: list[list[N]] = []
        for comp in sorted(_components(nodes, inside, deps), key=lambda c: min(rank[n] for n in c)):
            start = min(comp, key=rank.__getitem__)
            if len(comp) == 1 and start not in deps[start]:
                continue
            out.append(_cycle_from(start, comp, deps))
        return out

    def find_cycle(self) -> list[N] | None:
        """The first cycle, or None."""
        _, stuck = self.order()
        found = self.cycles(stuck) if stuck else []
        return found[0] if found else None


def _components(nodes: list[N], inside: set[N], deps: dict[N, dict[N, L]]) -> list[set[N]]:
    """Strongly connected components (Tarjan's algorithm, without recursion)."""
    index: dict[N, int] = {}
    low: dict[N, int] = {}
    on_stack: set[N] = set()
    stack: list[N] = []
    comps: list[set[N]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter([d for d in deps[root] if d in inside]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            n, it = work[-1]
            for d in it:
                if d not in index:
                    index[d] = low[d] = len(index)
                    stack.append(d)
                    on_stack.add(d)
                    work.append((d, iter([x for x in deps[d] if x in inside])))
                    break
                if d in on_stack:
                    low[n] = min(low[n], index[d])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[n])
                if low[n] == index[n]:
                    comp: set[N] = set()
                    while True:
                        x = stack.pop()
                        on_stack.discard(x)
                        comp.add(x)
                        if x == n:
                            break
                    comps.append(comp)
    return comps


def _cycle_from(start: N, comp: set[N], deps: dict[N, dict[N, L]]) -> list[N]:
    """A path from `start` back to itself inside its component, following edges in order."""
    path = [start]
    seen = {start}
    work = [iter(deps[start])]
    while work:
        for d in work[-1]:
            if d == start:
                return path + [start]
            if d in comp and d not in seen:
                seen.add(d)
                path.append(d)
                work.append(iter(deps[d]))
                break
        else:
            work.pop()
            path.pop()
    raise AssertionError("a strongly connected component always holds a cycle")
