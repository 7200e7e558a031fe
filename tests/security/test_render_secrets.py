"""Sensitive values never reach a manifest (issue 15, item 2).

`mlrt render` wrote a `sensitive = true` variable in `hyper_params` into the RayJob's
`MLRT_JOB_SPEC`. Now the value goes into a Secret that `apply` creates and `render` leaves out
(with a warning), the job spec carries a reference, and the launcher reads the Secret at run
time through the Kubernetes API.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clients.kubernetes import KubeClient
from mlrt_iac.runtime import kube_secrets
from tests.e2e.helpers import read_state, run_mlrt
from tests.k8s.apiserver import TestApiServer
from tests.k8s.schemas import validate_manifest

SECRET = "Sup3r-S3cret-T0ken"
MODEL_URI = "s3://models/churn?access_key=AKIAEXAMPLE&secret_key=M0delKey"

CONFIG = """
mlrt {
  default_provider = "kubernetes"
}

provider "kubernetes" {
  %(kubeconfig)s
  poll_interval_secs = 0.05
  ready_timeout_secs = 30
}

variable "api_token" {
  type      = string
  sensitive = true
  default   = "%(secret)s"
}

variable "model_uri" {
  type      = string
  sensitive = true
  default   = "%(model)s"
}

compute_pool "cpu" {
  instance_family = "CPU_X64_S"
  min_nodes       = 1
  max_nodes       = 2
}

training "churn" {
  compute_pool = compute_pool.cpu
  framework    = "xgboost"
  hyper_params = {
    token = var.api_token
    depth = 6
  }

  dataset "train" {
    source    = "s3://bucket/train.parquet"
    label_col = "y"
  }
}

service "api" {
  compute_pool = compute_pool.cpu
  model        = var.model_uri
}
"""


@pytest.fixture(scope="module")
def apiserver() -> Iterator[TestApiServer]:
    server = TestApiServer().start()
    try:
        yield server
    finally:
        server.stop()


def _project(tmp_path: Path, kubeconfig: Path | None = None, extra: str = "") -> Path:
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    line = f'kubeconfig = "{kubeconfig}"' if kubeconfig else ""
    text = CONFIG % {"kubeconfig": line, "secret": SECRET, "model": MODEL_URI} + extra
    (project / "main.hcl").write_text(text)
    return project


def _job_spec(rayjob: dict[str, Any]) -> dict[str, Any]:
    env = yaml.safe_load(rayjob["spec"]["runtimeEnvYAML"])["env_vars"]
    spec = json.loads(env["MLRT_JOB_SPEC"])
    assert isinstance(spec, dict)
    return spec


def test_render_keeps_sensitive_values_out_and_says_where_they_come_from(tmp_path: Path) -> None:
    project = _project(tmp_path)
    out = tmp_path / "out"
    res = run_mlrt(project, "render", "-out", str(out), timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    texts = {p.name: p.read_text() for p in out.glob("*.yaml")}
    everything = res.stdout + res.stderr + "".join(texts.values())
    assert SECRET not in everything and "M0delKey" not in everything
    assert base64.b64encode(SECRET.encode()).decode() not in everything
    manifests = [yaml.safe_load(t) for name, t in texts.items() if name != "kustomization.yaml"]
    for m in manifests:
        validate_manifest(m)
    kinds = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    assert not any(kind == "Secret" for kind, _ in kinds)  # render leaves the values out ...
    assert ("Role", "churn-secrets") in kinds and ("RoleBinding", "churn-secrets") in kinds
    assert "Secret mlrt-cpu/churn-secrets" in res.stderr  # ... and says where they must come from
    assert "Secret mlrt-cpu/api-secrets" in res.stderr

    rayjob = next(m for m in manifests if m["kind"] == "RayJob")
    spec = _job_spec(rayjob)
    assert spec["hyper_params"] == {"token": {"$mlrt_secret": "hyper_params.token"}, "depth": 6}
    assert spec["secret_ref"] == {"namespace": "mlrt-cpu", "name": "churn-secrets"}
    role = next(m for m in manifests if m["kind"] == "Role")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["churn-secrets"], "verbs": ["get"]}
    ]
    binding = next(m for m in manifests if m["kind"] == "RoleBinding")
    cluster = next(m for m in manifests if m["kind"] == "RayCluster")
    head_account = cluster["spec"]["headGroupSpec"]["template"]["spec"]["serviceAccountName"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": head_account, "namespace": "mlrt-cpu"}]
    assert ("ServiceAccount", head_account) in kinds

    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    fetch = deployment["spec"]["template"]["spec"]["initContainers"][0]
    assert "$(MLRT_MODEL_URI)" in fetch["command"]
    assert fetch["env"] == [
        {"name": "MLRT_MODEL_URI", "valueFrom": {"secretKeyRef": {"name": "api-secrets", "key": "model"}}}
    ]


def test_render_to_stdout_gives_each_object_its_own_metadata(tmp_path: Path) -> None:
    """The Secret's Role and RoleBinding once shared one metadata dict: YAML aliases on stdout."""
    res = run_mlrt(_project(tmp_path), "render", timeout=120)
    assert res.returncode == 0, res.stderr
    assert "&id" not in res.stdout and "*id" not in res.stdout
    assert SECRET not in res.stdout


def test_a_sensitive_value_kubernetes_must_see_inline_is_an_error(tmp_path: Path) -> None:
    project = _project(tmp_path)
    main = project / "main.hcl"
    main.write_text(
        main.read_text().replace(
            'instance_family = "CPU_X64_S"',
            'instance_family = "CPU_X64_S"\n  labels = { team = var.api_token }',
        )
    )
    res = run_mlrt(project, "render", timeout=120)
    assert res.returncode == 1
    assert "labels is sensitive, and Kubernetes needs it in the object itself" in res.stderr
    assert SECRET not in res.stdout + res.stderr


@pytest.mark.slow  # over 7 s: many CLI runs or a deliberate wait
def test_apply_stores_the_values_in_a_secret_only_and_destroy_removes_it(
    apiserver: TestApiServer, tmp_path: Path
) -> None:
    apiserver.auto_ready(after_gets=1)
    project = _project(tmp_path, apiserver.kubeconfig(tmp_path / "kubeconfig"))
    applied = run_mlrt(project, "apply", "-auto-approve", "-target=training.churn", timeout=120)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert SECRET not in applied.stdout + applied.stderr

    secret = apiserver.get("Secret", "mlrt-cpu", "churn-secrets")
    assert secret is not None
    assert json.loads(base64.b64decode(secret["data"]["hyper_params.token"])) == SECRET
    rayjob = apiserver.get("RayJob", "mlrt-cpu", "churn")
    assert rayjob is not None and SECRET not in json.dumps(rayjob)
    assert apiserver.get("Role", "mlrt-cpu", "churn-secrets") is not None
    assert apiserver.get("RoleBinding", "mlrt-cpu", "churn-secrets") is not None
    # No other object of the cluster holds the value.
    for obj in apiserver.objects():
        if obj["kind"] != "Secret":
            assert SECRET not in json.dumps(obj), obj["kind"]

    plan = run_mlrt(project, "plan", "-detailed-exitcode", "-target=training.churn", timeout=120)
    assert plan.returncode == 0, plan.stdout + plan.stderr  # refresh reads the Secret back: no drift

    destroyed = run_mlrt(project, "destroy", "-auto-approve", timeout=120)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert apiserver.get("Secret", "mlrt-cpu", "churn-secrets") is None
    assert apiserver.get("Role", "mlrt-cpu", "churn-secrets") is None
    assert read_state(project)["resources"] == []


def _sa_dir(tmp_path: Path, token: str) -> Path:
    d = tmp_path / "sa"
    d.mkdir()
    (d / "token").write_text(token)
    return d


def test_the_launcher_reads_the_values_back_from_the_api(
    apiserver: TestApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {"hyper_params.token": base64.b64encode(json.dumps(SECRET).encode()).decode()}
    client = KubeClient(str(apiserver.kubeconfig(tmp_path / "kubeconfig")), None)
    try:
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns1"}})
        client.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "t-secrets", "namespace": "ns1"},
                "data": data,
            }
        )
    finally:
        client.close()
    monkeypatch.setenv("MLRT_KUBE_API", apiserver.url)
    monkeypatch.setenv("MLRT_KUBE_SA_DIR", str(_sa_dir(tmp_path, apiserver.token)))
    spec = {
        "hyper_params": {"token": {"$mlrt_secret": "hyper_params.token"}, "depth": 6},
        "secret_ref": {"namespace": "ns1", "name": "t-secrets"},
    }
    assert kube_secrets.resolve(spec) == {"hyper_params": {"token": SECRET, "depth": 6}}

    missing = dict(spec, secret_ref={"namespace": "ns1", "name": "gone"})
    with pytest.raises(kube_secrets.SecretUnavailable, match="HTTP 404.*mlrt apply"):
        kube_secrets.resolve(missing)


def test_a_launcher_whose_secret_cannot_be_read_stops_before_training(
    apiserver: TestApiServer, tmp_path: Path
) -> None:
    spec = {
        "address": "training.t",
        "name": "t",
        "model_dir": str(tmp_path / "model"),
        "framework": "xgboost",
        "hyper_params": {"token": {"$mlrt_secret": "hyper_params.token"}},
        "secret_ref": {"namespace": "ns1", "name": "t-secrets"},
    }
    env = dict(os.environ)
    env.update(
        MLRT_JOB_SPEC=json.dumps(spec),
        MLRT_KUBE_API=apiserver.url,
        MLRT_KUBE_SA_DIR=str(_sa_dir(tmp_path, "not-the-token")),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mlrt_iac.runtime.launch", "--spec-env", "MLRT_JOB_SPEC"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode != 0
    assert "cannot read Secret ns1/t-secrets (HTTP 401)" in proc.stderr
    assert not (tmp_path / "model").exists()


def test_a_sensitive_map_moves_once_and_odd_paths_get_valid_keys() -> None:
    from providers.kubernetes import secrets as sec

    spec = {"hyper_params": {"a": 1, "b": [1, "x"]}, "params": {"weird key/é": "v"}, "depth": 3}
    paths = [("hyper_params",), ("hyper_params", "a"), ("params", "weird key/é"), ("missing", "x")]
    marked, values = sec.extract(spec, paths)
    odd = sec.secret_key(("params", "weird key/é"))
    assert odd.startswith("v-") and len(odd) == 22
    assert values == {"hyper_params": {"a": 1, "b": [1, "x"]}, odd: "v"}
    assert marked == {
        "hyper_params": {"$mlrt_secret": "hyper_params"},
        "params": {"weird key/é": {"$mlrt_secret": odd}},
        "depth": 3,
    }
    assert spec["hyper_params"] == {"a": 1, "b": [1, "x"]}  # the input is not changed
    assert kube_secrets.substitute(marked, values) == spec
