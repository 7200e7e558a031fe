"""`mlrt apply/plan/destroy` through the real CLI against the test Kubernetes API server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clients.kubernetes import KubeClient
from mlrt_iac.cli.main import main
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


SLOW_TRAINING = """
mlrt {
  default_provider = "kubernetes"
}

provider "kubernetes" {
  kubeconfig         = "%s"
  poll_interval_secs = 0.05
}

compute_pool "slow" {
  instance_family = "CPU_X64_XS"
}

training "t" {
  compute_pool = compute_pool.slow
  framework    = "xgboost"

  dataset "train" {
    source    = "s3://bucket/train.parquet"
    label_col = "y"
  }

  timeouts {
    create = "5s"
  }
}
"""


def _fresh(apiserver: TestApiServer) -> None:
    with apiserver.store.lock:
        apiserver.store.objects.clear()
        apiserver.store.owners.clear()
        apiserver.store.pending_delete.clear()
        apiserver.faults.clear()
    apiserver.auto_ready(after_gets=1)


def _project(apiserver: TestApiServer, tmp_path: Path, config: str) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.hcl").write_text(config % apiserver.kubeconfig(tmp_path / "kubeconfig"))
    return project


@pytest.mark.slow  # over 7 s: many CLI runs or a deliberate wait
def test_create_timeout_reaches_the_kubernetes_wait(apiserver: TestApiServer, tmp_path: Path) -> None:
    """`timeouts { create = "5s" }` bounds the RayJob wait: the apply fails after about 5 s with
    a Terraform-style error, not after the provider's 900 s default, and leaves no RayJob."""
    _fresh(apiserver)
    with apiserver.store.lock:
        apiserver.store.controllers.pop("RayJob")  # the job never starts: never ready
    project = _project(apiserver, tmp_path, SLOW_TRAINING)
    start = time.monotonic()
    applied = run_mlrt(project, "apply", "-auto-approve", timeout=120)
    elapsed = time.monotonic() - start
    out = applied.stdout + applied.stderr
    assert applied.returncode == 1, out
    assert "Error: Timed out waiting for RayJob mlrt-slow/t to be ready" in out, out
    assert "timeouts" in out and "Traceback" not in out
    assert 5 <= elapsed < 60, f"apply took {elapsed:.1f}s"
    print(f"create timeout: apply failed after {elapsed:.1f}s")
    assert apiserver.get("RayJob", "mlrt-slow", "t") is None  # the failed create removed it
    assert apiserver.get("RayCluster", "mlrt-slow", "slow") is not None
    assert {r["address"] for r in read_state(project)["resources"]} == {"compute_pool.slow"}
    assert run_mlrt(project, "destroy", "-auto-approve").returncode == 0


def test_engine_retries_transient_api_errors(apiserver: TestApiServer, tmp_path: Path) -> None:
    """An apply answered 429/5xx raises; the engine (the one owner of retries) tries the
    operation again. A status read answered 503 during the readiness wait is just polled again."""
    _fresh(apiserver)
    project = _project(apiserver, tmp_path, CONFIG)
    apiserver.inject(429, count=1, retry_after=0.1, method="PATCH")
    apiserver.inject(503, count=1, method="GET")
    applied = run_mlrt(project, "apply", "-auto-approve")
    out = applied.stdout + applied.stderr
    assert applied.returncode == 0, out
    assert "Apply complete! Resources: 3 added" in out
    assert "answered 429 while applying Namespace mlrt-cpu; retrying" in out
    assert "answered 503 while reading RayCluster mlrt-cpu/cpu); polling again" in out
    assert "503 while reading RayCluster mlrt-cpu/cpu; retrying" not in out  # not a retried create
    assert "Warning: could not remove" not in out  # the failed attempts removed what they applied
    assert all(f.count == 0 for f in apiserver.faults)
    assert run_mlrt(project, "destroy", "-auto-approve").returncode == 0


def test_repaired_drift_leaves_no_stale_drift_in_state(
    apiserver: TestApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11, bug 2: `drift` is the provider's own computed attribute; after apply repaired
    it, state kept the planned drift list, so the nightly `plan -refresh-only
    -detailed-exitcode` said "No changes" (exit 0) when the same edit came back. Also bug 3:
    the repair of a kubectl edit applies (force), with no 409."""
    _fresh(apiserver)
    project = _project(apiserver, tmp_path, CONFIG)

    def mlrt(*args: str) -> tuple[int, str]:
        """The CLI in this process (a subprocess per command took 30 s on a loaded machine)."""
        capsys.readouterr()
        code = main(["-chdir", str(project), *args, "-no-color"])
        out = capsys.readouterr()
        return code, out.out + out.err

    assert mlrt("apply", "-auto-approve")[0] == 0

    def scale_by_hand() -> None:
        cluster = apiserver.get("RayCluster", "mlrt-cpu", "cpu")
        assert cluster is not None
        groups = cluster["spec"]["workerGroupSpecs"]
        groups[0]["replicas"] = 3
        apiserver.edit("RayCluster", "mlrt-cpu", "cpu", {"spec": {"workerGroupSpecs": groups}})

    scale_by_hand()
    code, out = mlrt("plan", "-refresh-only", "-detailed-exitcode")
    assert code == 2, out
    assert "workerGroupSpecs[0].replicas: 1 -> 3" in out
    assert "now owned by kubectl-edit; apply will take it back" in out

    code, out = mlrt("apply", "-auto-approve")
    assert code == 0 and "409" not in out, out
    assert apiserver.get("RayCluster", "mlrt-cpu", "cpu")["spec"]["workerGroupSpecs"][0]["replicas"] == 1  # type: ignore[index]
    (pool,) = [r for r in read_state(project)["resources"] if r["address"] == "compute_pool.cpu"]
    assert not pool["attributes"].get("drift"), pool["attributes"]["drift"]

    scale_by_hand()  # the same drift comes back
    code, out = mlrt("plan", "-refresh-only", "-detailed-exitcode")
    assert code == 2, out


TIMED_TRAINING = SLOW_TRAINING.replace('create = "5s"', 'create = "2h"')


def test_timeouts_reach_the_applied_objects(
    apiserver: TestApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11, bug 4: the applied RayJob had no activeDeadlineSeconds while `mlrt render`
    gave it the training's `timeouts { create }` (the engine now hands the handler the
    resource's timeouts)."""
    _fresh(apiserver)
    project = _project(apiserver, tmp_path, TIMED_TRAINING)
    capsys.readouterr()
    code = main(["-chdir", str(project), "apply", "-auto-approve", "-no-color"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    job = apiserver.get("RayJob", "mlrt-slow", "t")
    assert job is not None and job["spec"]["activeDeadlineSeconds"] == 7200
    rendered = tmp_path / "rendered"
    assert main(["-chdir", str(project), "render", "-out", str(rendered)]) == 0
    assert "activeDeadlineSeconds: 7200" in (rendered / "rayjob-mlrt-slow-t.yaml").read_text()


@pytest.mark.slow  # an apply and a plan of the whole example: about 6 s
def test_the_gitops_example_converges(
    apiserver: TestApiServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11, bug 1: right after apply, plan -detailed-exitcode exited 2 ("updated in-place"
    for every pool and service) because the server defaults fields inside list items
    (containers, ports, RayCluster groups). The gitops example, applied against the test
    server (which defaults as kube-apiserver and the KubeRay CRDs do), plans no changes."""
    _fresh(apiserver)
    monkeypatch.setenv("KUBECONFIG", str(apiserver.kubeconfig(tmp_path / "kubeconfig")))
    project = tmp_path / "gitops"
    project.mkdir()
    text = (Path(__file__).resolve().parents[2] / "examples" / "gitops" / "main.hcl").read_text()
    text = text.replace(
        'provider "kubernetes" {\n', 'provider "kubernetes" {\n  poll_interval_secs = 0.02\n', 1
    )
    (project / "main.hcl").write_text(text)

    def mlrt(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["-chdir", str(project), *args, "-no-color"])
        out = capsys.readouterr()
        return code, out.out + out.err

    client = KubeClient(str(tmp_path / "kubeconfig"))
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mlrt-system"}})
    client.close()
    code, out = mlrt("apply", "-auto-approve")
    assert code == 0, out
    code, out = mlrt("plan", "-detailed-exitcode")
    assert code == 0, out
