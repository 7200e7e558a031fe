"""What every Ray handler shares: typed access to the provider and the cluster a workload uses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import Private, ProviderContext, ReadRequest, ReadResult
from providers.kit.handler import KitHandler

from .client import Dashboard

if TYPE_CHECKING:
    from . import RayProvider

__all__ = ["RayHandler", "Target", "by_cluster"]


@dataclass
class Target:
    """The cluster a training or service runs on: its dashboard and whether mlrt manages it."""

    dashboard: Dashboard
    managed: bool
    serve_port: int | None

    def private(self) -> Private:
        """Kept in the workload's `private` so read/delete find the cluster without the pool."""
        return {"ray_address": self.dashboard.url, "managed": self.managed, "serve_port": self.serve_port}


def by_cluster(
    handler: RayHandler, requests: Sequence[ReadRequest], results: list[ReadResult | Exception | None]
) -> dict[tuple[str, bool], tuple[Target, list[int]]]:
    """Request indexes grouped by the cluster each workload runs on (`target` from its
    private data), for one listing per cluster; a request whose cluster cannot be told gets
    its error in `results`. Requests already answered (`results[i]` set) are left out."""
    groups: dict[tuple[str, bool], tuple[Target, list[int]]] = {}
    for i, req in enumerate(requests):
        if results[i] is not None:
            continue
        try:
            target = handler.target(req.ctx, req.ctx.private)
        except Exception as exc:
            results[i] = exc
            continue
        groups.setdefault((target.dashboard.url, target.managed), (target, []))[1].append(i)
    return groups


class RayHandler(KitHandler):
    """A handler of the ray provider."""

    @property
    def rp(self) -> RayProvider:
        return self.provider  # type: ignore[return-value]

    def _target(self, address: Any, managed: bool, serve_port: Any) -> Target:
        headers = {} if managed else self.rp.headers
        return Target(Dashboard(str(address), headers), managed, serve_port)

    def claim_pool(self, ctx: ProviderContext, num_nodes: int | None = None) -> Callable[[], None]:
        """Before a workload starts: its managed pool resumed when suspended (auto_resume) and,
        for a training, scaled up to `num_nodes` (see `compute_pool.py`). Returns what to call
        when the work is done (scale back, mark the pool used)."""
        from .compute_pool import ComputePoolHandler

        pools = self.rp.handler("compute_pool")
        related = ctx.related_of("compute_pool")
        if not isinstance(pools, ComputePoolHandler) or not related:
            return lambda: None
        pool = related[0]
        give_back = pools.claim(ctx, pool, num_nodes)
        return lambda: pools.release(ctx, pool, give_back)

    def target(self, ctx: ProviderContext, private: Private | None = None) -> Target:
        """The referenced pool's cluster (`ctx.related_of("compute_pool")`), else the one
        recorded in `private` (read/delete), else the provider's address."""
        for pool in ctx.related_of("compute_pool"):
            if pool.attributes.get("address"):
                return self._target(
                    pool.attributes["address"],
                    bool(pool.private.get("managed")),
                    pool.private.get("serve_port"),
                )
        if private and private.get("ray_address"):
            return self._target(
                private["ray_address"], bool(private.get("managed")), private.get("serve_port")
            )
        if self.rp.attached:
            return Target(self.rp.dashboard(), False, None)
        raise PermanentError(
            f"{ctx.address} has no Ray cluster to run on",
            "Reference a compute_pool of the ray provider (compute_pool = compute_pool.NAME), "
            'or set address in the provider "ray" block.',
        )
