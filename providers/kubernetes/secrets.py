"""Sensitive values stay out of manifests: they go into a Secret, and manifests refer to it.

Manifests end up in Git (`mlrt render -out`) and in the cluster's object store, so a value
marked sensitive (`sensitive = true` on the variable it came from) is never written into one:

- A training's job-spec fields (params, hyper_params, dataset, entrypoint, ...): the spec holds
  the marker ``{"$mlrt_secret": KEY}`` in the value's place and names the Secret
  ``<training>-secrets``, whose ``data[KEY]`` is the value as JSON text. The launcher reads that
  Secret when the job starts (`mlrt_iac.runtime.kube_secrets`), as the pool head's
  ServiceAccount, which a Role and RoleBinding of the training's own allow to `get` exactly that
  Secret. Every job on the pool runs as the head, so the pool is the trust boundary, as it is
  for Ray itself.
- A service's `model` URI: the Secret ``<service>-secrets`` key ``model`` holds the URI itself,
  and the model-fetching init container reads it through an env var (`secretKeyRef`), which
  Kubernetes expands in its arguments.

`mlrt apply` creates the Secret with the values. `mlrt render` leaves it out and warns, naming
the Secret and its keys: with GitOps, the values come from a secret tool (External Secrets,
Sealed Secrets) under that name. Any other sensitive argument is one Kubernetes must see in the
object itself (a name, a size, an image); that is an error rather than a value written inline.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from mlrt_iac.errors import PermanentError
from mlrt_iac.runtime.kube_secrets import MARKER, SECRET_REF

from .naming import dns_name

Path_ = tuple[str | int, ...]
_KEY_OK = re.compile(r"^[-._a-zA-Z0-9]{1,200}$")
RBAC_API = "rbac.authorization.k8s.io/v1"

# Arguments each type writes into the objects themselves: these cannot come from a Secret.
INLINE_ONLY: dict[str, frozenset[str]] = {
    "compute_pool": frozenset(
        {"name", "instance_family", "min_nodes", "max_nodes", "active_nodes", "auto_suspend_secs", "labels"}
    ),
    "training": frozenset(
        {"name", "compute_pool", "external_access_integrations", "image", "artifact_location", "timeouts"}
    ),
    "service": frozenset(
        {
            "name",
            "compute_pool",
            "gpu_requests",
            "max_instances",
            "num_workers",
            "max_queue",
            "functions",
            "model_class",
            "max_batch_rows",
            "max_request_bytes",
            "image",
            "image_repository",
            "ingress_enabled",
            "external_access_integrations",
            "suspended",
        }
    ),
}


def secret_name(object_name: str) -> str:
    """The Secret (and its Role and RoleBinding) of one training or service."""
    return f"{dns_name(object_name)}-secrets"


def secret_key(path: Path_) -> str:
    """A Secret data key for an attribute path: `hyper_params.token`, or a digest when the path
    holds characters a key cannot."""
    text = ".".join(str(p) for p in path)
    if _KEY_OK.match(text) and not text.startswith("."):
        return text
    return "v-" + hashlib.sha256(json.dumps(list(path)).encode()).hexdigest()[:20]


def refuse_inline(rtype: str, address: str, paths: Sequence[Path_]) -> None:
    """Raise when a sensitive value feeds a field Kubernetes must see in the object."""
    inline = INLINE_ONLY.get(rtype, frozenset())
    for path in paths:
        if path and path[0] in inline:
            raise PermanentError(
                f"{address}: {path[0]} is sensitive, and Kubernetes needs it in the object itself",
                "mlrt writes no sensitive value into a manifest (manifests end up in Git and in the "
                "cluster's store). Only a training's job arguments (params, hyper_params, dataset, "
                "entrypoint, ...) and a service's model can come from a Secret. Feed "
                f"{path[0]} from a value that is not sensitive (or wrap it in nonsensitive()).",
            )


def _get(value: Any, path: Path_) -> tuple[bool, Any]:
    for p in path:
        if isinstance(value, dict) and p in value:
            value = value[p]
        elif isinstance(value, list) and isinstance(p, int) and 0 <= p < len(value):
            value = value[p]
        else:
            return False, None
    return True, value


def _set(value: Any, path: Path_, new: Any) -> Any:
    """A copy of `value` with `path` set to `new` (containers on the way are copied)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        out[head] = _set(value[head], rest, new)
        return out
    items = list(value)
    assert isinstance(head, int)
    items[head] = _set(items[head], rest, new)
    return items


def extract(spec: dict[str, Any], paths: Sequence[Path_]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec with a marker at each sensitive path, {key: value}) for the paths present in spec.

    Paths are taken outermost first, so a sensitive map containing sensitive keys moves once.
    """
    values: dict[str, Any] = {}
    taken: list[Path_] = []
    for path in sorted({tuple(p) for p in paths}, key=len):
        if any(path[: len(t)] == t for t in taken):
            continue
        found, value = _get(spec, path)
        if not found or value is None:
            continue
        taken.append(path)
        key = secret_key(path)
        values[key] = value
        spec = _set(spec, path, {MARKER: key})
    return spec, values


def reference(spec: dict[str, Any], namespace: str, name: str) -> dict[str, Any]:
    return {**spec, SECRET_REF: {"namespace": namespace, "name": name}}


def secret_manifest(meta: dict[str, Any], values: dict[str, Any], *, as_json: bool = True) -> dict[str, Any]:
    """The Secret with its values (apply only): JSON text per key, or the string itself."""
    data = {
        k: base64.b64encode((json.dumps(v, sort_keys=True) if as_json else str(v)).encode()).decode()
        for k, v in sorted(values.items())
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": copy.deepcopy(meta),
        "type": "Opaque",
        "data": data,
    }


def reader_rbac(
    meta: dict[str, Any], secret: str, namespace: str, service_account: str
) -> list[dict[str, Any]]:
    """A Role that may `get` exactly `secret`, bound to `service_account`."""
    role = {
        "apiVersion": RBAC_API,
        "kind": "Role",
        "metadata": copy.deepcopy(meta),
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret], "verbs": ["get"]}],
    }
    binding = {
        "apiVersion": RBAC_API,
        "kind": "RoleBinding",
        "metadata": copy.deepcopy(meta),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": secret},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }
    return [role, binding]


def left_out_warning(address: str, namespace: str, secret: str, keys: Sequence[str], reader: str) -> str:
    listed = ", ".join(sorted(keys))
    return (
        f"{address}: {len(keys)} sensitive value{'s are' if len(keys) != 1 else ' is'} not in these "
        f"manifests ({listed}). {reader} reads {'them' if len(keys) != 1 else 'it'} from Secret "
        f"{namespace}/{secret} at run time: `mlrt apply` creates that Secret; with GitOps, create it "
        "with your secret tool (External Secrets, Sealed Secrets) under that name and keys."
    )
