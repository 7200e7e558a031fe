"""A Kubernetes training's sensitive values, read at run time from their Secret.

Manifests never carry a sensitive value (they end up in Git): where one was, the job spec holds
the marker ``{"$mlrt_secret": KEY}`` and ``secret_ref`` names the Secret (namespace, name) whose
``data[KEY]`` is the value as JSON text. The job's driver runs on the pool's Ray head, whose
ServiceAccount a Role of the training's own may `get` exactly that Secret; this module reads it
through the in-cluster API (the pod's service-account token and CA, as client-go's in-cluster
config does) and puts the values back before the training starts.

``MLRT_KUBE_API`` and ``MLRT_KUBE_SA_DIR`` override the API address and the service-account
folder (for running a launcher outside a pod, against a given API server).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

MARKER = "$mlrt_secret"
SECRET_REF = "secret_ref"
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TIMEOUT_SECS = 30.0


class SecretUnavailable(RuntimeError):
    """The Secret could not be read: the message says which one and what to do."""


def is_marker(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(MARKER), str)


def substitute(value: Any, values: dict[str, Any]) -> Any:
    """`value` with every marker replaced by its value (a missing key is an error)."""
    if is_marker(value):
        key = value[MARKER]
        if key not in values:
            raise SecretUnavailable(f"the Secret has no key {key!r}; apply the training again to recreate it")
        return values[key]
    if isinstance(value, dict):
        return {k: substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    return value


def _api_base() -> str:
    explicit = os.environ.get("MLRT_KUBE_API")
    if explicit:
        return explicit.rstrip("/")
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise SecretUnavailable(
            "this training's sensitive values live in a Kubernetes Secret, but the launcher is not "
            "running in a pod (KUBERNETES_SERVICE_HOST is unset)"
        )
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def read_secret(namespace: str, name: str) -> dict[str, Any]:
    """The Secret's values, each decoded from the JSON text mlrt stored."""
    sa_dir = Path(os.environ.get("MLRT_KUBE_SA_DIR") or SA_DIR)
    base = _api_base()
    try:
        token = (sa_dir / "token").read_text().strip()
    except OSError as exc:
        raise SecretUnavailable(f"no service-account token to read Secret {namespace}/{name}: {exc}") from exc
    context = None
    if base.startswith("https://"):
        ca = sa_dir / "ca.crt"
        context = ssl.create_default_context(cafile=str(ca) if ca.is_file() else None)
    url = f"{base}/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}"
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECS, context=context) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        hint = {
            401: "the pod's service-account token was refused",
            403: "the pool's head ServiceAccount may not read it; apply the training again to restore its Role",
            404: "it does not exist; `mlrt apply` creates it (or create it with your secret tool, same name and keys)",
        }.get(exc.code, exc.reason)
        raise SecretUnavailable(f"cannot read Secret {namespace}/{name} (HTTP {exc.code}): {hint}") from exc
    except (OSError, ValueError) as exc:
        raise SecretUnavailable(f"cannot read Secret {namespace}/{name}: {exc}") from exc
    out: dict[str, Any] = {}
    for key, encoded in (body.get("data") or {}).items():
        try:
            out[key] = json.loads(base64.b64decode(encoded))
        except (ValueError, TypeError) as exc:
            raise SecretUnavailable(f"Secret {namespace}/{name} key {key!r} is not JSON text: {exc}") from exc
    return out


def resolve(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with its sensitive values filled in from the Secret it names (unchanged if none)."""
    ref = spec.get(SECRET_REF)
    if not ref:
        return spec
    values = read_secret(str(ref["namespace"]), str(ref["name"]))
    rest = {k: v for k, v in spec.items() if k != SECRET_REF}
    resolved = substitute(rest, values)
    assert isinstance(resolved, dict)
    return resolved
