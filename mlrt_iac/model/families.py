"""The instance-family catalogue: how much CPU, memory and GPU one node of a pool has.

Built-in families follow Snowflake's Snowpark Container Services table (CREATE COMPUTE POOL,
"INSTANCE_FAMILY", https://docs.snowflake.com/en/sql-reference/sql/create-compute-pool,
AWS column; GPU_NV_XS is the 1 x T4 row Snowflake lists for Azure). The figures are the vCPUs
and memory a user's containers can use, not the raw VM size.

A provider block can add families (or override a built-in one for a smaller machine):

    provider "local" {
      instance_family "MY_FAM" { cpus = 4  memory_gib = 16  gpus = 1  gpu_type = "T4" }
    }

which the config layer evaluates to `attributes["instance_family"] == {"MY_FAM": {...}}`.
All providers' families are merged into one catalogue (a later provider wins on a clash).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config.instances import ProviderConfig
from ..diagnostics import Diagnostics
from ..values import unmark
from .suggest import did_you_mean


@dataclass(frozen=True, slots=True)
class InstanceFamily:
    """One node type: vCPUs, memory (GiB), GPUs per node and their model."""

    name: str
    cpus: float
    memory_gib: float
    gpus: int = 0
    gpu_type: str = ""
    builtin: bool = True

    @property
    def has_gpu(self) -> bool:
        return self.gpus > 0


BUILTIN_FAMILIES: dict[str, InstanceFamily] = {
    f.name: f
    for f in (
        InstanceFamily("CPU_X64_XS", 1, 6),
        InstanceFamily("CPU_X64_S", 3, 13),
        InstanceFamily("CPU_X64_M", 6, 28),
        InstanceFamily("CPU_X64_L", 28, 116),
        InstanceFamily("HIGHMEM_X64_S", 6, 58),
        InstanceFamily("HIGHMEM_X64_M", 28, 240),
        InstanceFamily("HIGHMEM_X64_L", 124, 984),
        InstanceFamily("GPU_NV_XS", 3, 26, 1, "NVIDIA T4"),
        InstanceFamily("GPU_NV_S", 6, 27, 1, "NVIDIA A10G"),
        InstanceFamily("GPU_NV_M", 44, 178, 4, "NVIDIA A10G"),
        InstanceFamily("GPU_NV_L", 92, 1112, 8, "NVIDIA A100"),
    )
}


class _CustomFamily(BaseModel):
    """Schema of an `instance_family "NAME" { }` block inside a provider block."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built when a provider declares one

    cpus: float = Field(gt=0)
    memory_gib: float = Field(gt=0)
    gpus: int = Field(default=0, ge=0)
    gpu_type: str = ""


@dataclass
class FamilyCatalog:
    """Family name -> InstanceFamily, plus problems found in provider-declared families."""

    families: dict[str, InstanceFamily] = field(default_factory=lambda: dict(BUILTIN_FAMILIES))
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    def get(self, name: str) -> InstanceFamily | None:
        """Look a family up; names are matched case-insensitively (Snowflake keywords are)."""
        fam = self.families.get(name)
        if fam is None:
            fam = self.families.get(name.upper())
        return fam

    def names(self) -> list[str]:
        return sorted(self.families)

    def unknown_detail(self, name: str) -> str:
        """The detail sentence for an unknown family: every valid one, and the nearest."""
        return (
            f'"{name}" is not a known instance family.{did_you_mean(name, self.families)} '
            f"Valid families: {', '.join(self.names())}; or declare it in a provider block "
            f'with instance_family "{name}" {{ cpus = ... memory_gib = ... }}.'
        )


def parse_family(name: str, raw: Any) -> tuple[InstanceFamily | None, list[tuple[str, str]]]:
    """One `instance_family "NAME" { }` body checked against its schema: the family, or every
    problem as (field, message). Providers checking their own block use this, so a custom
    family has one definition (and no provider-specific defaults)."""
    plain, _ = unmark(raw)
    if isinstance(plain, list) and len(plain) == 1:  # python-hcl2 may wrap a block body in a list
        plain = plain[0]
    try:
        spec = _CustomFamily.model_validate(plain)
    except ValidationError as exc:
        return None, [(".".join(str(p) for p in e["loc"]) or "block", e["msg"]) for e in exc.errors()]
    return InstanceFamily(name, spec.cpus, spec.memory_gib, spec.gpus, spec.gpu_type, builtin=False), []


def _family_from(name: str, raw: Any, cfg: ProviderConfig, diags: Diagnostics) -> InstanceFamily | None:
    fam, errors = parse_family(name, raw)
    if fam is None:
        problems = "; ".join(f"{where}: {msg}" for where, msg in errors)
        diags.add_error(
            "Invalid instance family",
            f'instance_family "{name}" in provider "{cfg.key}" is invalid ({problems}). '
            "Set cpus and memory_gib (numbers above 0), and optionally gpus and gpu_type.",
            cfg.range,
        )
    return fam


def build_catalog(provider_configs: Iterable[ProviderConfig]) -> FamilyCatalog:
    """The built-in families plus every `instance_family` block of the given provider configs."""
    catalog = FamilyCatalog()
    for cfg in provider_configs:
        declared = cfg.attributes.get("instance_family")
        if declared is None:
            continue
        declared, _ = unmark(declared)
        if isinstance(declared, list):  # tolerate a list of {"NAME": {...}} maps
            merged: dict[str, Any] = {}
            for item in declared:
                if isinstance(item, Mapping):
                    merged.update(item)
            declared = merged
        if not isinstance(declared, Mapping):
            catalog.diagnostics.add_error(
                "Invalid instance family",
                f'provider "{cfg.key}": instance_family must be written as labelled blocks, '
                'instance_family "NAME" { cpus = ... memory_gib = ... }.',
                cfg.range,
            )
            continue
        for name, raw in declared.items():
            fam = _family_from(str(name), raw, cfg, catalog.diagnostics)
            if fam is not None:
                catalog.families[fam.name] = fam
    return catalog
