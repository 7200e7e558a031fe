"""A thin client over the official `kubernetes` ApiClient: raw REST calls with server-side apply.

Raw REST through `ApiClient.call_api` (not the typed APIs) because mlrt handles custom resources
(RayCluster, RayJob, CiliumNetworkPolicy) and built-ins the same way, as plain dicts, and needs
`application/apply-patch+yaml` with `fieldManager`/`force`. Authentication, TLS and proxies come
from the kubeconfig exactly as kubectl would use them.

Errors follow the provider failure contract: 404 → None (gone) from `get`; 409/422/400/401/403
→ PermanentError with the server's message (a field-manager conflict names the other manager);
429, 5xx and transport failures → RetryableError honouring Retry-After.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlrt_iac.errors import PermanentError, RetryableError

from .naming import FIELD_MANAGER

Obj = dict[str, Any]

# kind -> (plural, namespaced): the kinds mlrt renders or stores state in.
KINDS: dict[str, tuple[str, bool]] = {
    "Namespace": ("namespaces", False),
    "Secret": ("secrets", True),
    "Service": ("services", True),
    "ConfigMap": ("configmaps", True),
    "ResourceQuota": ("resourcequotas", True),
    "Deployment": ("deployments", True),
    "NetworkPolicy": ("networkpolicies", True),
    "Ingress": ("ingresses", True),
    "PodDisruptionBudget": ("poddisruptionbudgets", True),
    "Lease": ("leases", True),
    "RayCluster": ("rayclusters", True),
    "RayJob": ("rayjobs", True),
    "CiliumNetworkPolicy": ("ciliumnetworkpolicies", True),
}


@dataclass(frozen=True)
class ObjRef:
    """Which object: apiVersion, kind, namespace ("" for cluster-scoped) and name."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Obj) -> ObjRef:
        meta = obj.get("metadata") or {}
        return cls(
            str(obj["apiVersion"]), str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"])
        )

    def collection_path(self) -> str:
        plural, namespaced = KINDS[self.kind]
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        if namespaced:
            return f"{base}/namespaces/{quote(self.namespace)}/{plural}"
        return f"{base}/{plural}"

    def path(self) -> str:
        return f"{self.collection_path()}/{quote(self.name)}"

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


def _message(body: Any, fallback: str) -> tuple[str, Obj]:
    try:
        status = json.loads(body) if isinstance(body, (str, bytes)) and body else {}
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    return str(status.get("message") or fallback), status


def _retry_after(headers: Any) -> float:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return max(float(value), 0.0) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def map_api_error(exc: Any, what: str) -> Exception:
    """Turn an ApiException (or a transport error) into the provider's error classes."""
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or status == 0:
        return RetryableError(
            f"Cannot reach the Kubernetes API while {what}",
            f"{exc}. Check the kubeconfig's server address and that the cluster is up.",
        )
    message, body = _message(getattr(exc, "body", None), str(getattr(exc, "reason", "")))
    if status == 429 or status >= 500:
        return RetryableError(
            f"The Kubernetes API answered {status} while {what}",
            f"{message}. mlrt retries this.",
            delay=_retry_after(getattr(exc, "headers", None)),
        )
    if status == 409 and "conflict with" in message:
        causes = (body.get("details") or {}).get("causes") or []
        managers = sorted({c.get("message", "").split('"')[1] for c in causes if '"' in c.get("message", "")})
        fields = ", ".join(c.get("field", "") for c in causes)
        who = ", ".join(f'"{m}"' for m in managers) or "another field manager"
        return PermanentError(
            f"Conflict while {what}: fields are managed by {who}",
            f"{message}\nAnother client changed fields mlrt manages ({fields}). Revert that "
            "change, or set force_conflicts = true in the kubernetes provider to take the "
            "fields over.",
        )
    if status in (401, 403):
        return PermanentError(
            f"The Kubernetes API refused access while {what} ({status})",
            f"{message}. Check the kubeconfig credentials and the RBAC rules of that user.",
        )
    return PermanentError(f"The Kubernetes API rejected the request while {what} ({status})", f"{message}.")


@dataclass
class _HttpFailure:
    status: int
    body: bytes
    headers: Any


class KubeClient:
    """One connection to one cluster (kubeconfig path and context, or in-cluster config)."""

    def __init__(
        self, kubeconfig: str | None = None, context: str | None = None, request_timeout: float = 30.0
    ) -> None:
        import urllib3
        from kubernetes import client, config

        self.request_timeout = request_timeout
        path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        cfg = client.Configuration()
        try:
            if kubeconfig or Path(path.split(os.pathsep)[0]).exists():
                config.load_kube_config(
                    config_file=path, context=context, client_configuration=cfg, persist_config=False
                )
            else:
                config.load_incluster_config(client_configuration=cfg)
        except Exception as exc:
            raise PermanentError(
                "Cannot load the Kubernetes configuration",
                f"{exc}. Set kubeconfig (and context) in the kubernetes provider block, "
                "or KUBECONFIG in the environment.",
            ) from exc
        # Retries and Retry-After belong to the engine (bounded by the resource's timeouts), not
        # to urllib3, which would otherwise sleep on a 429 without limit: only connect retries here.
        cfg.retries = urllib3.Retry(
            total=2,
            connect=2,
            read=0,
            status=0,
            redirect=0,
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        self.api = client.ApiClient(cfg)
        self.api.user_agent = "mlrt"

    def close(self) -> None:
        self.api.close()

    def request(
        self,
        method: str,
        path: str,
        what: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Obj:
        import urllib3

        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            m, url, hdrs, data, post = self.api.param_serialize(
                method,
                path,
                query_params=list((query or {}).items()),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            resp = self.api.call_api(m, url, hdrs, data, post, _request_timeout=self.request_timeout)
            raw = resp.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, reset, timed out
            raise map_api_error(exc, what) from exc
        if not 200 <= resp.status <= 299:
            raise map_api_error(_HttpFailure(resp.status, raw, resp.headers), what)
        return json.loads(raw) if raw else {}

    def get(self, ref: ObjRef) -> Obj | None:
        """The live object, or None when it does not exist (404)."""
        try:
            return self.request("GET", ref.path(), f"reading {ref}")
        except PermanentError as exc:
            if f"({404})" in exc.summary:
                return None
            raise

    def apply(self, obj: Obj, force: bool = False) -> Obj:
        """Server-side apply as field manager `mlrt`."""
        ref = ObjRef.of(obj)
        query = {"fieldManager": FIELD_MANAGER}
        if force:
            query["force"] = "true"
        return self.request(
            "PATCH", ref.path(), f"applying {ref}", query, obj, "application/apply-patch+yaml"
        )

    def create(self, obj: Obj) -> Obj:
        ref = ObjRef.of(obj)
        return self.request(
            "POST", ref.collection_path(), f"creating {ref}", {"fieldManager": FIELD_MANAGER}, obj
        )

    def replace(self, obj: Obj) -> Obj:
        """PUT: optimistic concurrency on metadata.resourceVersion (409 when it moved)."""
        ref = ObjRef.of(obj)
        return self.request("PUT", ref.path(), f"updating {ref}", {"fieldManager": FIELD_MANAGER}, obj)

    def delete(self, ref: ObjRef, propagation: str = "Foreground") -> bool:
        """Ask for deletion; False when it was already gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            self.request("DELETE", ref.path(), f"deleting {ref}", {"propagationPolicy": propagation}, body)
            return True
        except PermanentError as exc:
            if f"({404})" in exc.summary:
                return False
            raise
