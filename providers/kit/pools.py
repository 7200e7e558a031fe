"""Rules every compute_pool handler shares (local and ray).

The node-count rules and the `active_nodes` default are the model's (`mlrt_iac.model.pools`):
the engine fills `active_nodes` and reports bad counts at plan time, so handlers receive
complete, checked values. `pool_inputs` re-checks the counts with the model's one rule before
anything is reserved (a create must be all or nothing even for a caller that bypasses the plan),
and never fills a default itself.

Suspension (shared by every provider): `initially_suspended` stays creation-only, as in
Snowflake; `suspended = true|false` is the in-place switch (ALTER COMPUTE POOL SUSPEND/RESUME),
and unset means mlrt leaves the pool's state alone (auto-resume and auto-suspend may change it
without the plan calling it drift). A pool's observed `suspended` is what it really is, so a
plan compares the switch with reality: `suspended = true` on a pool that a workload
auto-resumed plans `~ suspended = false -> true` (`observed_switch`). `state` is SUSPENDED, IDLE (running, no
workload on it; or no nodes) or ACTIVE (running with workloads), as Snowflake's SHOW COMPUTE
POOLS reports.
"""

from __future__ import annotations

from typing import Any

from mlrt_iac.errors import PermanentError
from mlrt_iac.model import node_count_problems
from mlrt_iac.provider import Attributes, DiffResult, ProviderContext

from .machine import FamilyFacts
from .names import file_safe_name
from .records import plain

POOL_COMPUTED: tuple[str, ...] = ("nodes", "state", "address", "capped")
# Arguments that only matter when the pool is created (as in Snowflake).
CREATION_ONLY: tuple[str, ...] = ("initially_suspended",)


def count_problems(attrs: Attributes) -> list[str]:
    """The model's node-count problems of `attrs` (unknown values skipped)."""
    return [
        msg
        for _, msg in node_count_problems(
            attrs.get("min_nodes"), attrs.get("max_nodes"), attrs.get("active_nodes")
        )
    ]


def pool_inputs(ctx: ProviderContext, desired: Attributes) -> Attributes:
    """Desired attributes of a pool to create or update: plain values, the name checked, node
    counts checked; computed attributes left out. Bad input is a PermanentError (nothing done)."""
    attrs: Attributes = plain(dict(desired))
    attrs["name"] = file_safe_name(ctx, attrs)
    if attrs.get("active_nodes") is None:
        raise PermanentError(
            f'compute_pool "{attrs["name"]}" was handed no active_nodes',
            "The engine fills active_nodes (default: min_nodes) before any handler runs; "
            "this is a bug in the caller.",
        )
    problems = count_problems(attrs)
    if problems:
        raise PermanentError(f'Invalid node counts for compute_pool "{attrs["name"]}"', problems[0])
    for key in POOL_COMPUTED:
        attrs.pop(key, None)
    return attrs


def suspended_at_create(attrs: Attributes) -> bool:
    """Whether a new pool starts suspended: `suspended` when set, else `initially_suspended`."""
    if attrs.get("suspended") is not None:
        return bool(attrs["suspended"])
    return bool(attrs.get("initially_suspended"))


def really_suspended(attrs: Attributes) -> bool:
    """Whether a pool with these (read) attributes is suspended: its `state` says so."""
    if attrs.get("state") is not None:
        return attrs.get("state") == "SUSPENDED"
    return bool(attrs.get("suspended"))


def observed_switch(recorded: Any, suspended: bool) -> bool | None:
    """The `suspended` argument as read: what the pool really is when the configuration sets
    the switch (so a plan can show `false -> true`), else still unset (None), so a pool left
    alone never shows a change of it."""
    return None if recorded is None else suspended


def wants_suspended(desired: Attributes) -> bool | None:
    """The in-place switch: True/False, or None when the configuration leaves it alone."""
    value = desired.get("suspended")
    return None if value is None else bool(value)


def idle_expired(auto_suspend_secs: Any, last_active: Any, now: float) -> bool:
    """Whether a running pool idle since `last_active` (epoch seconds) is due to auto-suspend."""
    if not isinstance(auto_suspend_secs, int) or auto_suspend_secs <= 0:
        return False
    if not isinstance(last_active, (int, float)):
        return False
    return now - float(last_active) >= auto_suspend_secs


def drop_creation_only(
    result: DiffResult, prior: Attributes | None = None, desired: Attributes | None = None
) -> DiffResult:
    """Creation-only arguments are never a change after the pool exists; `suspended` is a
    change only when set and different from what the pool really is (`prior["suspended"]`, the
    observed value)."""
    drop = set(CREATION_ONLY)
    if desired is not None and prior is not None:
        want = wants_suspended(desired)
        if want is None or really_suspended(prior) == want:
            drop.add("suspended")
        elif "suspended" not in result.changed:
            result.changed.append("suspended")
    result.changed = [c for c in result.changed if c not in drop]
    result.requires_replace = [c for c in result.requires_replace if c in result.changed]
    return result


def cap_lines(family: FamilyFacts, capped: dict[str, Any]) -> list[str]:
    """Log lines saying which of a family's resources this machine lowered (the terminal puts the
    pool's address in front of each line, so they do not repeat it)."""
    return [
        f"{family.name} nodes have {info['family']} {res}; this machine gives {info['machine']} (capped)"
        for res, info in capped.items()
    ]


def nodes_text(n: int) -> str:
    """ "1 node", "3 nodes"."""
    return f"{n} node" if n == 1 else f"{n} nodes"


def resume_or_refuse(ctx: ProviderContext, name: str, auto_resume: bool) -> None:
    """A workload found its pool suspended: say that it resumes it, or refuse (auto_resume =
    false) before anything starts."""
    if not auto_resume:
        raise PermanentError(
            f'{ctx.address} cannot run: compute_pool "{name}" is suspended',
            "The pool has auto_resume = false. Set suspended = false on the pool (or "
            "auto_resume = true) and apply again.",
        )
    ctx.log(f'compute_pool "{name}" is suspended; resuming it (auto_resume = true)')


def needs_scale_up(
    ctx: ProviderContext, name: str, running: int, num_nodes: int | None, max_nodes: int
) -> bool:
    """Whether a run of `num_nodes` needs more nodes than the `running` ones (said in the log);
    beyond the pool's `max_nodes` it cannot run at all."""
    if num_nodes is None or num_nodes <= running:
        return False
    if num_nodes > max_nodes:
        raise PermanentError(
            f'{ctx.address} needs {nodes_text(num_nodes)}, compute_pool "{name}" allows {max_nodes}',
            "Lower scaling.num_nodes or raise the pool's max_nodes.",
        )
    ctx.log(f'scaling compute_pool "{name}" from {nodes_text(running)} to {num_nodes} for this run')
    return True
