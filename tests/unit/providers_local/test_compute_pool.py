"""compute_pool on the local provider: records, the machine-wide ledger, scaling and rollback."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlrt_iac.errors import PermanentError, RetryableError
from mlrt_iac.provider import ProviderContext
from providers.local import LocalProvider
from providers.local.compute_pool import ComputePoolHandler

from .conftest import release


def pool(name: str | None, active: Any = 1, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "instance_family": "TINY",
        "min_nodes": 1,
        "max_nodes": 4,
        "active_nodes": active,
        "auto_resume": True,
        "auto_suspend_secs": 3600,
        "initially_suspended": False,
        "scale_timeout_secs": 720,
        "labels": {},
        "comment": None,
    }
    base.update(kw)
    return base


def handler(p: LocalProvider) -> ComputePoolHandler:
    h = p.handler("compute_pool")
    assert isinstance(h, ComputePoolHandler)
    return h


def ledger(ctx: ProviderContext) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ctx.data_dir / "pools" / "ledger.json").read_text())
    return data["pools"]


def reserved_cpus(ctx: ProviderContext) -> float:
    return sum(n["cpus"] for e in ledger(ctx).values() for n in e["nodes"])


def test_create_read_delete(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    res = h.create(ctx, pool("train", active=2, labels={"team": "a"}))
    assert res.id == "train"
    a = res.attributes
    assert a["state"] == "ACTIVE" and a["address"] == "local://train" and a["capped"] == {}
    assert a["nodes"] == [
        {"name": "train-node-0", "cpus": 1, "gpus": 0, "memory": 1},
        {"name": "train-node-1", "cpus": 1, "gpus": 0, "memory": 1},
    ]
    assert a["labels"] == {"team": "a"}
    record = ctx.data_dir / "pools" / "train.json"
    assert json.loads(record.read_text())["attributes"] == a
    assert h.read(ctx, "train", a).attributes == a
    assert [n["name"] for n in ledger(ctx)["train"]["nodes"]] == ["train-node-0", "train-node-1"]

    h.delete(ctx, "train", a)
    assert not record.exists()
    assert ledger(ctx) == {}
    assert h.read(ctx, "train", a).attributes is None
    h.delete(ctx, "train", a)  # deleting what is gone succeeds


def test_active_nodes_is_never_defaulted_by_the_provider(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    """The engine fills active_nodes (min_nodes by default); the handler builds what it is handed."""
    res = handler(provider).create(ctx, pool("p", active=2, min_nodes=2))
    assert res.attributes["active_nodes"] == 2 and len(res.attributes["nodes"]) == 2
    with pytest.raises(PermanentError, match="was handed no active_nodes"):
        handler(provider).create(ctx, pool("q", active=None, min_nodes=2))


def test_drift_when_record_deleted_by_hand(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    a = h.create(ctx, pool("p")).attributes
    (ctx.data_dir / "pools" / "p.json").unlink()
    assert h.read(ctx, "p", a).attributes is None
    # Creating it again (what the next apply does) works and re-reserves exactly once.
    h.create(ctx, pool("p"))
    assert reserved_cpus(ctx) == 1


def test_catalogue_family_is_capped_by_the_machine(
    make_provider: Callable[..., LocalProvider], ctx: ProviderContext
) -> None:
    p = make_provider(max_cpus=2, max_memory_gib=4, max_gpus=0)
    lines: list[str] = []
    ctx.log = lines.append
    a = handler(p).create(ctx, pool("big", instance_family="CPU_X64_L", max_nodes=1)).attributes
    # CPU_X64_L is 28 vCPUs / 116 GiB in the catalogue; this "machine" has 2 vCPUs / 4 GiB.
    assert a["nodes"] == [{"name": "big-node-0", "cpus": 2, "gpus": 0, "memory": 4}]
    assert a["capped"] == {"cpus": {"family": 28, "machine": 2}, "memory_gib": {"family": 116, "machine": 4}}
    assert any("CPU_X64_L" in line and "capped" in line for line in lines)
    assert not any("compute_pool" in line for line in lines)  # the terminal prints the address


def test_gpu_family_on_a_machine_without_gpus(
    make_provider: Callable[..., LocalProvider], ctx: ProviderContext
) -> None:
    p = make_provider(max_cpus=2, max_memory_gib=4, max_gpus=0)
    a = handler(p).create(ctx, pool("g", instance_family="GPU_NV_S", max_nodes=1)).attributes
    assert a["nodes"][0]["gpus"] == 0
    assert a["capped"]["gpus"] == {"family": 1, "machine": 0}


def test_initially_suspended_then_resume(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    a = h.create(ctx, pool("s", active=2, initially_suspended=True)).attributes
    assert a["state"] == "SUSPENDED" and a["nodes"] == []
    assert "s" not in ledger(ctx)
    # An active_nodes change while suspended is recorded but reserves nothing.
    a = h.update(ctx, "s", a, pool("s", active=3, initially_suspended=True)).attributes
    assert a["state"] == "SUSPENDED" and a["nodes"] == [] and a["active_nodes"] == 3
    resumed = h.resume(ctx, "s")
    assert resumed["state"] == "ACTIVE" and len(resumed["nodes"]) == 3
    assert h.read(ctx, "s", a).attributes == resumed
    suspended = h.suspend(ctx, "s")
    assert suspended["state"] == "SUSPENDED" and "s" not in ledger(ctx)


def test_scale_up_and_down(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    a = h.create(ctx, pool("p", active=1)).attributes
    a = h.update(ctx, "p", a, pool("p", active=4)).attributes
    assert [n["name"] for n in a["nodes"]] == [f"p-node-{i}" for i in range(4)]
    assert reserved_cpus(ctx) == 4
    a = h.update(ctx, "p", a, pool("p", active=2)).attributes
    assert len(a["nodes"]) == 2 and reserved_cpus(ctx) == 2
    assert h.read(ctx, "p", a).attributes == a


def test_scale_that_cannot_complete_rolls_back(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    h.create(ctx, pool("other", active=2))  # holds 2 of the 4 vCPUs
    b = h.create(ctx, pool("b", active=1, scale_timeout_secs=1)).attributes
    started = time.monotonic()
    with pytest.raises(PermanentError) as err:
        # 3 nodes need 3 vCPUs but only 2 are free: one node is added, then it waits 1 s.
        h.update(ctx, "b", b, pool("b", active=3, scale_timeout_secs=1))
    waited = time.monotonic() - started
    assert waited >= 1.0
    msg = f"{err.value.summary} {err.value.detail}"
    assert "did not complete within 1s" in msg
    assert "rolled back to its previous size of 1 node" in msg
    assert "other" in err.value.detail  # names who holds the capacity
    assert h.read(ctx, "b", b).attributes == b
    assert len(ledger(ctx)["b"]["nodes"]) == 1
    assert reserved_cpus(ctx) == 3


def test_scale_waits_for_capacity_freed_by_another_pool(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    h = handler(provider)
    other = h.create(ctx, pool("other", active=3)).attributes
    b = h.create(ctx, pool("b", active=1)).attributes
    deleter = threading.Thread(target=h.delete, args=(ctx, "other", other))
    deleter.start()
    try:
        a = h.update(ctx, "b", b, pool("b", active=4, scale_timeout_secs=60)).attributes
    finally:
        deleter.join()
    assert len(a["nodes"]) == 4 and reserved_cpus(ctx) == 4


@pytest.mark.timeout(30)
def test_size_beyond_the_whole_budget_fails_at_once_and_leaves_nothing(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    h = handler(provider)
    with pytest.raises(PermanentError) as err:
        h.create(ctx, pool("huge", active=5, max_nodes=5))  # default 720 s timeout: must not wait
    assert "cannot have 5 nodes" in err.value.summary and "nothing was created" in err.value.detail
    assert not (ctx.data_dir / "pools" / "huge.json").exists()
    assert ledger(ctx) == {}


def test_create_waiting_for_capacity_times_out_and_leaves_nothing(
    provider: LocalProvider, ctx: ProviderContext
) -> None:
    h = handler(provider)
    h.create(ctx, pool("other", active=3))
    with pytest.raises(PermanentError) as err:
        h.create(ctx, pool("late", active=2, scale_timeout_secs=1))
    assert "nothing was created" in err.value.detail
    assert not (ctx.data_dir / "pools" / "late.json").exists()
    assert set(ledger(ctx)) == {"other"}


def test_cancel_stops_a_waiting_scale_and_rolls_back(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    h.create(ctx, pool("other", active=3))
    b = h.create(ctx, pool("b", active=1)).attributes
    ctx.cancel.set()
    with pytest.raises(PermanentError) as err:
        h.update(ctx, "b", b, pool("b", active=2))
    assert "cancelled" in err.value.summary
    assert len(ledger(ctx)["b"]["nodes"]) == 1


def test_dead_writers_reservations_are_not_counted(provider: LocalProvider, ctx: ProviderContext) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    pid = int(dead.stdout)
    ledger_path = ctx.data_dir / "pools" / "ledger.json"
    ledger_path.parent.mkdir(parents=True)
    # A process killed in the middle of creating "ghost" left a reservation of the whole budget.
    ghost = [{"name": f"ghost-node-{i}", "cpus": 1, "gpus": 0, "memory": 1} for i in range(4)]
    ledger_path.write_text(json.dumps({"version": 1, "pools": {"ghost": {"nodes": ghost, "pid": pid}}}))
    a = handler(provider).create(ctx, pool("p", active=4, scale_timeout_secs=1)).attributes
    assert len(a["nodes"]) == 4
    assert set(ledger(ctx)) == {"p"}


def test_ledger_lock_held_makes_delete_retryable_and_the_pool_remains(
    provider: LocalProvider, ctx: ProviderContext, lock_holder: Callable[[Path], subprocess.Popen[str]]
) -> None:
    h = handler(provider)
    a = h.create(ctx, pool("p")).attributes
    provider.lock_timeout = 0.3
    holder = lock_holder(ctx.data_dir / "pools" / "ledger.lock")
    with pytest.raises(RetryableError) as err:
        h.delete(ctx, "p", a)
    assert "held by another process" in err.value.summary
    assert h.read(ctx, "p", a).attributes == a  # a failed delete means it still exists
    with pytest.raises(RetryableError):
        h.create(ctx, pool("q"))
    assert not (ctx.data_dir / "pools" / "q.json").exists()
    release(holder)
    h.delete(ctx, "p", a)
    assert h.read(ctx, "p", a).attributes is None


def test_diff_update_versus_replace(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    prior = h.create(ctx, pool("p", active=1)).attributes
    d = h.diff(ctx, prior, pool("p", active=3, max_nodes=3, auto_suspend_secs=60, comment="bigger"))
    assert set(d.changed) == {"active_nodes", "max_nodes", "auto_suspend_secs", "comment"}
    assert not d.needs_replace
    d = h.diff(ctx, prior, pool("p", instance_family="CPU_X64_XS"))
    assert d.changed == ["instance_family"] and d.requires_replace == ["instance_family"]
    assert "instance_family" in d.reasons
    d = h.diff(ctx, prior, pool("p2"))
    assert d.requires_replace == ["name"]
    assert h.diff(ctx, prior, pool("p", initially_suspended=True)).changed == []
    assert h.diff(ctx, prior, pool("p")).changed == []


def test_plan_computed_matches_create(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    desired = pool("p", active=2)
    planned = h.plan_computed(ctx, desired, None)
    created = h.create(ctx, desired).attributes
    assert planned == {k: created[k] for k in ("nodes", "state", "address", "capped")}
    from mlrt_iac.values import UNKNOWN

    assert h.plan_computed(ctx, pool("p", active=UNKNOWN), None) == {}


def test_validate_reports_an_unknown_family(provider: LocalProvider) -> None:
    """Bad node counts are the model's plan-time check (one rule, reported once), not the handler's."""
    h = handler(provider)
    assert not h.validate(pool("p", active=5, max_nodes=2)).has_errors
    diags = h.validate(pool("p", instance_family="NOPE_XL"))
    assert diags.has_errors and 'Unknown instance family "NOPE_XL"' in diags[0].summary
    assert "TINY" in diags[0].detail and "CPU_X64_S" in diags[0].detail
    assert not h.validate(pool("p")).has_errors


def test_bad_input_is_permanent_and_creates_nothing(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    with pytest.raises(PermanentError):
        h.create(ctx, pool("p", active=3, max_nodes=2))
    with pytest.raises(PermanentError):
        h.create(ctx, pool("../escape"))
    with pytest.raises(PermanentError):
        h.create(ctx, pool("p", instance_family="NOPE_XL"))
    assert not (ctx.data_dir / "pools").exists() or not list((ctx.data_dir / "pools").glob("*.json"))


def test_defaults_left_unset_are_not_changes(provider: LocalProvider, ctx: ProviderContext) -> None:
    """The engine passes name=None when the block leaves it unset (and active_nodes filled)."""
    h = handler(provider)
    ctx.address = 'compute_pool.gpu["a10"]'
    prior = h.create(ctx, pool(None, active=2, min_nodes=2)).attributes
    assert prior["name"] == "gpu-a10" and prior["active_nodes"] == 2
    assert h.diff(ctx, prior, pool(None, active=2, min_nodes=2)).changed == []
    assert h.diff(ctx, prior, pool(None, active=3, min_nodes=2)).changed == ["active_nodes"]


def test_create_again_after_a_crash_adopts_the_record(provider: LocalProvider, ctx: ProviderContext) -> None:
    """An apply killed after create but before the state write: the next create must not double-book."""
    h = handler(provider)
    h.create(ctx, pool("p", active=2))
    again = h.create(ctx, pool("p", active=2)).attributes
    assert len(again["nodes"]) == 2 and reserved_cpus(ctx) == 2


def test_parallel_creates_never_overcommit_the_budget(provider: LocalProvider, ctx: ProviderContext) -> None:
    h = handler(provider)
    outcomes: dict[str, str] = {}

    def create(name: str) -> None:
        try:
            h.create(ctx, pool(name, active=1, scale_timeout_secs=1))
            outcomes[name] = "ok"
        except PermanentError:
            outcomes[name] = "failed"

    threads = [threading.Thread(target=create, args=(f"p{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = sorted(n for n, o in outcomes.items() if o == "ok")
    assert len(ok) == 4 and len(outcomes) == 8
    assert sorted(ledger(ctx)) == ok and reserved_cpus(ctx) == 4
    assert sorted(p.stem for p in (ctx.data_dir / "pools").glob("p*.json")) == ok
