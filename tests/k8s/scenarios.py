"""Apply scenarios shared by the test-API-server tests and the live-cluster tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlrt_iac.provider import ProviderContext, Related
from providers.kubernetes import KubernetesProvider

POOL = {
    "name": "cpu",
    "instance_family": "CPU_X64_XS",
    "min_nodes": 1,
    "max_nodes": 2,
    "active_nodes": 1,
    "auto_suspend_secs": 3600,  # the schema's default
    "initially_suspended": False,
    "scale_timeout_secs": 20,
}
SERVICE = {
    "name": "api",
    "compute_pool": "cpu",
    "model": "s3://bucket/model",
    "functions": ["predict"],
    "max_instances": 1,
    "max_queue": 8,
    "num_workers": 3,  # the engine's default for CPU_X64_XS: 2 x 1 vCPU + 1
    "gpu_requests": 0,
    "ingress_enabled": False,
    "suspended": False,
}


def pool_ctx(tmp: Path, namespace_pool: dict[str, Any] | None = None) -> ProviderContext:
    return ProviderContext(tmp, tmp / ".mlrt", "compute_pool.cpu")


def service_ctx(tmp: Path) -> ProviderContext:
    return ProviderContext(tmp, tmp / ".mlrt", "service.api", related=pool_related())


def pool_related(**extra: Related) -> dict[str, Related]:
    """`ctx.related` of a workload on the pool POOL (plus `extra`, by address)."""
    return {"compute_pool.cpu": Related("compute_pool.cpu", "compute_pool", "cpu", dict(POOL)), **extra}


def handler(provider: KubernetesProvider, type_name: str) -> Any:
    h = provider.handler(type_name)
    assert h is not None
    return h
