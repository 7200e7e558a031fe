"""A managed Ray pool suspends and resumes in place (issue 12, item 6): `suspended = true` stops
every process of the cluster and keeps its record and address, the state says SUSPENDED and a
plan sees no drift; `suspended = false` starts it again on the same address; an idle cluster is
suspended at the next command after auto_suspend_secs; a workload's claim
auto-resumes a suspended pool, after which the configuration's `suspended = true` plans a
suspend again. Real `ray start` processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlrt_iac.provider import ProviderContext, Related
from providers.ray import RayProvider, cluster
from providers.ray.client import Dashboard
from providers.ray.compute_pool import ComputePoolHandler
from tests.e2e.helpers import read_state, run_mlrt

from .conftest import write_project

pytestmark = pytest.mark.ray

MAIN = """
mlrt {
  default_provider = "ray"
}

provider "ray" {}

compute_pool "p" {
  instance_family = "CPU_X64_XS"
  %(switch)s
}
"""


def _pool(project: Path) -> dict:
    return next(r for r in read_state(project)["resources"] if r["address"] == "compute_pool.p")


def _record(project: Path) -> cluster.ClusterRecord:
    path = project / ".mlrt" / "ray" / "pools" / "p.json"
    return cluster.ClusterRecord.from_json(json.loads(path.read_text()))


def _apply(project: Path, switch: str) -> str:
    (project / "main.hcl").write_text(MAIN % {"switch": switch})
    out = run_mlrt(project, "apply", "-auto-approve", timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_managed_pool_suspends_resumes_and_auto_resumes(tmp_path: Path) -> None:
    project = write_project(tmp_path / "pool", {"main.hcl": MAIN % {"switch": ""}})
    try:
        _apply(project, "")
        first = _pool(project)
        address = first["attributes"]["address"]
        assert first["attributes"]["state"] == "ACTIVE" and len(first["attributes"]["nodes"]) == 1
        assert cluster.cluster_pids(_record(project))

        out = _apply(project, "suspended = true")
        assert "1 changed" in out, out
        rec = _record(project)
        assert rec.suspended and not cluster.cluster_pids(rec)
        assert not Dashboard(address).reachable()
        attrs = _pool(project)["attributes"]
        assert attrs["state"] == "SUSPENDED" and attrs["nodes"] == [] and attrs["address"] == address
        plan = run_mlrt(project, "plan", "-detailed-exitcode", timeout=120)
        assert plan.returncode == 0, plan.stdout + plan.stderr  # suspended is not drift

        out = _apply(project, "suspended = false")
        assert "1 changed" in out, out
        rec = _record(project)
        assert not rec.suspended and cluster.cluster_pids(rec)
        assert Dashboard(address).reachable()  # the same address
        assert _pool(project)["attributes"]["state"] == "ACTIVE"

        # idle past auto_suspend_secs: the next command's read suspends it
        rec_path = project / ".mlrt" / "ray" / "pools" / "p.json"
        data = json.loads(rec_path.read_text())
        data["last_active"] -= 3601  # auto_suspend_secs defaults to 3600
        rec_path.write_text(json.dumps(data))
        plan = run_mlrt(project, "plan", "-detailed-exitcode", "-no-color", timeout=120)
        assert plan.returncode == 2, plan.stdout + plan.stderr
        assert "Objects have changed outside of mlrt" in plan.stdout, plan.stdout
        assert "~ suspended = true -> false" in plan.stdout, plan.stdout
        assert not cluster.cluster_pids(_record(project))

        # configured suspended: nothing to do; then a training's claim resumes it (auto_resume)
        out = _apply(project, "suspended = true")
        assert "0 changed" in out or "No changes" in out, out
        assert not cluster.cluster_pids(_record(project))
        state = _pool(project)
        provider = RayProvider()
        ctx = ProviderContext(project_dir=project, data_dir=project / ".mlrt")
        assert not provider.configure({}, ctx).has_errors
        pools = provider.handler("compute_pool")
        assert isinstance(pools, ComputePoolHandler)
        rel = Related("compute_pool.p", "compute_pool", "p", state["attributes"], state.get("private", {}))
        lines: list[str] = []
        wctx = ctx.for_resource("training.t", related={rel.address: rel})
        wctx.log = lines.append
        assert pools.claim(wctx, rel, 1) is None
        assert any("resuming it (auto_resume = true)" in line for line in lines), lines
        assert cluster.cluster_pids(_record(project)) and Dashboard(address).reachable()
        plan = run_mlrt(project, "plan", "-detailed-exitcode", "-no-color", timeout=120)
        assert plan.returncode == 2, plan.stdout + plan.stderr
        assert "~ suspended = false -> true" in plan.stdout, plan.stdout

        rec = _record(project)
        gone = run_mlrt(project, "destroy", "-auto-approve", timeout=120)
        assert gone.returncode == 0, gone.stdout + gone.stderr
        assert not cluster.cluster_pids(rec)
    finally:
        path = project / ".mlrt" / "ray" / "pools" / "p.json"
        if path.exists():
            cluster.stop(_record(project))
