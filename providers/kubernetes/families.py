"""Instance-family facts (CPUs, memory, GPUs) used to size pods and quotas.

The engine's catalogue (`mlrt_iac.model.families`) is the source of truth. Custom families come
from the provider block, `instance_family "NAME" { cpus = 8  memory_gib = 32  gpus = 1 }`
(evaluated to `{"NAME": {...}}`), and win over built-in ones of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlrt_iac.model.families import FamilyCatalog, InstanceFamily

FamilyFacts = InstanceFamily
_BUILTIN = FamilyCatalog()


def lookup(name: str, custom: Mapping[str, Any] | None = None) -> InstanceFamily:
    """Facts of `name`; an unknown family raises KeyError (the engine rejects it at plan time)."""
    if custom and name in custom:
        c = custom[name]
        return InstanceFamily(
            name,
            float(c.get("cpus", 1)),
            float(c.get("memory_gib", 4)),
            int(c.get("gpus", 0) or 0),
            str(c.get("gpu_type", "") or ""),
            builtin=False,
        )
    fam = _BUILTIN.get(name)
    if fam is None:
        raise KeyError(name)
    return fam
