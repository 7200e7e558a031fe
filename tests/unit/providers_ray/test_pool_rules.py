"""Ray compute pools without a running cluster: the capacity budget (a size over it fails before
any `ray start`), a pool created suspended (nothing started, state SUSPENDED), the in-place
`suspended` diff, and a workload refused on a suspended pool with auto_resume = false."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import ProviderContext, Related
from providers.ray import RayProvider, cluster
from providers.ray.compute_pool import ComputePoolHandler, suspend_history

TINY = {"cpus": 1, "memory_gib": 1, "gpus": 0, "gpu_type": ""}


def provider(ctx: ProviderContext, **config: Any) -> ComputePoolHandler:
    p = RayProvider()
    diags = p.configure({"instance_family": {"TINY": dict(TINY)}, **config}, ctx)
    assert not diags.has_errors, list(diags)
    h = p.handler("compute_pool")
    assert isinstance(h, ComputePoolHandler)
    return h


def pool(name: str, active: int = 1, **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "instance_family": "TINY",
        "min_nodes": 1,
        "max_nodes": 4,
        "active_nodes": active,
        "auto_resume": True,
        "auto_suspend_secs": 3600,
        "initially_suspended": False,
        "suspended": None,
        "scale_timeout_secs": 720,
        "labels": {},
        "comment": None,
        **kw,
    }


@pytest.fixture
def ctx(tmp_path: Path) -> ProviderContext:
    return ProviderContext(project_dir=tmp_path, data_dir=tmp_path / ".mlrt").for_resource("compute_pool.p")


def test_a_size_over_the_machine_budget_fails_before_starting_anything(ctx: ProviderContext) -> None:
    h = provider(ctx, max_cpus=2, max_memory_gib=8)
    with pytest.raises(PermanentError) as err:
        h.create(ctx, pool("p", active=3))
    assert 'compute_pool "p" cannot have 3 nodes on this machine' in err.value.summary
    assert "overcommit" in str(err.value.detail)
    assert not (ctx.data_dir / "ray" / "pools" / "p.json").exists()
    # overcommit raises the budget, as in the local provider
    h2 = provider(ctx, max_cpus=2, max_memory_gib=8, overcommit=2)
    with pytest.raises(PermanentError, match="cannot have 5 nodes"):
        h2.create(ctx, pool("p", active=5, max_nodes=8))


def test_other_managed_clusters_hold_part_of_the_budget(ctx: ProviderContext) -> None:
    h = provider(ctx, max_cpus=2, max_memory_gib=8)
    other = cluster.new_record("other", ctx.project_dir, cluster.NodeSize(1, 0, 1))
    other.workers = {"other-node-1": "x"}
    path = ctx.data_dir / "ray" / "pools"
    path.mkdir(parents=True)
    (path / "other.json").write_text(json.dumps(other.to_json()))
    with pytest.raises(PermanentError) as err:
        h.create(ctx, pool("p", active=1))
    assert "other (2 vCPUs" in str(err.value.detail)
    other.suspended = True  # a suspended cluster holds nothing
    other.workers = {}
    (path / "other.json").write_text(json.dumps(other.to_json()))
    created = h.create(ctx, pool("p", suspended=True)).attributes  # nothing started either way
    assert created["state"] == "SUSPENDED"


def test_a_pool_created_suspended_starts_nothing_and_refuses_work_without_auto_resume(
    ctx: ProviderContext,
) -> None:
    h = provider(ctx)
    res = h.create(ctx, pool("p", initially_suspended=True, auto_resume=False))
    a = res.attributes
    assert a["state"] == "SUSPENDED" and a["nodes"] == [] and a["suspended"] is None
    rec = cluster.ClusterRecord.from_json(json.loads((ctx.data_dir / "ray/pools/p.json").read_text()))
    assert rec.suspended and not cluster.cluster_pids(rec)
    assert suspend_history(ctx.data_dir, a["address"]) == (True, False)
    rctx = ctx.for_resource("compute_pool.p", private=res.private)
    read = h.read(rctx, "p", a).attributes
    assert read is not None and read["state"] == "SUSPENDED"
    # the switch is an in-place change, compared with what the pool is
    d = h.diff(ctx, a, pool("p", suspended=False, auto_resume=False))
    assert d.changed == ["suspended"] and not d.requires_replace
    assert h.diff(ctx, a, pool("p", auto_resume=False)).changed == []
    assert h.diff(ctx, a, pool("p", initially_suspended=True, auto_resume=False)).changed == []

    rel = Related("compute_pool.p", "compute_pool", "p", a, dict(res.private))
    wctx = ctx.for_resource("training.t", related={rel.address: rel})
    with pytest.raises(PermanentError) as err:
        h.claim(wctx, rel, 1)
    assert 'training.t cannot run: compute_pool "p" is suspended' in err.value.summary
    assert not cluster.cluster_pids(rec)


def test_overcommit_must_be_at_least_one(ctx: ProviderContext) -> None:
    p = RayProvider()
    diags = p.configure({"overcommit": 0.5}, ctx)
    assert diags.has_errors and 'Invalid "overcommit"' in list(diags)[0].summary
