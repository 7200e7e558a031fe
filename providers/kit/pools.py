"""Rules every compute_pool handler shares (local and ray).

The node-count rules and the `active_nodes` default are the model's (`mlrt_iac.model.pools`):
the engine fills `active_nodes` and reports bad counts at plan time, so handlers receive
complete, checked values. `pool_inputs` re-checks the counts with the model's one rule before
anything is reserved (a create must be all or nothing even for a caller that bypasses the plan),
and never fills a default itself.
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


def drop_creation_only(result: DiffResult) -> DiffResult:
    """Creation-only arguments are never a change after the pool exists."""
    result.changed = [c for c in result.changed if c not in CREATION_ONLY]
    result.requires_replace = [c for c in result.requires_replace if c in result.changed]
    return result


def cap_lines(family: FamilyFacts, capped: dict[str, Any]) -> list[str]:
    """Log lines saying which of a family's resources this machine lowered (the terminal puts the
    pool's address in front of each line, so they do not repeat it)."""
    return [
        f"{family.name} nodes have {info['family']} {res}; this machine gives {info['machine']} (capped)"
        for res, info in capped.items()
    ]
