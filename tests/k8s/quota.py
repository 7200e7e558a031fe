"""ResourceQuota admission for pods, as kube-apiserver's quota admission plugin does it.

A pod is charged, per resource, the larger of the sum over its containers and the largest
init container (init containers run one at a time); pods in a terminal phase are not charged.
Every quota in the namespace applies on its own: a pod that would take a quota's usage of a
resource it limits past `hard` is refused with the real 403 message,
`exceeded quota: NAME, requested: requests.cpu=6, used: requests.cpu=24, limited: requests.cpu=26`,
and a pod that leaves out a request the quota limits is refused with
`failed quota: NAME: must specify requests.cpu`.

The test server charges Pods only (as the real plugin does for compute resources): a
Deployment or RayCluster is admitted whatever its size, and its pods are refused when the
simulated controllers create them (`TestApiServer.model_pods`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

_SUFFIX = {
    "": Fraction(1),
    "m": Fraction(1, 1000),
    "k": Fraction(1000),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$")
COMPUTE = ("cpu", "memory", "nvidia.com/gpu")


def parse_quantity(text: Any) -> Fraction:
    m = _QUANTITY.match(str(text).strip())
    if m is None or m.group(2) not in _SUFFIX:
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    return Fraction(m.group(1)) * _SUFFIX[m.group(2)]


def format_quantity(resource: str, value: Fraction) -> str:
    """The canonical form the API server prints: `500m`, `6`, `24Gi`, `512Mi`."""
    if resource.endswith("memory"):
        for suffix in ("Gi", "Mi", "Ki"):
            if value % _SUFFIX[suffix] == 0 and value:
                return f"{int(value / _SUFFIX[suffix])}{suffix}"
        return str(int(value))
    if value.denominator == 1:
        return str(int(value))
    return f"{int(value * 1000)}m"


def pod_charge(pod: dict[str, Any]) -> dict[str, Fraction]:
    """What one pod is charged: `requests.cpu`, `limits.memory`, ... (and `cpu`/`memory`,
    which quotas treat as requests)."""
    spec = pod.get("spec") or {}
    out: dict[str, Fraction] = {}
    for kind in ("requests", "limits"):
        for res in COMPUTE:

            def amount(c: dict[str, Any], kind: str = kind, res: str = res) -> Fraction:
                value = ((c.get("resources") or {}).get(kind) or {}).get(res)
                return parse_quantity(value) if value is not None else Fraction(0)

            total = sum((amount(c) for c in spec.get("containers") or []), Fraction(0))
            init = max((amount(c) for c in spec.get("initContainers") or []), default=Fraction(0))
            value = max(total, init)
            if value:
                out[f"{kind}.{res}"] = value
                if kind == "requests":
                    out[res] = value
    return out


def _missing_request(pod: dict[str, Any], resource: str) -> bool:
    """Whether a container leaves out the request (or limit) `resource` names."""
    kind, _, res = resource.partition(".") if "." in resource else ("requests", "", resource)
    containers = (pod.get("spec") or {}).get("containers") or []
    return any(((c.get("resources") or {}).get(kind) or {}).get(res) is None for c in containers)


def admit_pod(
    name: str, pod: dict[str, Any], quotas: Iterable[dict[str, Any]], pods: Iterable[dict[str, Any]]
) -> str:
    """ "" when the pod fits every quota, else the API server's 403 message."""
    charge = pod_charge(pod)
    live = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    for quota in sorted(quotas, key=lambda q: str(q["metadata"]["name"])):
        qname = quota["metadata"]["name"]
        hard = {k: parse_quantity(v) for k, v in ((quota.get("spec") or {}).get("hard") or {}).items()}
        limited = {k: v for k, v in hard.items() if k.split(".", 1)[-1] in COMPUTE or k in COMPUTE}
        missing = sorted(k for k in limited if _missing_request(pod, k))
        if missing:
            return f'pods "{name}" is forbidden: failed quota: {qname}: must specify {",".join(missing)}'
        used = {k: sum((pod_charge(p).get(k, Fraction(0)) for p in live), Fraction(0)) for k in limited}
        over = sorted(k for k in limited if used[k] + charge.get(k, Fraction(0)) > limited[k])
        if over:

            def show(values: dict[str, Fraction], over: list[str] = over) -> str:
                return ",".join(f"{k}={format_quantity(k, values.get(k, Fraction(0)))}" for k in over)

            return (
                f'pods "{name}" is forbidden: exceeded quota: {qname}, requested: {show(charge)}, '
                f"used: {show(used)}, limited: {show(limited)}"
            )
    return ""
