"""The pool namespace's ResourceQuota, sized for everything that runs there.

A compute_pool's Namespace holds its RayCluster, its services' Deployments and its trainings'
RayJobs (whose submitter pods run there too), and one ResourceQuota limits them all together:
the quota admission charges every pod of the namespace against it. So each of them *reserves*
its share, recorded as an annotation on the quota (`reserve.mlrt.dev/<address>:
requests.cpu=5,requests.memory=30Gi,limits.memory=30Gi`), and `spec.hard` is the sum of the
reservations:

- the pool (its RayCluster): the head pod plus `maxReplicas` worker pods;
- a service (its Deployment): `replicas + maxSurge` pods (a rolling update runs one more pod
  than replicas), each charged as the quota does: the larger of its containers' sum and its
  init container;
- a training (its RayJob): the submitter pod. (When trainings get a RayCluster of their own
  through `rayClusterSpec`, its head and workers are added here from the same manifest.)

Each reservation is computed from the workload's rendered manifests, so `mlrt render` (which
sees every resource and writes the summed quota) and apply (where each workload adds its
reservation to the live quota before its pods exist, and removes it after they are gone) give
the same object. The reservations live on the object itself because a pool cannot know at
apply time which workloads reference it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from .naming import label_value

Manifest = dict[str, Any]
Charge = dict[str, int]  # resource -> thousandths of its unit (millicores, milli-bytes)
PREFIX = "reserve.mlrt.dev/"
# What the quota limits, in this order in its annotations and messages.
RESOURCES = ("requests.cpu", "requests.memory", "limits.memory", "requests.nvidia.com/gpu")
_UNITS = {  # in thousandths, so every quantity mlrt writes is an integer
    "": 1000,
    "m": 1,
    "k": 1000 * 1000,
    "M": 1000 * 10**6,
    "G": 1000 * 10**9,
    "Ki": 1000 * 2**10,
    "Mi": 1000 * 2**20,
    "Gi": 1000 * 2**30,
    "Ti": 1000 * 2**40,
}
_QUANTITY = re.compile(r"^([0-9]+)(?:\.([0-9]+))?([a-zA-Z]*)$")


@lru_cache(maxsize=1024)
def parse_quantity(text: str) -> int:
    """A Kubernetes quantity in thousandths of its unit (`500m` -> 500, `1Gi` -> 2**30 * 1000);
    exact for the quantities mlrt renders (integers, `m`, binary and decimal suffixes)."""
    m = _QUANTITY.match(text.strip())
    if m is None or m.group(3) not in _UNITS:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    whole, frac, unit = int(m.group(1)), m.group(2) or "", _UNITS[m.group(3)]
    return whole * unit + (int(frac) * unit) // 10 ** len(frac) if frac else whole * unit


def format_quantity(resource: str, value: int) -> str:
    """Canonical text: `6`, `500m`, `28Gi`, `1536Mi`."""
    if resource.endswith("memory"):
        for unit in ("Gi", "Mi", "Ki"):
            if value and value % _UNITS[unit] == 0:
                return f"{value // _UNITS[unit]}{unit}"
        return str(value // 1000)
    return str(value // 1000) if value % 1000 == 0 else f"{value}m"


def pod_charge(pod_spec: Mapping[str, Any]) -> Charge:
    """What the quota charges one pod of this spec."""
    out: Charge = {}
    for resource in RESOURCES:
        kind, _, name = resource.partition(".")

        def amount(c: Mapping[str, Any], kind: str = kind, name: str = name) -> int:
            value = ((c.get("resources") or {}).get(kind) or {}).get(name)
            return parse_quantity(str(value)) if value is not None else 0

        total = sum(amount(c) for c in pod_spec.get("containers") or [])
        init = max((amount(c) for c in pod_spec.get("initContainers") or []), default=0)
        if max(total, init):
            out[resource] = max(total, init)
    return out


def _times(charge: Charge, n: int) -> Charge:
    return {k: v * n for k, v in charge.items() if n}


def add(*charges: Charge) -> Charge:
    out: Charge = {}
    for c in charges:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out


def _surge(deployment: Manifest, replicas: int) -> int:
    rolling = ((deployment["spec"].get("strategy") or {}).get("rollingUpdate")) or {}
    surge = rolling.get("maxSurge", 1)
    return int(surge) if isinstance(surge, int) and replicas else (1 if replicas else 0)


def reservation(manifests: Iterable[Manifest]) -> Charge:
    """What the pods of these manifests can take at once (see the module docstring)."""
    total: Charge = {}
    for obj in manifests:
        spec = obj.get("spec") or {}
        if obj["kind"] == "Deployment":
            replicas = int(spec.get("replicas", 1))
            pod = _times(pod_charge(spec["template"]["spec"]), replicas + _surge(obj, replicas))
            total = add(total, pod)
        elif obj["kind"] == "RayJob":
            total = add(total, pod_charge(((spec.get("submitterPodTemplate") or {}).get("spec")) or {}))
            if spec.get("rayClusterSpec"):
                total = add(total, _cluster(spec["rayClusterSpec"]))
        elif obj["kind"] == "RayCluster":  # suspended or not: it may resume at any time
            total = add(total, _cluster(spec))
    return total


def _cluster(spec: Mapping[str, Any]) -> Charge:
    head = pod_charge(spec["headGroupSpec"]["template"]["spec"])
    workers = [
        _times(pod_charge(g["template"]["spec"]), int(g.get("maxReplicas", g.get("replicas", 0))))
        for g in spec.get("workerGroupSpecs") or []
    ]
    return add(head, *workers)


def encode(charge: Charge) -> str:
    return ",".join(f"{k}={format_quantity(k, charge[k])}" for k in RESOURCES if charge.get(k))


def decode(text: str) -> Charge:
    out: Charge = {}
    for term in filter(None, str(text).split(",")):
        key, _, value = term.partition("=")
        out[key.strip()] = parse_quantity(value)
    return out


def key_of(address: str) -> str:
    """The annotation that holds one resource's reservation."""
    return PREFIX + label_value(address)


def reservations_of(quota: Manifest | None) -> dict[str, str]:
    """The reservations recorded on a (live or rendered) quota."""
    annotations = ((quota or {}).get("metadata") or {}).get("annotations") or {}
    return {k: str(v) for k, v in annotations.items() if k.startswith(PREFIX)}


def with_reservations(quota: Manifest, reservations: Mapping[str, str]) -> Manifest:
    """`quota` carrying exactly `reservations` (its own included) and `hard` as their sum."""
    meta = dict(quota["metadata"])
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith(PREFIX)}
    annotations.update(sorted(reservations.items()))
    meta["annotations"] = annotations
    total = add(*(decode(v) for v in reservations.values()))
    hard = {k: format_quantity(k, total[k]) for k in RESOURCES if total.get(k)}
    return {**quota, "metadata": meta, "spec": {**(quota.get("spec") or {}), "hard": hard}}


def total(reservations: Mapping[str, str]) -> str:
    """The sum of the reservations, as `requests.cpu=12,requests.memory=48Gi,...`."""
    return encode(add(*(decode(v) for v in reservations.values())))


def describe(reservations: Mapping[str, str]) -> str:
    """Each share, for the plan: `compute_pool.cpu requests.cpu=7,...; service.api ...`."""
    return "; ".join(f"{k[len(PREFIX) :]} {v}" for k, v in sorted(reservations.items()))
