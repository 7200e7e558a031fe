"""A thin Kubernetes API client shared by the kubernetes provider and the kubernetes state backend.

Raw REST through the official client's `ApiClient.call_api` (not the typed APIs) because mlrt
handles custom resources (RayCluster, RayJob, CiliumNetworkPolicy) and built-ins the same way, as
plain dicts, and needs `application/apply-patch+yaml` with `fieldManager`/`force`.
Authentication, TLS and proxies come from the kubeconfig exactly as kubectl would use them.

Errors are typed, so callers branch on the class, never on message text:

- 404 -> `NotFound` (a PermanentError); `get` turns it into None and `delete` into False.
  A 404 whose body is the plain text "404 page not found" (no API group serves the path: a
  CRD that is not installed) is `MissingKind` instead, naming the kind, its group/version and
  what to do; it is never taken for a missing object.
- 410 -> `Expired`: a list's continue token outlived the server's history; `list` then reads
  the rest as client-go's pager does (one full list, no pages).
- 409 from a server-side apply whose fields another manager owns -> `FieldManagerConflict`
  (permanent: it names the other manager and suggests force_conflicts).
- any other 409 (the object changed since it was read, or already exists) -> `Conflict`, a
  RetryableError: reading again and retrying may succeed.
- 429, 5xx and transport failures (refused, reset, timed out) -> RetryableError, with the
  server's Retry-After as its delay.
- 400, 401, 403, 422 ... -> `ApiError` (a PermanentError) with the server's message.

The client makes each request once. urllib3's own retries and the client-go style GET retries of
the official client are turned off: retrying belongs to the caller (the engine for provider
handlers, bounded by the resource's `timeouts`), which would otherwise be stacked on top of
hidden sleeps here (urllib3 honours Retry-After on a 429 without any limit).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlrt_iac.errors import PermanentError, RetryableError

FIELD_MANAGER = "mlrt"  # the field manager of every server-side apply mlrt makes
CONNECT_TIMEOUT = 10.0  # seconds to connect, for streams that have no overall time limit

Obj = dict[str, Any]

# kind -> (plural, namespaced): the kinds mlrt renders or stores state in.
KINDS: dict[str, tuple[str, bool]] = {
    "Namespace": ("namespaces", False),
    "Secret": ("secrets", True),
    "Service": ("services", True),
    "ConfigMap": ("configmaps", True),
    "Pod": ("pods", True),
    "ServiceAccount": ("serviceaccounts", True),
    "Role": ("roles", True),
    "RoleBinding": ("rolebindings", True),
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


@dataclass
class ObjList:
    """What a paginated LIST returned: the items, the resourceVersion of their one snapshot,
    and how many requests it took."""

    items: list[Obj]
    resource_version: str
    pages: int


class ApiError(PermanentError):
    """The API server refused the request for good; `status` is its HTTP status code."""

    def __init__(self, summary: str, detail: str = "", status: int = 0) -> None:
        super().__init__(summary, detail)
        self.status = status


class NotFound(ApiError):
    """404: the object (or its namespace) does not exist."""


class Expired(ApiError):
    """410: a continue token (or resourceVersion) older than the server keeps."""


class FieldManagerConflict(ApiError):
    """409 from a server-side apply: fields mlrt sets are managed by another field manager."""


class MissingKind(ApiError):
    """404 with the API server's plain-text "404 page not found": no API group serves this
    path, so the kind's CustomResourceDefinition is not installed. Not a `NotFound`: the
    object is not gone, its kind is (a `get` raises instead of answering None)."""

    def __init__(self, summary: str, detail: str, kind: str, api_version: str) -> None:
        super().__init__(summary, detail, 404)
        self.kind, self.api_version = kind, api_version


# What to do when a kind mlrt renders is not served, by API group.
MISSING_KIND_HINTS: dict[str, str] = {
    "ray.io": (
        "Install the KubeRay v1.7.0 CRDs (the kuberay-operator Helm chart 1.7.0, or `kubectl "
        "apply --server-side -k 'github.com/ray-project/kuberay/ray-operator/config/crd?ref=v1.7.0'`) "
        "and the operator, then run mlrt again."
    ),
    "cilium.io": (
        "CiliumNetworkPolicy comes with Cilium, which this cluster does not run. Install Cilium, "
        'or set fqdn_policies = "none" in the kubernetes provider block (HOST_PORT egress rules '
        "are then not enforced, and the plan names the hosts)."
    ),
}


def missing_kind(path: str, what: str) -> MissingKind:
    """The error for a plain-text 404 on `path`: which kind and group/version, and what to do."""
    parts = [p for p in path.split("/") if p]
    group, version = (
        ("", parts[1]) if parts[:1] == ["api"] else (parts[1], parts[2] if len(parts) > 2 else "")
    )
    api_version = f"{group}/{version}" if group else version
    rest = parts[2:] if not group else parts[3:]
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    plural = rest[0] if rest else ""
    kind = next((k for k, (p, _) in KINDS.items() if p == plural), plural or "resource")
    hint = MISSING_KIND_HINTS.get(
        group, "Install the CustomResourceDefinition that defines it, then run mlrt again."
    )
    return MissingKind(
        f"The cluster does not serve {kind} ({api_version})",
        f"The Kubernetes API answered 404 page not found while {what}: no API group serves "
        f"{plural or path} in {api_version}, so the {kind} CustomResourceDefinition is not "
        f"installed. {hint}",
        kind,
        api_version,
    )


class Conflict(RetryableError):
    """409 that may clear: the object changed since it was read, or already exists."""


def _message(body: Any, fallback: str) -> tuple[str, Obj]:
    try:
        status = json.loads(body) if isinstance(body, (str, bytes)) and body else {}
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    return str(status.get("message") or fallback), status


def _is_status(body: Any) -> bool:
    """Whether an error body is a `Status` object (the API answered) rather than the plain
    text the server's mux writes for a path nothing serves."""
    _, status = _message(body, "")
    return status.get("kind") == "Status"


def _retry_after(headers: Any) -> float:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return max(float(value), 0.0) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def _field_conflict(message: str, body: Obj, what: str) -> FieldManagerConflict:
    causes = (body.get("details") or {}).get("causes") or []
    managers = sorted({c.get("message", "").split('"')[1] for c in causes if '"' in c.get("message", "")})
    fields = ", ".join(c.get("field", "") for c in causes)
    who = ", ".join(f'"{m}"' for m in managers) or "another field manager"
    return FieldManagerConflict(
        f"Conflict while {what}: fields are managed by {who}",
        f"{message}\nAnother client changed fields mlrt manages ({fields}). Revert that "
        "change, or set force_conflicts = true in the kubernetes provider to take the "
        "fields over.",
        409,
    )


def map_api_error(exc: Any, what: str) -> Exception:
    """Turn an HTTP failure (or a transport error, which has no status) into a typed error."""
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
    if status == 404:
        return NotFound(f"Not found while {what} (404)", f"{message}.", status)
    if status == 410:
        return Expired(f"Expired while {what} (410)", f"{message}.", status)
    if status == 409:
        causes = (body.get("details") or {}).get("causes") or []
        if any(c.get("reason") == "FieldManagerConflict" for c in causes):
            return _field_conflict(message, body, what)
        return Conflict(f"Conflict while {what} (409)", f"{message}. Retrying with a fresh read may succeed.")
    if status in (401, 403):
        return ApiError(
            f"The Kubernetes API refused access while {what} ({status})",
            f"{message}. Check the kubeconfig credentials and the RBAC rules of that user.",
            status,
        )
    return ApiError(f"The Kubernetes API rejected the request while {what} ({status})", f"{message}.", status)


@dataclass
class _HttpFailure:
    status: int
    body: bytes
    headers: Any


def _load_configuration(kubeconfig: str | None, context: str | None) -> Any:
    """The official client's Configuration from a kubeconfig (explicit, $KUBECONFIG or
    ~/.kube/config), else the in-cluster service account."""
    from kubernetes import client, config

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
    cfg.retries = False  # one attempt per request: the caller owns retries (module docstring)
    cfg.client_go_retries = False
    return cfg


class KubeClient:
    """One connection to one cluster (kubeconfig path and context, or in-cluster config).

    `request_timeout` bounds each HTTP request (connect plus read), so no call hangs past it.
    """

    def __init__(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        request_timeout: float = 30.0,
        field_manager: str = FIELD_MANAGER,
    ) -> None:
        from kubernetes import client

        self.request_timeout = request_timeout
        self.field_manager = field_manager
        self.api = client.ApiClient(_load_configuration(kubeconfig, context))
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
        """One HTTP request; a non-2xx answer or a transport failure raises a typed error."""
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
            if resp.status == 404 and not _is_status(raw):
                raise missing_kind(path, what)
            raise map_api_error(_HttpFailure(resp.status, raw, resp.headers), what)
        return json.loads(raw) if raw else {}

    def pod_log(
        self,
        namespace: str,
        pod: str,
        container: str,
        *,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        follow: bool = False,
    ) -> Iterator[str]:
        """The lines of one container's log (GET pods/<pod>/log). With `follow`, new lines as
        they are written, until the container ends or the stream is closed; a read then has no
        time limit (only the connection has)."""
        import urllib3

        query: dict[str, str] = {"container": container}
        if tail_lines is not None:
            query["tailLines"] = str(tail_lines)
        if since_seconds is not None:
            query["sinceSeconds"] = str(max(1, since_seconds))
        if follow:
            query["follow"] = "true"
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/log"
        what = f"reading the log of pod {namespace}/{pod} ({container})"
        try:
            m, url, hdrs, data, post = self.api.param_serialize(
                "GET",
                path,
                query_params=list(query.items()),
                header_params={"Accept": "text/plain"},
                auth_settings=["BearerToken"],
            )
            timeout: Any = (CONNECT_TIMEOUT, None) if follow else self.request_timeout
            resp = self.api.call_api(m, url, hdrs, data, post, _request_timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise map_api_error(exc, what) from exc
        if not 200 <= resp.status <= 299:
            raise map_api_error(_HttpFailure(resp.status, resp.read(), resp.headers), what)
        pending = b""
        complete = False
        try:
            for chunk in resp.response.stream(64 * 1024, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", errors="replace")
            complete = True
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise map_api_error(exc, what) from exc
        finally:
            if complete:  # read to its end: the connection can serve the next request
                resp.response.release_conn()
            else:  # the reader stopped early (Ctrl-C): a half-read stream must not be reused
                resp.response.close()
        if pending:
            yield pending.decode("utf-8", errors="replace")

    def get(self, ref: ObjRef) -> Obj | None:
        """The live object, or None when it does not exist (404)."""
        try:
            return self.request("GET", ref.path(), f"reading {ref}")
        except NotFound:
            return None

    def list(
        self, api_version: str, kind: str, namespace: str | None, selector: str = "", limit: int = 500
    ) -> ObjList:
        """Every object of `kind` (in `namespace`; None: all namespaces or cluster-scoped)
        matching the label `selector`, `limit` per page (0: one unpaginated request).

        All pages come from one snapshot and carry one resourceVersion (the server's promise
        for `continue`); a page with another is a RetryableError. When a continue token has
        expired (410), the list is read again in one unpaginated request, as client-go's pager
        does, so the result stays one consistent snapshot. Items get back the apiVersion and
        kind that kube-apiserver leaves out of built-in lists.
        """
        path = ObjRef(api_version, kind, namespace or "", "").collection_path()
        if namespace is None and KINDS[kind][1]:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            path = f"{base}/{KINDS[kind][0]}"
        what = f"listing {kind} in {namespace or 'all namespaces'}"
        query = {"labelSelector": selector} if selector else {}
        items: list[Obj] = []
        version = ""
        cont = ""
        pages = 0
        while True:
            page_query = dict(query)
            if limit > 0:
                page_query["limit"] = str(limit)
            if cont:
                page_query["continue"] = cont
            try:
                page = self.request("GET", path, what, page_query)
            except Expired:
                if not cont:
                    raise
                pages += 1  # the expired page was a request too
                page = self.request("GET", path, what, query)  # one full list: one snapshot
                items, version, cont = [], "", ""
            pages += 1
            meta = page.get("metadata") or {}
            rv = str(meta.get("resourceVersion") or "")
            if version and rv != version:
                raise RetryableError(
                    f"The Kubernetes API changed its snapshot while {what}",
                    f"Page {pages} has resourceVersion {rv}, the first had {version}; listing again "
                    "gives a consistent view.",
                )
            version = version or rv
            for item in page.get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            cont = str(meta.get("continue") or "")
            if not cont or limit <= 0:
                return ObjList(items, version, pages)

    def apply(self, obj: Obj, force: bool = False) -> Obj:
        """Server-side apply as this client's field manager."""
        ref = ObjRef.of(obj)
        query = {"fieldManager": self.field_manager}
        if force:
            query["force"] = "true"
        return self.request(
            "PATCH", ref.path(), f"applying {ref}", query, obj, "application/apply-patch+yaml"
        )

    def create(self, obj: Obj) -> Obj:
        """POST; `Conflict` when it already exists."""
        ref = ObjRef.of(obj)
        return self.request(
            "POST", ref.collection_path(), f"creating {ref}", {"fieldManager": self.field_manager}, obj
        )

    def replace(self, obj: Obj) -> Obj:
        """PUT: optimistic concurrency on metadata.resourceVersion (`Conflict` when it moved)."""
        ref = ObjRef.of(obj)
        return self.request("PUT", ref.path(), f"updating {ref}", {"fieldManager": self.field_manager}, obj)

    def delete(self, ref: ObjRef, propagation: str = "Foreground") -> bool:
        """Ask for deletion; False when it was already gone (or its kind is not served: no
        object of it can exist)."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            self.request("DELETE", ref.path(), f"deleting {ref}", {"propagationPolicy": propagation}, body)
            return True
        except (NotFound, MissingKind):
            return False
