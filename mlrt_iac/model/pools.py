"""The node-count rules of a compute pool, in one place.

`checks.check_compute_pool` reports them at plan time with source ranges; providers that are
called directly (tests, `mlrt import`) read the same rules through these functions, so there is
one threshold (`min_nodes > 0`) and one default (`active_nodes` = `min_nodes`) for everybody.
Values that are UNKNOWN or None are skipped (checked again once known).
"""

from __future__ import annotations

from typing import Any

from ..values import UNKNOWN


def _known(v: Any) -> bool:
    return v is not UNKNOWN and v is not None


def default_active_nodes(min_nodes: Any, active_nodes: Any) -> Any:
    """`active_nodes` as the engine fills it: the written value, else `min_nodes`."""
    return min_nodes if active_nodes is None else active_nodes


def node_count_problems(min_nodes: Any, max_nodes: Any, active_nodes: Any) -> list[tuple[str, str]]:
    """Every broken node-count rule as (attribute it is reported on, message)."""
    lo, hi, active = min_nodes, max_nodes, active_nodes
    out: list[tuple[str, str]] = []
    if _known(lo) and lo <= 0:
        out.append(
            ("min_nodes", f'Inappropriate value for attribute "min_nodes": must be greater than 0, got {lo}.')
        )
    if _known(lo) and _known(hi) and lo > hi:
        out.append(
            ("min_nodes", f"min_nodes ({lo}) is greater than max_nodes ({hi}). Set min_nodes <= max_nodes.")
        )
    if _known(active):
        if _known(lo) and active < lo:
            out.append(
                (
                    "active_nodes",
                    f"active_nodes ({active}) is below min_nodes ({lo}). "
                    "Keep min_nodes <= active_nodes <= max_nodes.",
                )
            )
        if _known(hi) and active > hi:
            out.append(
                (
                    "active_nodes",
                    f"active_nodes ({active}) is above max_nodes ({hi}). "
                    "Keep min_nodes <= active_nodes <= max_nodes.",
                )
            )
    return out
