"""A fleet of Kubernetes objects as a previous `mlrt apply` would have left them: the HCL, the
state entries and the live objects in the test API server, built without waiting for N applies.

Two compute pools (namespaces `mlrt-a`, `mlrt-b`), one network rule and one integration, and
`services` services split between the pools, each with ingress: four objects each (Deployment,
Service, Ingress, PodDisruptionBudget; a service renders no NetworkPolicy, as it takes no
external access integrations), plus each pool's Namespace, ResourceQuota and RayCluster. Desired attributes go through the engine's own path
(`validate_instances`, `desired_attributes`) and computed ones through the handlers' code, so
a plan of the HCL against the state finds no changes. Used by tests/k8s/test_read_many.py and
bench/refresh_scale.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.kubernetes import ObjRef
from mlrt_iac.config.instances import ResourceInstance
from mlrt_iac.diagnostics import SourceRange
from mlrt_iac.model import validate_instances
from mlrt_iac.plan.desired import desired_attributes
from mlrt_iac.provider import ProviderContext, Related
from providers.kubernetes import KubernetesProvider
from providers.kubernetes.handlers import KubeHandler

from .apiserver import KINDS, TestApiServer

POOLS = ("a", "b")
SERVICE_KINDS = ("Deployment", "Service", "Ingress", "PodDisruptionBudget")
MODEL = "s3://models/forecast/v1"
_HERE = SourceRange.at("main.hcl", 1)

HCL = """mlrt {
  default_provider = "kubernetes"
}

provider "kubernetes" {
  kubeconfig     = "%(kubeconfig)s"
  list_page_size = %(page)d
}

compute_pool "a" {
  instance_family = "CPU_X64_S"
}

compute_pool "b" {
  instance_family = "CPU_X64_S"
}

network_rule "artifacts" {
  mode       = "EGRESS"
  type       = "IPV4"
  value_list = ["10.20.0.0/16"]
}

external_access_integration "egress" {
  allowed_network_rules = [network_rule.artifacts]
}

service "s" {
  count                        = %(services)d
  compute_pool                 = count.index %% 2 == 0 ? compute_pool.a : compute_pool.b
  model                        = "%(model)s"
  ingress_enabled              = true
}
"""


@dataclass
class Entry:
    """One state entry and the objects its resource owns."""

    address: str
    type: str
    attributes: dict[str, Any]
    dependencies: list[str]
    manifests: list[dict[str, Any]] = field(default_factory=list)
    id: str = ""

    def state(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "type": self.type,
            "name": self.address.split(".")[1].split("[")[0],
            "index_key": int(self.address.split("[")[1][:-1]) if "[" in self.address else None,
            "provider": "kubernetes",
            "id": self.id,
            "attributes": self.attributes,
            "dependencies": self.dependencies,
            "status": "ready",
        }


@dataclass
class Fleet:
    entries: list[Entry]
    provider: KubernetesProvider
    ctx: ProviderContext

    @property
    def objects(self) -> int:
        return sum(len(e.manifests) for e in self.entries)

    def related(self, entry: Entry) -> dict[str, Related]:
        by = {e.address: e for e in self.entries}
        return {
            d: Related(d, by[d].type, str(by[d].attributes["name"]), by[d].attributes)
            for d in entry.dependencies
        }

    def context(self, entry: Entry) -> ProviderContext:
        return self.ctx.for_resource(entry.address, self.related(entry))

    def hcl(self, kubeconfig: Path, page: int = 500) -> str:
        services = sum(e.type == "service" for e in self.entries)
        return HCL % {"kubeconfig": kubeconfig, "page": page, "services": services, "model": MODEL}


def _desired(instances: list[ResourceInstance]) -> dict[str, dict[str, Any]]:
    models, diags = validate_instances(instances, cross=True)
    assert not diags.has_errors, [f"{d.summary}: {d.detail}" for d in diags]
    return {i.address: desired_attributes(i, models[i.address]) for i in instances}


def make_fleet(services: int, kubeconfig: Path, data_dir: Path, page: int = 500) -> Fleet:
    """The entries of `services` services (and the pools, rule and integration they use), with
    the manifests each renders; nothing is stored yet (see `seed`)."""
    provider = KubernetesProvider()
    ctx = ProviderContext(data_dir, data_dir / ".mlrt")
    diags = provider.configure({"kubeconfig": str(kubeconfig), "list_page_size": page}, ctx)
    assert not diags.has_errors, list(diags)
    inst = [
        ResourceInstance(
            f"compute_pool.{p}",
            "compute_pool",
            p,
            None,
            "",
            "kubernetes",
            {"instance_family": "CPU_X64_S"},
            _HERE,
        )
        for p in POOLS
    ]
    inst.append(
        ResourceInstance(
            "network_rule.artifacts",
            "network_rule",
            "artifacts",
            None,
            "",
            "kubernetes",
            {"mode": "EGRESS", "type": "IPV4", "value_list": ["10.20.0.0/16"]},
            _HERE,
        )
    )
    inst.append(
        ResourceInstance(
            "external_access_integration.egress",
            "external_access_integration",
            "egress",
            None,
            "",
            "kubernetes",
            {"allowed_network_rules": ["artifacts"]},
            _HERE,
        )
    )
    infra = _desired(inst)
    template = _desired(
        [
            ResourceInstance(
                "service.s[0]",
                "service",
                "s",
                0,
                "",
                "kubernetes",
                {
                    "compute_pool": "a",
                    "model": MODEL,
                    "ingress_enabled": True,
                },
                _HERE,
            ),
            *inst,
        ]
    )["service.s[0]"]
    fleet = Fleet([], provider, ctx)
    for address, desired in infra.items():
        deps = ["network_rule.artifacts"] if address.startswith("external_access") else []
        fleet.entries.append(Entry(address, address.split(".")[0], desired, deps))
    for e in fleet.entries:
        handler = _handler(provider, e.type)
        ectx = fleet.context(e)
        created = handler.create(ectx, dict(e.attributes)) if e.type != "compute_pool" else None
        if created is not None:
            e.attributes, e.id = created.attributes, created.id
        else:
            e.manifests = handler.render(ectx, e.attributes).manifests
            cluster = handler.primary(e.manifests)
            e.attributes = {**e.attributes, **handler.observed(e.attributes, cluster)}
            e.id = handler.object_id(cluster)
    svc = _handler(provider, "service")
    for i in range(services):
        pool = POOLS[i % 2]
        e = Entry(
            f"service.s[{i}]",
            "service",
            {**template, "compute_pool": pool, **({"name": f"s-{i}"} if "name" in template else {})},
            [f"compute_pool.{pool}"],
        )
        ectx = fleet.context(e)
        e.manifests = svc.render(ectx, e.attributes).manifests
        deployment = svc.primary(e.manifests)
        live = {**deployment, "status": _ready(deployment)}
        e.attributes = {**e.attributes, **svc.computed_from(ectx, e.attributes, live)}
        e.id = svc.object_id(deployment)
        fleet.entries.append(e)
    return fleet


def _handler(provider: KubernetesProvider, type_name: str) -> KubeHandler:
    h = provider.handler(type_name)
    assert isinstance(h, KubeHandler)
    return h


def _ready(deployment: dict[str, Any]) -> dict[str, Any]:
    n = int(deployment["spec"].get("replicas", 1))
    return {"observedGeneration": 1, "replicas": n, "availableReplicas": n, "updatedReplicas": n}


def seed(server: TestApiServer, fleet: Fleet) -> None:
    """Store every object as mlrt's server-side apply would, Deployments ready (no HTTP)."""
    kinds = {k.kind: k for k in KINDS}
    store = server.store
    with store.lock:
        for e in fleet.entries:
            for obj in e.manifests:
                ref = ObjRef.of(obj)
                store.apply(kinds[ref.kind], ref.namespace, ref.name, obj, "mlrt", False)
                if ref.kind == "Deployment":
                    key = (kinds[ref.kind], ref.namespace, ref.name)
                    store.objects[key]["status"] = _ready(obj)


def write_project(fleet: Fleet, project: Path, kubeconfig: Path, page: int = 500) -> None:
    """`main.hcl` and a local state holding every entry, as after an apply."""
    from mlrt_iac.state import StateDocument, discover_backends

    project.mkdir(parents=True, exist_ok=True)
    (project / "main.hcl").write_text(fleet.hcl(kubeconfig, page))
    doc = StateDocument.new()
    for e in fleet.entries:
        doc.set(e.state())
    discover_backends()["local"](project, {}).write(doc)
