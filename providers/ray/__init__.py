"""The `ray` provider: compute pools as Ray clusters, trainings as Ray Jobs running Ray Train,
services as Ray Serve applications.

    provider "ray" {
      address      = "http://127.0.0.1:8265"   # attach to a running cluster's dashboard ("auto":
                                               # RAY_ADDRESS, else http://127.0.0.1:8265)
      headers      = { Authorization = "Bearer ..." }   # sent with every dashboard call
      serve_port   = 8000     # Serve's HTTP port when mlrt starts Serve on an attached cluster
      replica_cpus = 1        # CPUs each Serve replica reserves
      runtime_env  = { pip = ["..."] }         # merged into every job's and Serve app's runtime_env
      max_cpus = 8  max_memory_gib = 32  max_gpus = 0   # caps for clusters mlrt starts
      overcommit   = 1        # multiply the cpu/memory budget of the clusters mlrt starts
      instance_family "TINY" { cpus = 1  memory_gib = 2  gpus = 0 }
    }

Without `address`, each compute_pool starts and manages its own local cluster (`ray start`
processes of this interpreter; see `compute_pool.py`, `cluster.py`). Network rules and
integrations are recorded as in the local provider; trainings get the effective egress list in
their runtime_env (`MLRT_EGRESS`). Image repositories are OCI layout directories as on local, or
recorded registry URLs (`image_repository.py`).

Workloads carry their environment (`runtime_env.py`): mlrt's runtime as `py_modules`, the
project as `working_dir`, `pip_requirements` as `pip`, so an attached cluster whose Python has
never seen mlrt runs them; a training's `image` is passed as `image_uri` instead (Ray's container
support: the image must hold mlrt's runtime). Job entrypoints run the cluster's own Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError
from mlrt_iac.model import FamilyCatalog
from mlrt_iac.provider import Attributes, Finding, PlannedResource, Provider, ProviderContext, ResourceHandler
from mlrt_iac.values import is_known
from mlrt_iac.version import mlrt_version
from providers.kit.capacity import capacity_findings, pool_needs
from providers.kit.machine import Capacity, FamilyFacts, family_catalog, lookup_family, machine_capacity
from providers.kit.network import ExternalAccessIntegrationHandler, NetworkRuleHandler
from providers.kit.records import plain
from providers.kit.service_image import base_image_setting

from .client import Dashboard, resolve_address
from .compute_pool import ComputePoolHandler
from .image_repository import ImageRepositoryHandler
from .service import ServiceHandler
from .training import TrainingHandler

_KNOWN = {
    "address",
    "headers",
    "serve_port",
    "replica_cpus",
    "runtime_env",
    "max_cpus",
    "max_memory_gib",
    "max_gpus",
    "overcommit",
    "instance_family",
    "base_image",
}


class RayNetworkRuleHandler(NetworkRuleHandler):
    """Recorded as the kit records them, in the ray provider's own folder."""

    def records_dir(self, ctx: ProviderContext) -> Path:
        return ctx.data_dir / "ray" / "network"


class RayExternalAccessIntegrationHandler(ExternalAccessIntegrationHandler):
    def records_dir(self, ctx: ProviderContext) -> Path:
        return ctx.data_dir / "ray" / "network"


class RayProvider(Provider):
    """Realises resources on a Ray cluster (attached by address, or started here per pool)."""

    name: ClassVar[str] = "ray"
    version: ClassVar[str] = mlrt_version()
    handler_classes: ClassVar[tuple[type[ResourceHandler], ...]] = (
        ComputePoolHandler,
        TrainingHandler,
        ServiceHandler,
        ImageRepositoryHandler,
        RayNetworkRuleHandler,
        RayExternalAccessIntegrationHandler,
    )

    def __init__(self) -> None:
        super().__init__()
        self.address: str | None = None
        self.headers: dict[str, str] = {}
        self.serve_port: int = 8000
        self.replica_cpus: float = 1.0
        self.runtime_env: dict[str, Any] = {}
        self.overcommit: float = 1.0
        # What service images are built on when a service names an image_repository but no
        # base_image: None builds mlrt's layers alone (`scratch`, this machine's Python).
        self.base_image: str | None = None
        self.families: FamilyCatalog = FamilyCatalog()

    def configure(self, config: Attributes, ctx: ProviderContext) -> Diagnostics:
        diags = Diagnostics()
        config = plain(dict(config))
        for key in sorted(set(config) - _KNOWN):
            diags.add_error(
                f'Unsupported argument "{key}" in provider "ray"',
                f"The ray provider accepts: {', '.join(sorted(_KNOWN))}.",
            )
        address = config.get("address")
        if address is not None and is_known(address):
            if not isinstance(address, str) or not address.strip():
                diags.add_error(
                    'Invalid "address" in provider "ray"',
                    'address is a dashboard URL such as "http://127.0.0.1:8265", or "auto".',
                )
            else:
                try:
                    self.address = resolve_address(address)
                except PermanentError as exc:
                    diags.add_error(exc.summary, exc.detail)
        headers = config.get("headers")
        if headers is not None and is_known(headers):
            if not isinstance(headers, dict):
                diags.add_error(
                    'Invalid "headers" in provider "ray"', "headers is a map of header name to value."
                )
            else:
                self.headers = {str(k): str(v) for k, v in headers.items()}
        for key, lowest in (("serve_port", 1), ("replica_cpus", 0), ("overcommit", 1)):
            v = config.get(key)
            if v is None or not is_known(v):
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < lowest:
                diags.add_error(
                    f'Invalid "{key}" in provider "ray"', f"{key} must be a number of at least {lowest}."
                )
            elif key == "serve_port":
                self.serve_port = int(v)
            elif key == "overcommit":
                self.overcommit = float(v)
            else:
                self.replica_cpus = float(v)
        self.base_image = base_image_setting(config, "ray", diags)
        renv = config.get("runtime_env")
        if isinstance(renv, dict):
            self.runtime_env = renv
        fams = config.get("instance_family") or {}
        if not isinstance(fams, dict):
            diags.add_error(
                'Invalid "instance_family" blocks in provider "ray"',
                'Write each as `instance_family "NAME" { cpus = 4  memory_gib = 16  gpus = 0 }`.',
            )
            fams = {}
        self.families, problems = family_catalog(fams, "ray")
        for summary, detail in problems:
            diags.add_error(summary, detail)
        self.config = config
        return diags

    @property
    def attached(self) -> bool:
        return self.address is not None

    def dashboard(self) -> Dashboard:
        if self.address is None:
            raise PermanentError("No Ray address", 'Set address in the provider "ray" block.')
        return Dashboard(self.address, dict(self.headers))

    def family(self, name: str) -> FamilyFacts:
        return lookup_family(name, self.families, "ray")

    def machine(self) -> Capacity:
        return machine_capacity(self.config)

    def budget(self) -> Capacity:
        """What all managed clusters on this machine together may take: the machine times
        `overcommit` (GPUs are never shared), as the local provider's pool budget."""
        m = self.machine()
        return Capacity(m.cpus * self.overcommit, m.memory_gib * self.overcommit, m.gpus)

    def check_plan(self, ctx: ProviderContext, planned: Sequence[PlannedResource]) -> list[Finding]:
        """For clusters mlrt starts here: whether the planned pools fit the budget, alone and
        together (`providers.kit.capacity`), and who else holds it. An attached cluster is
        sized by its own autoscaler; mlrt does not second-guess it at plan time."""
        if self.attached:
            return []
        needs = pool_needs(planned, self.family, self.machine(), minimum_one=True)
        if not needs:
            return []
        handler = self.handlers["compute_pool"]
        assert isinstance(handler, ComputePoolHandler)
        mine = {str(p.attributes.get("name")) for p in planned if p.type == "compute_pool"}
        basis = "this machine" + (f" times overcommit {self.overcommit:g}" if self.overcommit != 1 else "")
        return capacity_findings(
            needs,
            self.budget(),
            f"budget for Ray clusters mlrt starts ({basis})",
            handler.held_by_others(ctx, mine),
            'raise overcommit (or max_cpus / max_memory_gib) in the `provider "ray"` block',
        )


__all__ = ["RayProvider"]
