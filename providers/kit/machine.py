"""What this machine can give pools started on it, and what one node of a family takes from it.

Nodes of local pools (and of Ray clusters mlrt starts here) are slices of this one machine. A
node gets its instance family's vCPUs, memory and GPUs, each capped by what the machine has
(after the provider block's `max_cpus` / `max_memory_gib` / `max_gpus` limits); every cap is
reported so the plan and state say the truth.

Families come from one catalogue, `mlrt_iac.model.families` (built-in table plus the provider
block's `instance_family` blocks, checked by `parse_family`): no provider keeps its own
defaults for a family's fields.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrt_iac.errors import PermanentError
from mlrt_iac.model import FamilyCatalog, InstanceFamily, parse_family


@dataclass(frozen=True)
class Capacity:
    """Amounts of cpus (vCPUs), memory (GiB) and gpus."""

    cpus: float
    memory_gib: float
    gpus: int

    def __add__(self, other: Capacity) -> Capacity:
        return Capacity(self.cpus + other.cpus, self.memory_gib + other.memory_gib, self.gpus + other.gpus)

    def to_json(self) -> dict[str, Any]:
        return {"cpus": self.cpus, "memory_gib": self.memory_gib, "gpus": self.gpus}


def host_cpus() -> int:
    """CPUs this process may run on (affinity-aware, so containers with cpusets see theirs)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def host_memory_gib(meminfo: Path = Path("/proc/meminfo")) -> float:
    """MemTotal from /proc/meminfo in GiB (0 if unreadable: then nothing is reserved)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / (1024 * 1024), 2)
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def host_gpus() -> int:
    """NVIDIA GPUs listed by `nvidia-smi -L`; 0 without the tool or when it fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return 0
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return 0
    if out.returncode != 0:
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


_HOST: Capacity | None = None


def host_capacity() -> Capacity:
    """The machine's real size (cached: it does not change while mlrt runs)."""
    global _HOST
    if _HOST is None:
        _HOST = Capacity(float(host_cpus()), host_memory_gib(), host_gpus())
    return _HOST


def machine_capacity(limits: Mapping[str, Any]) -> Capacity:
    """The host's size lowered by the provider block's `max_cpus` / `max_memory_gib` / `max_gpus`."""
    host = host_capacity()
    cpus, mem, gpus = host.cpus, host.memory_gib, host.gpus
    if limits.get("max_cpus") is not None:
        cpus = min(cpus, float(limits["max_cpus"]))
    if limits.get("max_memory_gib") is not None:
        mem = min(mem, float(limits["max_memory_gib"]))
    if limits.get("max_gpus") is not None:
        gpus = min(gpus, int(limits["max_gpus"]))
    return Capacity(cpus, mem, gpus)


@dataclass(frozen=True)
class FamilyFacts:
    """The three numbers of an instance family that a node on this machine needs."""

    name: str
    cpus: float
    memory_gib: float
    gpus: int

    @classmethod
    def of(cls, family: InstanceFamily) -> FamilyFacts:
        return cls(family.name, float(family.cpus), float(family.memory_gib), int(family.gpus))


def family_catalog(declared: Mapping[str, Any], provider: str) -> tuple[FamilyCatalog, list[tuple[str, str]]]:
    """The model's catalogue plus a provider block's `instance_family` blocks, and the problems
    of bad blocks as (summary, detail) in the provider's words."""
    catalog = FamilyCatalog()
    problems: list[tuple[str, str]] = []
    for fname, raw in declared.items():
        fam, errors = parse_family(str(fname), raw)
        for where, msg in errors:
            problems.append(
                (
                    f'Invalid {where} in instance_family "{fname}"',
                    f'{msg}. Declare it as instance_family "{fname}" {{ cpus = 4  memory_gib = 16  '
                    f'gpus = 0 }} in the `provider "{provider}"` block (cpus and memory_gib above 0).',
                )
            )
        if fam is not None:
            catalog.families[fam.name] = fam
    return catalog, problems


def lookup_family(name: str, catalog: FamilyCatalog, provider: str) -> FamilyFacts:
    """A family of the catalogue; an unknown one is a PermanentError listing the valid ones."""
    family = catalog.get(name)
    if family is None:
        raise PermanentError(
            f'Unknown instance family "{name}"',
            catalog.unknown_detail(name) + f' (provider "{provider}")',
        )
    return FamilyFacts.of(family)


def _num(x: float) -> float | int:
    """Whole numbers as ints so records read `2`, not `2.0`."""
    return int(x) if float(x).is_integer() else x


def node_size(family: FamilyFacts, machine: Capacity) -> tuple[dict[str, Any], dict[str, Any]]:
    """One node's {cpus, gpus, memory} and the caps applied ({resource: {family, machine}})."""
    capped: dict[str, Any] = {}
    cpus = family.cpus
    if cpus > machine.cpus:
        capped["cpus"] = {"family": _num(cpus), "machine": _num(machine.cpus)}
        cpus = machine.cpus
    mem = family.memory_gib
    if mem > machine.memory_gib:
        capped["memory_gib"] = {"family": _num(mem), "machine": _num(machine.memory_gib)}
        mem = machine.memory_gib
    gpus = family.gpus
    if gpus > machine.gpus:
        capped["gpus"] = {"family": gpus, "machine": machine.gpus}
        gpus = machine.gpus
    return {"cpus": _num(cpus), "gpus": int(gpus), "memory": _num(mem)}, capped
