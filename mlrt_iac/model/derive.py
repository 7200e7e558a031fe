"""What one instance's own values already tell about its references and derived defaults.

A reference written as an expression (`compute_pool = compute_pool.cpu`) carries the referenced
resource's values, and `depends_on` names its address. That is enough to fill, for a single
instance validated alone (as the planner does): `model.references`, a service's default
`num_workers` (from the pool's instance_family) and an integration's `effective_egress` (from
the rules' values). `cross_check`, which sees every block, later overrides these.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from ..addrs import Address
from ..config.instances import ResourceInstance
from ..values import UNKNOWN, is_known, unmark
from .families import FamilyCatalog
from .names import normalize_name
from .netrules import effective_egress
from .schemas import RESOURCE_MODELS, ExternalAccessIntegration, ResourceModel, Service


@lru_cache(maxsize=65536)  # called for every dependency of every instance: parse each once
def split_address(address: str) -> tuple[str, str]:
    """(type, label) of an instance address: module.m["a"].compute_pool.cpu[0] -> (compute_pool, cpu)."""
    a = Address.try_parse(address)
    return (a.type, a.name) if a is not None else ("", address)


def _local_references(model: ResourceModel, inst: ResourceInstance) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for fld, names in model._ref_names.items():
        target = model.REF_FIELDS[fld]
        if target not in RESOURCE_MODELS:
            continue
        deps = sorted(d for d in inst.depends_on if split_address(d)[0] == target)
        hits: list[str] = []
        for name, via_ref in names:
            if not via_ref:
                continue
            match = [d for d in deps if normalize_name(split_address(d)[1]) == name]
            if not match and fld not in model.LIST_REFS and len(deps) == 1:
                match = deps
            if match:
                hits.append(match[0])
        out[fld] = tuple(hits)
    return out


def default_num_workers(gpu_requests: int, family_cpus: float | None) -> int | None:
    """Snowflake's default: 1 worker with GPUs, else 2 x vCPUs + 1 (None when cpus unknown)."""
    if gpu_requests > 0:
        return 1
    return None if family_cpus is None else int(2 * family_cpus + 1)


def default_max_queue(num_workers: int) -> int:
    """Requests admitted to wait per instance before 503: four per worker, so a burst the
    workers clear in a few request times queues instead of failing (every provider uses it)."""
    return 4 * num_workers


def fill_service_defaults(m: Service, family_cpus: float | None) -> None:
    """`num_workers` (Snowflake's default) and `max_queue` (from the workers) when unset and
    knowable: filled once here, so no provider derives them again."""
    if m.num_workers is None and m.gpu_requests is not UNKNOWN:
        m.__dict__["num_workers"] = default_num_workers(m.gpu_requests, family_cpus)
    if m.max_queue is None and isinstance(m.num_workers, int):
        m.__dict__["max_queue"] = default_max_queue(m.num_workers)


def _service_workers(m: Service, catalog: FamilyCatalog) -> None:
    pools = m._ref_values.get("compute_pool", [])
    fam_name = pools[0].get("instance_family") if pools else None
    fam_name, _ = unmark(fam_name)
    fam = catalog.get(fam_name) if isinstance(fam_name, str) else None
    fill_service_defaults(m, fam.cpus if fam else None)


def _eai_egress(m: ExternalAccessIntegration) -> None:
    rules = m._ref_values.get("allowed_network_rules", [])
    if not isinstance(m.allowed_network_rules, list) or len(rules) != len(m.allowed_network_rules):
        return
    views: list[Any] = []
    for raw in rules:
        plain, _ = unmark({k: raw.get(k) for k in ("mode", "type", "value_list")})
        if not is_known(plain) or not isinstance(plain["value_list"], list):
            return
        views.append(
            SimpleNamespace(
                mode=str(plain["mode"]).upper(),
                type=str(plain["type"]).upper(),
                value_list=plain["value_list"],
            )
        )
    m.__dict__["effective_egress"] = effective_egress(views)


def derive_local(model: ResourceModel, inst: ResourceInstance, catalog: FamilyCatalog) -> None:
    model._references = _local_references(model, inst)
    if isinstance(model, Service):
        _service_workers(model, catalog)
    elif isinstance(model, ExternalAccessIntegration):
        _eai_egress(model)
