"""`mlrt apply/plan/destroy` through the real CLI against the test Kubernetes API server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import read_state, run_mlrt

from .apiserver import TestApiServer

CONFIG = """
mlrt {
  default_provider = "kubernetes"
}

provider "kubernetes" {
  kubeconfig         = "%s"
  poll_interval_secs = 0.05
  ready_timeout_secs = 30
}

compute_pool "cpu" {
  instance_family = "CPU_X64_S"
  min_nodes       = 1
  max_nodes       = 3
}

network_rule "artifacts" {
  mode       = "EGRESS"
  type       = "IPV4"
  value_list = ["10.20.0.0/16"]
}

external_access_integration "egress" {
  allowed_network_rules = [network_rule.artifacts]
}
"""


@pytest.mark.slow
def test_apply_plan_drift_destroy_through_the_cli(apiserver: TestApiServer, tmp_path: Path) -> None:
    apiserver.auto_ready(after_gets=1)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.hcl").write_text(CONFIG % apiserver.kubeconfig(tmp_path / "kubeconfig"))
    applied = run_mlrt(project, "apply", "-auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete! Resources: 3 added" in applied.stdout
    cluster = apiserver.get("RayCluster", "mlrt-cpu", "cpu")
    assert cluster is not None
    assert cluster["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mlrt"
    assert {r["address"] for r in read_state(project)["resources"]} == {
        "compute_pool.cpu",
        "network_rule.artifacts",
        "external_access_integration.egress",
    }

    assert run_mlrt(project, "plan", "-detailed-exitcode").returncode == 0

    # Someone scales the worker group by hand: the next plan sees it.
    groups = cluster["spec"]["workerGroupSpecs"]
    groups[0]["replicas"] = 3
    apiserver.edit("RayCluster", "mlrt-cpu", "cpu", {"spec": {"workerGroupSpecs": groups}})
    drift = run_mlrt(project, "plan", "-detailed-exitcode", "-no-color")
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert "compute_pool.cpu" in drift.stdout

    destroyed = run_mlrt(project, "destroy", "-auto-approve")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert apiserver.get("RayCluster", "mlrt-cpu", "cpu") is None
    assert read_state(project)["resources"] == []
