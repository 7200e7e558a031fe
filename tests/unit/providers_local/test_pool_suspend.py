"""Suspend, resume, auto-resume and auto-suspend of local compute pools (issue 12): real ledger
files, real budget; the service tests start real inference-server processes."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import ProviderContext, Related
from providers.local import LocalProvider
from providers.local.compute_pool import ComputePoolHandler
from providers.local.service import ServiceHandler

from .test_compute_pool import handler, ledger, pool


def pool_ctx(ctx: ProviderContext, name: str = "p") -> ProviderContext:
    return ctx.for_resource(f"compute_pool.{name}")


def work_ctx(ctx: ProviderContext, address: str, pool_name: str = "p") -> ProviderContext:
    rel = Related(f"compute_pool.{pool_name}", "compute_pool", pool_name, {"name": pool_name})
    return ctx.for_resource(address, related={rel.address: rel})


def test_suspended_is_an_in_place_change_compared_with_reality(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    h = handler(provider)
    a = h.create(pool_ctx(ctx), pool("p")).attributes
    assert a.get("suspended") is None and a["state"] == "ACTIVE"  # unset stays unset
    d = h.diff(ctx, a, pool("p", suspended=True))
    assert d.changed == ["suspended"] and d.requires_replace == []
    assert h.diff(ctx, a, pool("p", suspended=False)).changed == []
    assert h.diff(ctx, a, pool("p")).changed == []  # unset: left alone
    assert h.diff(ctx, a, pool("p", initially_suspended=True)).changed == []  # creation-only
    planned = h.plan_computed(ctx, pool("p", suspended=True), a)
    assert planned["state"] == "SUSPENDED" and planned["nodes"] == []


def test_suspend_releases_the_budget_and_resume_takes_it_back(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    h = handler(provider)
    a = h.create(pool_ctx(ctx), pool("p", active=3)).attributes
    with pytest.raises(PermanentError, match="did not complete"):
        h.create(pool_ctx(ctx, "q"), pool("q", active=2, scale_timeout_secs=0.2))
    s = h.update(pool_ctx(ctx), "p", a, pool("p", active=3, suspended=True)).attributes
    assert s["state"] == "SUSPENDED" and s["nodes"] == [] and "p" not in ledger(ctx)
    assert h.read(pool_ctx(ctx), "p", s).attributes == s
    # the budget is free: another pool takes 2 of the 4 vCPUs
    q = h.create(pool_ctx(ctx, "q"), pool("q", active=2)).attributes
    assert q["state"] == "ACTIVE"
    h.delete(pool_ctx(ctx, "q"), "q", q)
    r = h.update(pool_ctx(ctx), "p", s, pool("p", active=3, suspended=False)).attributes
    assert r["state"] == "ACTIVE" and r["suspended"] is False and len(ledger(ctx)["p"]["nodes"]) == 3


def test_a_pool_created_suspended_and_its_switch(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    a = h.create(pool_ctx(ctx), pool("p", suspended=True)).attributes
    assert a["state"] == "SUSPENDED" and a["suspended"] is True and ledger(ctx) == {}
    b = h.create(pool_ctx(ctx, "b"), pool("b", initially_suspended=True, suspended=False)).attributes
    assert b["state"] == "ACTIVE"  # the switch wins over the creation-only argument


def test_auto_resume_when_a_workload_claims_a_suspended_pool(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    h = handler(provider)
    h.create(pool_ctx(ctx), pool("p", active=2, initially_suspended=True))
    lines: list[str] = []
    wctx = work_ctx(ctx, "training.t")
    wctx.log = lines.append
    assert h.claim(wctx, "p") is None
    got = h.read(pool_ctx(ctx), "p", {}).attributes
    assert got is not None and got["state"] == "ACTIVE" and len(ledger(ctx)["p"]["nodes"]) == 2
    assert any("resuming it (auto_resume = true)" in line for line in lines)

    h.create(pool_ctx(ctx, "n"), pool("n", initially_suspended=True, auto_resume=False))
    with pytest.raises(PermanentError) as err:
        h.claim(work_ctx(ctx, "training.t", "n"), "n")
    assert 'training.t cannot run: compute_pool "n" is suspended' in err.value.summary
    assert "auto_resume = false" in str(err.value.detail)
    assert "n" not in ledger(ctx)


def test_a_training_scales_the_pool_up_to_its_num_nodes_and_back(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    h = handler(provider)
    h.create(pool_ctx(ctx), pool("p", active=1, max_nodes=3))
    wctx = work_ctx(ctx, "training.t")
    before = h.claim(wctx, "p", 3)
    assert before == 1 and len(ledger(ctx)["p"]["nodes"]) == 3
    h.release(wctx, "p", before)
    assert len(ledger(ctx)["p"]["nodes"]) == 1
    with pytest.raises(PermanentError, match="allows 3"):
        h.claim(wctx, "p", 4)
    assert len(ledger(ctx)["p"]["nodes"]) == 1


def _age(ctx: ProviderContext, name: str, seconds: float) -> None:
    """Move the pool's last use `seconds` into the past (what waiting would do)."""
    path = ctx.data_dir / "pools" / f"{name}.json"
    rec = json.loads(path.read_text())
    rec["last_active"] -= seconds
    path.write_text(json.dumps(rec))


def test_auto_suspend_applies_at_the_next_read(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    a = h.create(pool_ctx(ctx), pool("p", active=2, auto_suspend_secs=60)).attributes
    _age(ctx, "p", 30)
    assert h.read(pool_ctx(ctx), "p", a).attributes["state"] == "ACTIVE"  # type: ignore[index]
    _age(ctx, "p", 40)
    got = h.read(pool_ctx(ctx), "p", a).attributes
    assert got is not None and got["state"] == "SUSPENDED" and got.get("suspended") is None
    assert "p" not in ledger(ctx)
    # auto_suspend_secs = 0 never suspends
    b = h.create(pool_ctx(ctx, "b"), pool("b", auto_suspend_secs=0)).attributes
    _age(ctx, "b", 10**6)
    assert h.read(pool_ctx(ctx, "b"), "b", b).attributes["state"] == "ACTIVE"  # type: ignore[index]


# -- with a real service ------------------------------------------------------------------------


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/health", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _service(model: Path) -> dict[str, Any]:
    return {
        "name": "api",
        "compute_pool": "p",
        "model": str(model),
        "functions": ["predict"],
        "max_instances": 1,
        "num_workers": 1,
        "max_queue": 8,
        "max_batch_rows": None,
        "suspended": False,
        "ingress_enabled": False,
        "gpu_requests": 0,
        "image_repository": None,
        "model_class": None,
    }


@pytest.fixture
def model(tmp_path: Path) -> Path:
    from tests.unit.serving.helpers import make_xgboost

    make_xgboost(tmp_path / "model")
    return tmp_path / "model"


@pytest.mark.slow
def test_suspending_a_pool_stops_its_service_and_resuming_starts_it(
    make_provider: Callable[..., LocalProvider], ctx: ProviderContext, model: Path
) -> None:
    provider = make_provider(max_cpus=4, max_memory_gib=8, max_gpus=0, overcommit=4)
    pools = handler(provider)
    svc = provider.handler("service")
    assert isinstance(svc, ServiceHandler) and isinstance(pools, ComputePoolHandler)
    a = pools.create(pool_ctx(ctx), pool("p", active=2, auto_resume=False)).attributes
    sctx = work_ctx(ctx, "service.api")
    s = svc.create(sctx, _service(model)).attributes
    endpoint = s["endpoint"]
    try:
        assert _healthy(endpoint)
        # an idle clock that ran out does not suspend a pool with a live service
        _age(ctx, "p", 10**6)
        assert pools.read(pool_ctx(ctx), "p", a).attributes["state"] == "ACTIVE"  # type: ignore[index]

        sus = pools.update(pool_ctx(ctx), "p", a, pool("p", active=2, auto_resume=False, suspended=True))
        assert sus.attributes["state"] == "SUSPENDED" and "p" not in ledger(ctx)
        assert not _healthy(endpoint)
        read = svc.read(sctx, "api", s).attributes
        assert read is not None and read["status"] == "SUSPENDED"  # not gone: no re-create planned
        # a service that starts on it now cannot resume it (auto_resume = false)
        with pytest.raises(PermanentError, match="is suspended"):
            svc.update(sctx, "api", s, {**_service(model), "max_queue": 9})

        res = pools.update(
            pool_ctx(ctx), "p", sus.attributes, pool("p", active=2, auto_resume=False, suspended=False)
        )
        assert res.attributes["state"] == "ACTIVE" and len(ledger(ctx)["p"]["nodes"]) == 2
        assert _healthy(endpoint)  # the same endpoint, ready when the resume returns
        back = svc.read(sctx, "api", read).attributes
        assert back is not None and back["status"] == "READY"
    finally:
        svc.delete(sctx, "api", s)
    assert not _healthy(endpoint)


@pytest.mark.slow
def test_a_service_auto_resumes_its_pool(
    make_provider: Callable[..., LocalProvider], ctx: ProviderContext, model: Path
) -> None:
    provider = make_provider(max_cpus=4, max_memory_gib=8, max_gpus=0, overcommit=4)
    pools = handler(provider)
    svc = provider.handler("service")
    assert isinstance(svc, ServiceHandler)
    pools.create(pool_ctx(ctx), pool("p", active=1, suspended=True))
    sctx = work_ctx(ctx, "service.api")
    s = svc.create(sctx, _service(model)).attributes
    try:
        assert _healthy(s["endpoint"])
        got = pools.read(pool_ctx(ctx), "p", {}).attributes
        assert got is not None and got["state"] == "ACTIVE" and got["suspended"] is False
        # the configuration still says suspended = true: the next plan suspends it again
        assert pools.diff(ctx, got, pool("p", active=1, suspended=True)).changed == ["suspended"]
    finally:
        svc.delete(sctx, "api", s)
