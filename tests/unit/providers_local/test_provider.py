"""LocalProvider itself: discovery through its entry point, configuration, machine facts."""

from __future__ import annotations

from pathlib import Path

from mlrt_iac.provider import ProviderContext, discover_providers
from providers.kit.machine import (
    Capacity,
    FamilyFacts,
    host_capacity,
    host_memory_gib,
    machine_capacity,
    node_size,
)
from providers.local import INFRA_HANDLERS, LocalProvider


def test_found_through_its_entry_point() -> None:
    info = discover_providers()["local"]
    assert info.factory is LocalProvider and info.version == LocalProvider.version
    p = info.factory()
    assert isinstance(p, LocalProvider)
    infra = {"compute_pool", "image_repository", "network_rule", "external_access_integration"}
    assert infra <= set(p.handlers)  # trainings and services are added by their own modules
    assert LocalProvider.handler_classes[: len(INFRA_HANDLERS)] == INFRA_HANDLERS


def test_configure_reports_every_bad_argument(ctx: ProviderContext) -> None:
    p = LocalProvider()
    diags = p.configure(
        {
            "max_cpus": -1,
            "overcommit": 0.5,
            "colour": "blue",
            "instance_family": {
                "BAD": {"cpus": 0, "memory_gib": 2},
                "ALSO_BAD": {"cpus": 2, "memory_gib": 2, "gpus": -1},
            },
        },
        ctx,
    )
    summaries = [d.summary for d in diags.errors()]
    assert 'Unsupported argument "colour" in provider "local"' in summaries
    assert 'Invalid "max_cpus" in provider "local"' in summaries
    assert 'Invalid "overcommit" in provider "local"' in summaries
    assert 'Invalid cpus in instance_family "BAD"' in summaries
    assert 'Invalid gpus in instance_family "ALSO_BAD"' in summaries


def test_configure_root_custom_family_and_budget(ctx: ProviderContext) -> None:
    p = LocalProvider()
    diags = p.configure(
        {
            "root": "store",
            "max_cpus": 1,
            "max_memory_gib": 2,
            "overcommit": 3,
            "instance_family": {"MINE": [{"cpus": 1, "memory_gib": 2, "gpus": 0}]},
        },
        ctx,
    )
    assert not diags.has_errors
    assert p.storage_root(ctx) == ctx.project_dir / "store"
    assert p.family("MINE") == FamilyFacts("MINE", 1.0, 2.0, 0)
    assert p.machine() == Capacity(1.0, 2.0, 0)  # no host has fewer than 1 vCPU and 2 GiB here
    assert p.budget() == Capacity(3.0, 6.0, 0)  # overcommit multiplies cpus and memory, not GPUs
    assert LocalProvider().storage_root(ctx) == ctx.data_dir


def test_host_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16777216 kB\nMemFree:        1 kB\n")
    assert host_memory_gib(meminfo) == 16.0
    assert host_memory_gib(tmp_path / "missing") == 0.0
    host = host_capacity()
    assert host.cpus >= 1 and host.memory_gib > 0 and host.gpus >= 0


def test_machine_limits_only_lower_the_host() -> None:
    host = host_capacity()
    assert machine_capacity({}) == host
    assert machine_capacity({"max_cpus": 10_000, "max_memory_gib": 10_000_000}) == host
    assert machine_capacity({"max_cpus": 1}).cpus == 1


def test_node_size_caps_each_resource() -> None:
    node, capped = node_size(FamilyFacts("F", 8, 2, 2), Capacity(4, 16, 1))
    assert node == {"cpus": 4, "gpus": 1, "memory": 2}
    assert capped == {"cpus": {"family": 8, "machine": 4}, "gpus": {"family": 2, "machine": 1}}
    node, capped = node_size(FamilyFacts("F", 0.5, 1.5, 0), Capacity(4, 16, 0))
    assert node == {"cpus": 0.5, "gpus": 0, "memory": 1.5} and capped == {}
