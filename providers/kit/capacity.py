"""Plan-time capacity check of the pools one provider realises on this machine (local pools,
Ray clusters mlrt starts): can each get its nodes, and can they all at once?

A pool that alone needs more than the whole budget can never be created: an error. Pools of
this configuration that fit one by one but not together are an error as well, since the
configuration keeps all of them running (apply would wait for capacity until
`scale_timeout_secs` and fail). Capacity held by pools outside this configuration (another
project's or workspace's pools in the same `.mlrt/`, found in the provider's records) may be
freed before apply: a warning naming who holds it. Suspended pools hold nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mlrt_iac.provider import AttributePath, Attributes, Finding, PlannedResource
from mlrt_iac.values import is_known

from .machine import Capacity, FamilyFacts, node_size
from .pools import nodes_text

_EPS = 1e-9


@dataclass(frozen=True)
class PoolNeed:
    """What one planned pool takes: `count` nodes of `node` each."""

    address: str
    name: str
    family: str
    node: Capacity
    count: int
    path: AttributePath

    @property
    def total(self) -> Capacity:
        n = self.count
        return Capacity(self.node.cpus * n, self.node.memory_gib * n, self.node.gpus * n)


def fits(need: Capacity, budget: Capacity) -> bool:
    return (
        need.cpus <= budget.cpus + _EPS
        and need.memory_gib <= budget.memory_gib + _EPS
        and need.gpus <= budget.gpus
    )


def fmt(c: Capacity) -> str:
    def n(x: float, unit: str) -> str:
        return f"{x:g} {unit}" + ("" if x == 1 else "s")

    gpus = f", {n(c.gpus, 'GPU')}" if c.gpus else ""
    return f"{n(c.cpus, 'vCPU')}, {c.memory_gib:g} GiB{gpus}"


def _sum(caps: Sequence[Capacity]) -> Capacity:
    return Capacity(sum(c.cpus for c in caps), sum(c.memory_gib for c in caps), sum(c.gpus for c in caps))


def _suspended(action: str, attrs: Attributes) -> bool:
    state = attrs.get("state")
    if isinstance(state, str) and is_known(state):
        return state == "SUSPENDED"
    if attrs.get("suspended") is not None:
        return bool(attrs.get("suspended"))
    return action in ("create", "replace") and bool(attrs.get("initially_suspended"))


def pool_needs(
    planned: Sequence[PlannedResource],
    family: Callable[[str], FamilyFacts],
    machine: Capacity,
    minimum_one: bool = False,
) -> list[PoolNeed]:
    """The running nodes each planned pool will hold (`active_nodes`, default min_nodes);
    unknown values and unknown families are left out (other checks report them).
    `minimum_one`: a pool always has a node (a Ray head), even at zero workers."""
    out: list[PoolNeed] = []
    for p in planned:
        if p.type != "compute_pool" or p.action == "delete" or _suspended(p.action, p.attributes):
            continue
        a = p.attributes
        fam, active, lo, name = (
            a.get("instance_family"),
            a.get("active_nodes"),
            a.get("min_nodes"),
            a.get("name"),
        )
        count = active if active is not None else lo
        if not isinstance(fam, str) or not isinstance(count, int) or not is_known(count):
            continue
        try:
            facts = family(fam)
        except Exception:  # an unknown family: validate reports it
            continue
        node, _ = node_size(facts, machine)
        size = Capacity(float(node["cpus"]), float(node["memory"]), int(node["gpus"]))
        path: AttributePath = ("active_nodes",) if active is not None and active != lo else ("min_nodes",)
        out.append(
            PoolNeed(
                p.address, str(name or p.address), fam, size, max(count, 1) if minimum_one else count, path
            )
        )
    return out


def _desc(n: PoolNeed) -> str:
    return f"{n.address} ({nodes_text(n.count)} of {n.family}, {fmt(n.node)} each)"


def capacity_findings(
    needs: Sequence[PoolNeed],
    budget: Capacity,
    budget_text: str,
    holders: Mapping[str, Capacity],
    fix: str,
) -> list[Finding]:
    """Errors for pools that can never get their nodes (alone, or with this configuration's
    other pools); a warning when pools outside the configuration hold what they need."""
    out: list[Finding] = []
    fitting: list[PoolNeed] = []
    for n in needs:
        if fits(n.total, budget):
            fitting.append(n)
            continue
        out.append(
            Finding(
                "error",
                f"compute_pool can never get {nodes_text(n.count)} here",
                f"{_desc(n)} needs {fmt(n.total)}, more than the whole {budget_text}: {fmt(budget)}. "
                f"Lower {n.path[0]}, pick a smaller instance_family, or {fix}.",
                n.path,
                n.address,
            )
        )
    used: list[PoolNeed] = []
    for n in fitting:
        if not fits(_sum([u.total for u in used] + [n.total]), budget):
            together = used + [n]
            out.append(
                Finding(
                    "error",
                    "compute_pools do not fit here together",
                    f"This configuration keeps {len(together)} pools running: "
                    f"{', '.join(_desc(u) for u in together)}; together they need "
                    f"{fmt(_sum([u.total for u in together]))}, more than the {budget_text}: "
                    f"{fmt(budget)}. So {n.address} would wait for capacity at apply until its "
                    f"scale_timeout_secs and fail. Lower min_nodes or pick smaller instance families, "
                    f"suspend a pool (suspended = true), or {fix}.",
                    n.path,
                    n.address,
                )
            )
            continue
        used.append(n)
    if not holders or not used:
        return out
    held = _sum(list(holders.values()))
    ours = _sum([u.total for u in used])
    if not fits(_sum([held, ours]), budget):
        who = ", ".join(f"{name} ({fmt(c)})" for name, c in sorted(holders.items()))
        last = used[-1]
        out.append(
            Finding(
                "warning",
                "compute_pool may wait for capacity",
                f"The pools of this configuration need {fmt(ours)} of the {budget_text} "
                f"({fmt(budget)}), but pools outside it hold {fmt(held)}: {who}. Apply waits for them "
                f"to free capacity until scale_timeout_secs. Suspend or delete those pools first, or {fix}.",
                last.path,
                last.address,
            )
        )
    return out
