"""`validate_manifest(obj)`: strict offline validation of a rendered manifest.

Built-in kinds: `kubernetes_validate.validate(obj, K8S_VERSION, strict=True)` against the
Kubernetes OpenAPI schemas of the newest 1.3x version the installed package ships. KubeRay
kinds: the v1.7.0 CRD `openAPIV3Schema` (test data in tests/fixtures/kuberay-v1.7.0/, see its
README) with jsonschema, made strict the way the API server prunes: every object schema
with properties and without `x-kubernetes-preserve-unknown-fields` rejects unknown fields.
Custom resources' `metadata` is checked against the Kubernetes ObjectMeta schema (through a
ConfigMap carrying the same metadata). CiliumNetworkPolicy has no schema in the fixtures: its
metadata is checked the same way and its spec against a small schema of the fields mlrt uses.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions

REPO = Path(__file__).resolve().parents[2]
KUBERAY = REPO / "tests" / "fixtures" / "kuberay-v1.7.0"
K8S_VERSION = max(
    (v for v in all_versions() if v.startswith("1.3")), key=lambda v: tuple(int(p) for p in v.split("."))
)

_CILIUM_SPEC: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["endpointSelector"],
    "properties": {
        "endpointSelector": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}},
        },
        "egress": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "toEndpoints": {"type": "array", "items": {"type": "object"}},
                    "toFQDNs": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "minProperties": 1,
                            "maxProperties": 1,
                            "properties": {
                                "matchName": {"type": "string"},
                                "matchPattern": {"type": "string"},
                            },
                        },
                    },
                    "toPorts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "ports": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "required": ["port"],
                                        "properties": {
                                            "port": {"type": "string", "pattern": "^[0-9]{1,5}$"},
                                            "protocol": {"enum": ["TCP", "UDP", "SCTP", "ANY"]},
                                        },
                                    },
                                },
                                "rules": {"type": "object"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def _strict(schema: Any, top: bool = True) -> Any:
    if isinstance(schema, list):
        return [_strict(s, False) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k == "properties" and isinstance(v, dict):  # a map of names to schemas
            out[k] = {name: _strict(sub, False) for name, sub in v.items()}
        elif k in ("enum", "default", "example"):
            out[k] = v
        else:
            out[k] = _strict(v, False)
    if isinstance(schema.get("properties"), dict):
        if (
            schema.get("type") == "object"
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
    if schema.get("nullable") and "type" in schema:
        out["type"] = [schema["type"], "null"]
    return out


@functools.cache
def crd_schema(kind: str, version: str = "v1") -> dict[str, Any]:
    plural = {"RayCluster": "rayclusters", "RayJob": "rayjobs", "RayService": "rayservices"}[kind]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRDs are large: libyaml is 10x faster
    crd = yaml.load((KUBERAY / f"ray.io_{plural}.yaml").read_text(), Loader=loader)
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return _strict(v["schema"]["openAPIV3Schema"])  # type: ignore[no-any-return]
    raise KeyError(f"{kind} {version}")


def _validate_metadata(obj: dict[str, Any]) -> None:
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": copy.deepcopy(obj.get("metadata") or {})}
    kubernetes_validate.validate(probe, K8S_VERSION, strict=True)


def validate_manifest(obj: dict[str, Any]) -> None:
    """Raise (kubernetes_validate.ValidationError or jsonschema.ValidationError) when invalid."""
    api = str(obj.get("apiVersion", ""))
    if api.startswith("ray.io/"):
        _validate_metadata(obj)
        jsonschema.Draft7Validator(crd_schema(str(obj["kind"]), api.split("/")[1])).validate(obj)
    elif api.startswith("cilium.io/"):
        _validate_metadata(obj)
        jsonschema.Draft7Validator(
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["apiVersion", "kind", "metadata", "spec"],
                "properties": {
                    "apiVersion": {"const": "cilium.io/v2"},
                    "kind": {"const": "CiliumNetworkPolicy"},
                    "metadata": {"type": "object"},
                    "spec": _CILIUM_SPEC,
                },
            }
        ).validate(obj)
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
