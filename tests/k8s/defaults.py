"""What kube-apiserver's defaulting adds to the objects mlrt writes.

Built-in kinds get the Go defaulting functions' values (pkg/apis/{core,apps}/v1/defaults.go)
for the fields mlrt's manifests leave out, inside list items included: each container's
`imagePullPolicy` and termination message, each port's `protocol`, probe timings and scheme, the
pod's restart and DNS policy, a Deployment's strategy, history and progress deadline, a
Service's type, affinity and `targetPort`. Custom resources (RayCluster, RayJob) get the
`default:` values of their CRD's structural schema, read from the KubeRay v1.7.0 CRDs in
tests/fixtures, as the API server applies them (a default is filled where its parent object
exists): `ports[].protocol: TCP`, `workerGroupSpecs[].numOfHosts: 1`, `priority: 0`,
`submissionMode: K8sJobMode` ... A client that compares what it sent with what it reads back
must not call any of these drift.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

KUBERAY = Path(__file__).resolve().parents[1] / "fixtures" / "kuberay-v1.7.0"
_CRD_FILES = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml"}


def _container_defaults(c: dict[str, Any]) -> None:
    image = str(c.get("image", ""))
    last = image.rsplit("/", 1)[-1]
    untagged = ":" not in last and "@" not in image
    c.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") or untagged else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for probe in (c.get(k) for k in ("readinessProbe", "livenessProbe", "startupProbe")):
        if isinstance(probe, dict):
            for k, v in (
                ("timeoutSeconds", 1),
                ("periodSeconds", 10),
                ("successThreshold", 1),
                ("failureThreshold", 3),
            ):
                probe.setdefault(k, v)
            if isinstance(probe.get("httpGet"), dict):
                probe["httpGet"].setdefault("scheme", "HTTP")


def pod_defaults(spec: dict[str, Any]) -> None:
    for k, v in (
        ("restartPolicy", "Always"),
        ("terminationGracePeriodSeconds", 30),
        ("dnsPolicy", "ClusterFirst"),
        ("securityContext", {}),
        ("schedulerName", "default-scheduler"),
    ):
        spec.setdefault(k, copy.deepcopy(v))
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(c, dict):
            _container_defaults(c)


@functools.cache
def _crd_schema(kind: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRDs are large
    crd = yaml.load((KUBERAY / _CRD_FILES[kind]).read_text(), Loader=loader)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return version["schema"]["openAPIV3Schema"]


def _schema_defaults(obj: Any, schema: dict[str, Any]) -> None:
    """Fill the structural schema's `default:` values into `obj`, in place, recursively."""
    if isinstance(obj, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in obj and "default" in sub:
                obj[name] = copy.deepcopy(sub["default"])
            if name in obj:
                _schema_defaults(obj[name], sub)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for item in obj:
            _schema_defaults(item, schema["items"])


def fill_defaults(kind: str, obj: dict[str, Any]) -> None:
    """Default `obj` (of `kind`) in place, as kube-apiserver does on every write."""
    if kind in _CRD_FILES:
        _schema_defaults(obj, _crd_schema(kind))
        return
    spec = obj.get("spec")
    if kind == "Pod" and isinstance(spec, dict):
        pod_defaults(spec)
    if not isinstance(spec, dict):
        return
    if kind == "Deployment":
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        template = spec.get("template") or {}
        if isinstance(template.get("spec"), dict):
            pod_defaults(template["spec"])
    elif kind == "Service":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
