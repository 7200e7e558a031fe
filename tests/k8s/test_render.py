"""The renderer offline: strict schema validation, golden files, write_render determinism."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from providers.kubernetes import KubernetesProvider, write_render
from providers.kubernetes.config import KubernetesConfig, parse_config
from providers.kubernetes.naming import label_value
from providers.kubernetes.render import render_items

from .cases import representative_items
from .conftest import ctx
from .schemas import validate_manifest

GOLDEN = Path(__file__).parent / "golden"
CONFIGS = {
    "default": {},
    "cilium": {
        "fqdn_policies": "cilium",
        "namespace": "ml-team",
        "ingress_class": "nginx",
        "gpu_node_selector": {"nvidia.com/gpu.present": "true"},
        "image_pull_secret": "regcred",
    },
}


def _render(name: str) -> list[dict[str, Any]]:
    cfg, diags = parse_config(CONFIGS[name])
    assert not diags.has_errors
    return render_items(representative_items(), cfg).manifests


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_every_manifest_validates_strictly(config: str) -> None:
    manifests = _render(config)
    assert manifests
    for obj in manifests:
        validate_manifest(obj)


def test_validator_rejects_unknown_fields() -> None:
    manifests = _render("default")
    cluster = copy.deepcopy(next(m for m in manifests if m["kind"] == "RayCluster"))
    cluster["spec"]["workerGroupSpecs"][0]["replica"] = 2  # a typo the API server would prune
    with pytest.raises(jsonschema.ValidationError):
        validate_manifest(cluster)
    deploy = copy.deepcopy(next(m for m in manifests if m["kind"] == "Deployment"))
    deploy["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_manifest(deploy)
    job = copy.deepcopy(next(m for m in manifests if m["kind"] == "RayJob"))
    job["metadata"]["labels"]["bad"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_manifest(job)


def test_labels_and_annotations_on_every_object() -> None:
    for obj in _render("default"):
        meta = obj["metadata"]
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "mlrt"
        assert meta["labels"]["mlrt.dev/address"] == label_value(meta["annotations"]["mlrt.dev/address"])
    addr = 'module.team["a"].compute_pool.gpu_pool'
    encoded = label_value(addr)
    assert encoded != addr and len(encoded) <= 63 and encoded[0].isalnum() and encoded[-1].isalnum()
    assert label_value("x" * 100) != label_value("x" * 101)


def test_pool_sizes_from_family_and_gpu_placement() -> None:
    objs = {(o["kind"], o["metadata"]["name"]): o for o in _render("cilium")}
    cpu = objs[("RayCluster", "cpu")]["spec"]
    group = cpu["workerGroupSpecs"][0]
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (2, 1, 3)
    assert cpu["enableInTreeAutoscaling"] is True
    assert group["template"]["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "3",
        "memory": "13Gi",
    }
    gpu = objs[("RayCluster", "gpu-pool")]["spec"]
    assert gpu["suspend"] is True and gpu["enableInTreeAutoscaling"] is False
    pod = gpu["workerGroupSpecs"][0]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    # A shared namespace: no Namespace or ResourceQuota objects.
    assert not any(k[0] in ("Namespace", "ResourceQuota") for k in objs)


def test_quota_reserves_for_everything_in_the_pool_namespace() -> None:
    """Issue 11, bug 6: the quota was sized for the RayCluster alone, so services' and
    submitters' pods were refused. Each workload's share is recorded and summed."""
    quota = next(
        o for o in _render("default") if o["kind"] == "ResourceQuota" and o["metadata"]["name"] == "cpu-quota"
    )
    assert {k: v for k, v in quota["metadata"]["annotations"].items() if k.startswith("reserve.")} == {
        # the RayCluster: head (1 vCPU, 4Gi) + max_nodes 3 x CPU_X64_S (3 vCPU, 13Gi)
        "reserve.mlrt.dev/compute_pool.cpu": "requests.cpu=10,requests.memory=43Gi,limits.memory=43Gi",
        # the service: (max_instances 2 + 1 pod of rolling update) x 3 vCPU, 13Gi
        "reserve.mlrt.dev/service.forecast_api": "requests.cpu=9,requests.memory=39Gi,limits.memory=39Gi",
        # the training's RayJob submitter pod
        "reserve.mlrt.dev/training.forecast": "requests.cpu=200m,requests.memory=512Mi,limits.memory=512Mi",
    }
    assert quota["spec"]["hard"] == {
        "requests.cpu": "19200m",
        "requests.memory": "84480Mi",
        "limits.memory": "84480Mi",
    }


def test_egress_without_cilium_warns_and_opens_ports() -> None:
    out = render_items(representative_items(), KubernetesConfig())
    assert any("training.forecast" in w and "pypi.org:443" in w and "not enforced" in w for w in out.warnings)
    np = next(
        o
        for o in out.manifests
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "forecast-train-egress"
    )
    assert np["spec"]["podSelector"]["matchLabels"] == {"ray.io/cluster": "cpu"}
    cidrs = [
        p["ipBlock"]["cidr"] for rule in np["spec"]["egress"] for p in rule.get("to", []) if "ipBlock" in p
    ]
    assert {"10.20.0.0/16", "192.168.1.7/32", "0.0.0.0/0"} <= set(cidrs)
    assert not any(o["kind"] == "CiliumNetworkPolicy" for o in out.manifests)


def test_egress_with_cilium_uses_fqdns() -> None:
    out = render_items(representative_items(), KubernetesConfig(fqdn_policies="cilium"))
    assert not any("training.forecast" in w for w in out.warnings)
    cnp = next(o for o in out.manifests if o["kind"] == "CiliumNetworkPolicy")
    fqdns = [f for rule in cnp["spec"]["egress"] for f in rule.get("toFQDNs", [])]
    assert {"matchName": "pypi.org"} in fqdns and {"matchPattern": "*.pythonhosted.org"} in fqdns
    np = next(
        o
        for o in out.manifests
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "forecast-train-egress"
    )
    cidrs = [
        p["ipBlock"]["cidr"] for rule in np["spec"]["egress"] for p in rule.get("to", []) if "ipBlock" in p
    ]
    assert "0.0.0.0/0" not in cidrs  # host names are enforced by Cilium, not opened


def test_training_and_service_objects() -> None:
    objs = {(o["kind"], o["metadata"]["name"]): o for o in _render("default")}
    job = objs[("RayJob", "forecast")]["spec"]
    assert job["clusterSelector"] == {"ray.io/cluster": "cpu"} and job["activeDeadlineSeconds"] == 3600
    env = yaml.safe_load(job["runtimeEnvYAML"])["env_vars"]
    assert (
        '"framework":"xgboost"' in env["MLRT_JOB_SPEC"]
        and "s3://acme/models/forecast" in env["MLRT_JOB_SPEC"]
    )
    dep = objs[("Deployment", "forecast-api")]["spec"]
    assert dep["replicas"] == 2
    server = dep["template"]["spec"]["containers"][0]
    assert server["command"][:3] == ["python", "-m", "mlrt_iac.runtime.serving"]
    assert server["command"][server["command"].index("--workers") + 1] == "7"  # 2 x 3 vCPU + 1
    assert server["readinessProbe"]["httpGet"]["path"] == "/health"
    assert dep["template"]["spec"]["imagePullSecrets"] == [{"name": "models-pull"}]
    assert dep["template"]["spec"]["initContainers"][0]["command"][-2:] == [
        "s3://acme/models/forecast/run1",
        "/models/model",
    ]
    assert ("Ingress", "forecast-api") in objs and ("Ingress", "vision-api") not in objs
    assert objs[("Deployment", "vision-api")]["spec"]["replicas"] == 0  # suspended
    assert ("PodDisruptionBudget", "vision-api") in objs


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_golden_files(config: str, tmp_path: Path) -> None:
    """The render of the representative configuration, file by file (MLRT_UPDATE_GOLDEN=1 rewrites)."""
    golden = GOLDEN / config
    out = tmp_path / "out"
    write_render(_render(config), out)
    if os.environ.get("MLRT_UPDATE_GOLDEN"):
        golden.mkdir(parents=True, exist_ok=True)
        for f in golden.glob("*.yaml"):
            f.unlink()
        for f in out.iterdir():
            (golden / f.name).write_bytes(f.read_bytes())
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in golden.glob("*.yaml"))
    for f in out.iterdir():
        assert f.read_bytes() == (golden / f.name).read_bytes(), f.name


def test_write_render_is_byte_identical_and_prunes(tmp_path: Path) -> None:
    manifests = _render("default")
    first = write_render(manifests, tmp_path / "a")
    second = write_render(list(manifests), tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes()
    assert first[-1].name == "kustomization.yaml"
    kust = yaml.safe_load(first[-1].read_text())
    assert kust["resources"] == sorted(p.name for p in first[:-1])
    assert "namespace-cluster-mlrt-cpu.yaml" in kust["resources"]
    assert "raycluster-mlrt-cpu-cpu.yaml" in kust["resources"]
    # Rendering fewer objects removes the files of the ones gone.
    write_render([m for m in manifests if m["kind"] != "Ingress"], tmp_path / "a")
    assert not list((tmp_path / "a").glob("ingress-*.yaml"))
    assert (tmp_path / "a" / "deployment-mlrt-cpu-forecast-api.yaml").exists()


def test_provider_render_and_config_errors(tmp_path: Path) -> None:
    p = KubernetesProvider()
    assert not p.configure({"fqdn_policies": "cilium"}, ctx(tmp_path)).has_errors
    manifests = p.render(representative_items()).manifests
    assert any(m["kind"] == "CiliumNetworkPolicy" for m in manifests)
    bad = KubernetesProvider().configure({"fqdn_policies": "calico", "nope": 1}, ctx(tmp_path))
    assert bad.has_errors and {d.summary for d in bad} == {
        'Invalid kubernetes provider argument "fqdn_policies"',
        'Invalid kubernetes provider argument "nope"',
    }


def test_yaml_reads_back_as_the_manifest(tmp_path: Path) -> None:
    from providers.kubernetes.yamlout import dump_yaml

    for config in CONFIGS:
        for obj in _render(config):
            assert yaml.safe_load(dump_yaml(obj)) == obj
    tricky: dict[str, object] = {
        "a": ["x", {"b": 1, "c": [1, 2.5]}, []],
        "yes": "no",
        "n": "0.5",
        "e": "",
        "m": "a: b",
        "star": "*.x",
        "t": "1e3",
        "nl": "a\nb",
        "u": "é",
        "d": {},
        "z": None,
        "o": "on",
    }
    assert yaml.safe_load(dump_yaml(tricky)) == tricky


def test_pool_labels_reach_its_objects_and_pods_and_never_override_mlrts() -> None:
    """compute_pool.labels were accepted and never rendered (issue 15, Low)."""
    from providers.kubernetes.render import render_pool

    cfg, diags = parse_config({})
    assert not diags.has_errors
    attrs = {
        "instance_family": "CPU_X64_S",
        "min_nodes": 1,
        "max_nodes": 2,
        "active_nodes": 1,
        "auto_suspend_secs": 3600,
        "labels": {"team": "search", "cost-center": "ml-42"},
    }
    out = render_pool("compute_pool.cpu", attrs, cfg)
    kinds = {o["kind"]: o for o in out.manifests}
    assert set(kinds) == {"Namespace", "ResourceQuota", "ServiceAccount", "RayCluster", "NetworkPolicy"}
    for obj in out.manifests:
        labels = obj["metadata"]["labels"]
        assert labels["team"] == "search" and labels["cost-center"] == "ml-42"
        assert labels["app.kubernetes.io/managed-by"] == "mlrt"
        validate_manifest(obj)
    cluster = kinds["RayCluster"]["spec"]
    assert cluster["headGroupSpec"]["template"]["metadata"]["labels"]["team"] == "search"
    assert cluster["workerGroupSpecs"][0]["template"]["metadata"]["labels"]["cost-center"] == "ml-42"


def test_the_ray_dashboard_is_behind_a_network_policy() -> None:
    """Issue 15 item 8: the head listens on the pod network (KubeRay needs it) and a policy lets
    only the cluster's pods, KubeRay's operator and mlrt's job submitters reach it."""
    objs = _render("default")
    cluster = next(o for o in objs if o["kind"] == "RayCluster" and o["metadata"]["name"] == "cpu")
    policy = next(o for o in objs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "cpu-head")
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == {"ray.io/cluster": "cpu", "ray.io/node-type": "head"}
    assert spec["policyTypes"] == ["Ingress"]
    own, dashboard = spec["ingress"]
    assert own == {"from": [{"podSelector": {"matchLabels": {"ray.io/cluster": "cpu"}}}]}
    assert dashboard["ports"] == [{"port": 8265, "protocol": "TCP"}]
    submitter_labels = dashboard["from"][1]["podSelector"]["matchLabels"]
    jobs = [
        o for o in objs if o["kind"] == "RayJob" and o["spec"]["clusterSelector"]["ray.io/cluster"] == "cpu"
    ]
    assert jobs and all(
        j["spec"]["submitterPodTemplate"]["metadata"]["labels"].items() >= submitter_labels.items()
        for j in jobs
    )
    assert cluster["metadata"]["namespace"] == policy["metadata"]["namespace"]


def test_a_service_model_class_reaches_the_server_command_with_a_warning() -> None:
    """Issue 12 item 4: the server rebuilds a state dict model from model_class; the image must
    hold the class's module, which this provider does not put there (the render says so)."""
    items = representative_items()
    vision = next(i for i in items if i.address == "service.vision_api")
    vision.attributes["model_class"] = "vision.nets:ResNet"
    cfg, _ = parse_config(CONFIGS["default"])
    out = render_items(items, cfg)
    dep = next(
        o for o in out.manifests if o["kind"] == "Deployment" and o["metadata"]["name"] == "vision-api"
    )
    command = dep["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--model-class") + 1] == "vision.nets:ResNet"
    assert any(
        'model_class "vision.nets:ResNet" is imported inside the serving container' in w for w in out.warnings
    )
    validate_manifest(dep)


def test_suspended_switch_renders_spec_suspend() -> None:
    cfg, diags = parse_config({})
    assert not diags.has_errors
    base = representative_items()[0]
    for attrs, expected in (
        ({}, False),
        ({"suspended": True}, True),
        ({"initially_suspended": True}, True),
        ({"initially_suspended": True, "suspended": False}, False),
    ):
        item = copy.deepcopy(base)
        item.attributes.update(attrs)
        cluster = next(m for m in render_items([item], cfg).manifests if m["kind"] == "RayCluster")
        assert cluster["spec"]["suspend"] is expected, attrs
        assert cluster["spec"]["autoscalerOptions"] == {"idleTimeoutSeconds": 1800}
        validate_manifest(cluster)
