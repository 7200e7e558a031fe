"""What every Ray handler shares: typed access to the provider and the cluster a workload uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import Attributes, ProviderContext
from providers.local.common import LocalHandler, resource_name

from .client import Dashboard

if TYPE_CHECKING:
    from . import RayProvider

__all__ = ["RayHandler", "resource_name", "Target"]


class Target:
    """The cluster a training or service runs on: its dashboard and whether mlrt manages it."""

    def __init__(self, dashboard: Dashboard, managed: bool, serve_port: int | None) -> None:
        self.dashboard = dashboard
        self.managed = managed
        self.serve_port = serve_port

    def record(self) -> dict[str, Any]:
        """Private attributes kept in state so read/delete find the cluster without the pool."""
        return {"_ray_address": self.dashboard.url, "_managed": self.managed, "_serve_port": self.serve_port}


class RayHandler(LocalHandler):
    """A handler of the ray provider (name handling shared with the local provider)."""

    @property
    def rp(self) -> RayProvider:
        return self.provider  # type: ignore[return-value]

    def target(self, ctx: ProviderContext, attrs: Attributes | None = None) -> Target:
        """The pool's cluster (from the resources this one references), else the prior record,
        else the provider's address."""
        for addr, rel in ctx.related.items():
            if addr.split("[")[0].rsplit(".", 2)[-2:-1] == ["compute_pool"] and rel.get("address"):
                managed = bool(rel.get("_managed"))
                return Target(
                    Dashboard(str(rel["address"]), {} if managed else self.rp.headers),
                    managed,
                    rel.get("_serve_port"),
                )
        if attrs and attrs.get("_ray_address"):
            managed = bool(attrs.get("_managed"))
            return Target(
                Dashboard(str(attrs["_ray_address"]), {} if managed else self.rp.headers),
                managed,
                attrs.get("_serve_port"),
            )
        if self.rp.attached:
            return Target(self.rp.dashboard(), False, None)
        raise PermanentError(
            f"{ctx.address} has no Ray cluster to run on",
            "Reference a compute_pool of the ray provider (compute_pool = compute_pool.NAME), "
            'or set address in the provider "ray" block.',
        )
