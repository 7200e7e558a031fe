"""The workloads of a local compute pool: which services run on it, so that suspending the pool
stops them and resuming it starts them again, and how trainings and services claim a pool
(auto-resume, scale-up for a training's `num_nodes`).

A service writes its arguments to `.mlrt/services/<name>/spec.json` when it starts; that file
names its pool. Suspending a pool stops every such service's processes and marks its
`processes.json` with `pool_suspended` (its port and generation are kept): the service reads
as `status = SUSPENDED`, not as gone, so a plan does not try to re-create it. Resuming the pool
starts those services again on the same port, ready (health-checked) before the resume returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlrt_iac.provider import Attributes, ProviderContext
from providers.kit.records import atomic_write_json, plain, read_json

SPEC = "spec.json"


def pool_name(ctx: ProviderContext, desired: Attributes) -> str | None:
    """The provider-side name of the pool a workload runs on."""
    for related in ctx.related_of("compute_pool"):
        return related.name
    value = desired.get("compute_pool")
    return value if isinstance(value, str) else None


def record_spec(ctx: ProviderContext, service_dir: Path, desired: Attributes) -> None:
    """Keep the arguments a service runs with (and its pool), for a pool resume to restart it."""
    service_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        service_dir / SPEC, {"pool": pool_name(ctx, desired), "attributes": plain(dict(desired))}
    )


def services_on(data_dir: Path, pool: str) -> Iterator[tuple[str, Path, Attributes]]:
    """(name, folder, arguments) of every service recorded on `pool`."""
    root = data_dir / "services"
    if not root.is_dir():
        return
    for d in sorted(root.iterdir()):
        spec = read_json(d / SPEC)
        if isinstance(spec, dict) and spec.get("pool") == pool and isinstance(spec.get("attributes"), dict):
            yield d.name, d, spec["attributes"]


def processes(service_dir: Path) -> dict[str, Any]:
    data = read_json(service_dir / "processes.json")
    return data if isinstance(data, dict) else {}


def stopped_by_pool(service_dir: Path) -> bool:
    """Whether the service's processes were stopped because its pool was suspended."""
    return bool(processes(service_dir).get("pool_suspended"))


def mark(service_dir: Path, suspended_by_pool: bool, pids: list[dict[str, Any]] | None = None) -> None:
    data = processes(service_dir)
    data["pool_suspended"] = suspended_by_pool
    if pids is not None:
        data["pids"] = pids
    atomic_write_json(service_dir / "processes.json", data)


__all__ = ["mark", "pool_name", "processes", "record_spec", "services_on", "stopped_by_pool"]
