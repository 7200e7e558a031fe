"""The embedded `local` provider: ML infrastructure realised on this machine.

Everything it creates lives under the project's `.mlrt/` folder (`ctx.data_dir`), or under the
provider block's `root` for image repositories:

    provider "local" {
      root           = "/srv/mlrt"     # where image repositories live (default: .mlrt/)
      max_cpus       = 8               # the budget local compute pools share (default: the machine)
      max_memory_gib = 32
      max_gpus       = 0
      overcommit     = 1               # multiply the cpu/memory budget (GPUs are never shared)
      instance_family "TINY" { cpus = 1  memory_gib = 2  gpus = 0  gpu_type = null }
    }

Handlers: `compute_pool`, `image_repository`, `network_rule`, `external_access_integration`;
trainings and services join by extending `handler_classes` (`INFRA_HANDLERS + (TrainingHandler,
ServiceHandler)`); handlers reach the provider's settings through `self.lp`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.model import FamilyCatalog
from mlrt_iac.provider import Attributes, Finding, PlannedResource, Provider, ProviderContext, ResourceHandler
from mlrt_iac.values import is_known
from mlrt_iac.version import mlrt_version
from providers.kit.capacity import capacity_findings, pool_needs
from providers.kit.machine import Capacity, FamilyFacts, family_catalog, lookup_family, machine_capacity
from providers.kit.records import plain
from providers.kit.service_image import base_image_setting

from .compute_pool import ComputePoolHandler
from .image_repository import ImageRepositoryHandler
from .network import ExternalAccessIntegrationHandler, NetworkRuleHandler
from .service import ServiceHandler
from .training import TrainingHandler

INFRA_HANDLERS: tuple[type[ResourceHandler], ...] = (
    ComputePoolHandler,
    ImageRepositoryHandler,
    NetworkRuleHandler,
    ExternalAccessIntegrationHandler,
)

_NUMERIC_LIMITS = ("max_cpus", "max_memory_gib", "max_gpus", "overcommit")
_KNOWN_ARGS = {"root", "instance_family", "base_image", *_NUMERIC_LIMITS}


class LocalProvider(Provider):
    """Realises resources as records, directories and processes on this machine."""

    name: ClassVar[str] = "local"
    version: ClassVar[str] = mlrt_version()
    handler_classes: ClassVar[tuple[type[ResourceHandler], ...]] = INFRA_HANDLERS + (
        TrainingHandler,
        ServiceHandler,
    )

    def __init__(self) -> None:
        super().__init__()
        self.root: Path | None = None
        # What service images are built on when a service names no base_image: None builds
        # the layers alone (no base), for this machine's Python.
        self.base_image: str | None = None
        self.families: FamilyCatalog = FamilyCatalog()
        # Seconds to wait for the pool ledger's lock before a RetryableError (tests lower it).
        self.lock_timeout: float = 10.0

    def configure(self, config: Attributes, ctx: ProviderContext) -> Diagnostics:
        diags = Diagnostics()
        config = plain(dict(config))
        for key in sorted(set(config) - _KNOWN_ARGS):
            diags.add_error(
                f'Unsupported argument "{key}" in provider "local"',
                f"The local provider accepts: {', '.join(sorted(_KNOWN_ARGS))}.",
            )
        root = config.get("root")
        if root is not None and is_known(root):
            if not isinstance(root, str) or not root:
                diags.add_error('Invalid "root" in provider "local"', "root must be a directory path.")
            else:
                p = Path(root).expanduser()
                self.root = p if p.is_absolute() else (ctx.project_dir / p)
        self.base_image = base_image_setting(config, "local", diags)
        for key in _NUMERIC_LIMITS:
            v = config.get(key)
            if v is None or not is_known(v):
                continue
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or v < 0
                or (key == "overcommit" and v < 1)
            ):
                lowest = "1" if key == "overcommit" else "0"
                diags.add_error(
                    f'Invalid "{key}" in provider "local"',
                    f"{key} must be a number of at least {lowest} (got {v!r}).",
                )
        fams = config.get("instance_family") or {}
        if not isinstance(fams, dict):
            diags.add_error(
                'Invalid "instance_family" blocks in provider "local"',
                'Write each as `instance_family "NAME" { cpus = 4  memory_gib = 16  gpus = 0 }`.',
            )
            fams = {}
        self.families, problems = family_catalog(fams, "local")
        for summary, detail in problems:
            diags.add_error(summary, detail)
        self.config = config
        return diags

    # ----- what handlers ask ------------------------------------------------------------
    def family(self, name: str) -> FamilyFacts:
        return lookup_family(name, self.families, "local")

    def machine(self) -> Capacity:
        """This machine as one node may use it (host size lowered by max_* limits)."""
        return machine_capacity(self.config)

    def budget(self) -> Capacity:
        """What all local pools together may reserve: the machine times `overcommit` (not GPUs)."""
        m = self.machine()
        factor = float(self.config.get("overcommit") or 1)
        return Capacity(m.cpus * factor, m.memory_gib * factor, m.gpus)

    def check_plan(self, ctx: ProviderContext, planned: Sequence[PlannedResource]) -> list[Finding]:
        """Whether the planned pools can get their nodes within the local budget
        (`providers.kit.capacity`); the ledger says what pools outside this plan hold."""
        from .ledger import Ledger

        needs = pool_needs(planned, self.family, self.machine())
        if not needs:
            return []
        mine = {str(p.attributes.get("name")) for p in planned if p.type == "compute_pool"}
        holders = {}
        ledger = Ledger(ctx.data_dir / "pools", self.lock_timeout)
        if ledger.path.is_file():
            with ledger.locked() as book:
                holders = {
                    n: c
                    for n, c in book.holders(exclude="").items()
                    if n not in mine and c.cpus + c.memory_gib + c.gpus > 0
                }
        factor = float(self.config.get("overcommit") or 1)
        basis = "this machine" + (f" times overcommit {factor:g}" if factor != 1 else "")
        return capacity_findings(
            needs,
            self.budget(),
            f"local budget ({basis})",
            holders,
            'raise max_cpus / max_memory_gib / overcommit in the `provider "local"` block',
        )

    def storage_root(self, ctx: ProviderContext) -> Path:
        """Where image repositories live: the provider's `root`, else the project's `.mlrt/`."""
        return self.root if self.root is not None else ctx.data_dir


__all__ = ["LocalProvider", "INFRA_HANDLERS"]
