"""A small but real Kubernetes API server for tests: HTTP on 127.0.0.1, real REST paths.

It speaks what mlrt uses, with the semantics that matter to a client:
- kinds: core/v1 Namespace Secret Service ConfigMap Pod ResourceQuota ServiceAccount; apps/v1
  Deployment (and its `scale` subresource); rbac.authorization.k8s.io/v1 Role RoleBinding;
  networking.k8s.io/v1 NetworkPolicy Ingress; policy/v1 PodDisruptionBudget;
  coordination.k8s.io/v1 Lease; ray.io/v1 RayCluster RayJob; cilium.io/v2 CiliumNetworkPolicy;
- GET object and LIST (`labelSelector` equality terms; `limit`/`continue` pages served from one
  snapshot with one resourceVersion, 410 Expired after `compact()`), POST create (409 AlreadyExists,
  404 when the namespace is missing), PUT with `resourceVersion` (409 on mismatch, 422 without),
  PATCH `application/apply-patch+yaml` (server-side apply with `fieldManager`: managed fields
  as SSA computes them, lists merged by their keys where the schema has them (fieldsets.py),
  recorded in the real `fieldsV1` format; 409 with the real message and causes on a
  conflicting change of a field another manager owns unless `force=true`, which moves it to
  the applier; fields the applier stopped sending are removed; a no-op keeps the
  resourceVersion; a `metadata.resourceVersion` in the body is a precondition) and
  `application/merge-patch+json` / strategic merge (as merge patch; the changed fields move to
  its manager, operation Update: `kubectl-edit`, `kubectl-label`, `kubectl-scale` through the
  scale subresource), DELETE with `propagationPolicy` (Foreground leaves the object visible
  with a `deletionTimestamp` for `foreground_gets` more GETs; owned pods are collected),
  `dryRun=All` on every write, `/version`, `/api`, `/apis`, discovery;
- defaulting as kube-apiserver's (defaults.py: built-in defaults inside list items, the
  KubeRay CRDs' schema defaults) and ResourceQuota admission of pods (quota.py), with the pods
  of Deployments and RayClusters created by the simulated controllers when `model_pods` is on;
- errors as `Status` objects, except the plain-text `404 page not found` for a path no API
  group serves (`uninstall("cilium.io")`: a CRD that is not installed); bearer-token
  authentication (401 without it);
- `/metrics` with `apiserver_request_total` by verb (GET, LIST, ...), resource, scope and code,
  as the real server counts requests (`request_counts()` sums them by verb);
- fault injection (`inject(429, count=2, retry_after=1)`) and controller simulation
  (`mark_ready`, `auto_ready`): what a KubeRay or Deployment controller would write to status.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from .defaults import fill_defaults
from .fieldsets import MISSING as _MISSING
from .fieldsets import del_path, dotted, field_paths, fields_v1, get_path, set_path
from .quota import admit_pod


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    status_subresource: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def custom(self) -> bool:
        """Served from a CustomResourceDefinition (list items keep apiVersion and kind)."""
        return self.group in ("ray.io", "cilium.io")


KINDS = [
    Kind("", "v1", "namespaces", "Namespace", False, True),
    Kind("", "v1", "secrets", "Secret", True),
    Kind("", "v1", "services", "Service", True, True),
    Kind("", "v1", "configmaps", "ConfigMap", True),
    Kind("", "v1", "pods", "Pod", True, True),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", True),
    Kind("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Kind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Kind("", "v1", "resourcequotas", "ResourceQuota", True, True),
    Kind("apps", "v1", "deployments", "Deployment", True, True),
    Kind("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    Kind("networking.k8s.io", "v1", "ingresses", "Ingress", True, True),
    Kind("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, True),
    Kind("coordination.k8s.io", "v1", "leases", "Lease", True),
    Kind("ray.io", "v1", "rayclusters", "RayCluster", True, True),
    Kind("ray.io", "v1", "rayjobs", "RayJob", True, True),
    Kind("cilium.io", "v2", "ciliumnetworkpolicies", "CiliumNetworkPolicy", True, True),
]
_BY_PATH = {(k.group, k.version, k.plural): k for k in KINDS}

Path_ = tuple[str, ...]


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details
        self.headers = headers or {}
        self.plain = False  # answered as text, not a Status (a path the server does not serve)

    @classmethod
    def page_not_found(cls) -> ApiError:
        """kube-apiserver's answer for a path no API group serves (a CRD not installed): the
        Go mux's plain-text 404, not a Status object."""
        err = cls(404, "NotFound", "404 page not found")
        err.plain = True
        return err

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            out["details"] = self.details
        return out


def _item_key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def _encode_continue(rv: int, start: str) -> str:
    """The token format of kube-apiserver: base64 of {"v", "rv", "start"}."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "BadRequest", f"continue key is not valid: {exc}") from exc


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    o = copy.deepcopy(obj)
    meta = o.get("metadata", {})
    for k in ("resourceVersion", "managedFields", "generation"):
        meta.pop(k, None)
    return o


class Store:
    """The objects, their managed fields and the resourceVersion counter."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.objects: dict[tuple[Kind, str, str], dict[str, Any]] = {}
        self.owners: dict[tuple[Kind, str, str], dict[str, dict[str, Any]]] = {}
        self.rv = 100
        self.foreground_gets = 1
        self.pending_delete: dict[tuple[Kind, str, str], int] = {}
        self.controllers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.requests: list[tuple[str, str]] = []
        # apiserver_request_total: (verb, group, version, resource, scope, code) -> count
        self.request_total: dict[tuple[str, str, str, str, str, int], int] = {}
        self.snapshots: dict[tuple[Kind, str | None, str, int], list[dict[str, Any]]] = {}
        self.max_snapshots = 64

    @contextlib.contextmanager
    def dry_run(self) -> Iterator[None]:
        """`dryRun=All`: the request is validated, defaulted, admitted and answered as if it
        were stored, then everything it changed is put back (the resourceVersion too)."""
        saved = (copy.deepcopy(self.objects), copy.deepcopy(self.owners), self.rv, dict(self.pending_delete))
        try:
            yield
        finally:
            self.objects, self.owners, self.rv, self.pending_delete = saved

    def next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _stamp_managed(self, key: tuple[Kind, str, str]) -> None:
        obj = self.objects[key]
        obj["metadata"]["managedFields"] = [
            {
                "manager": m,
                "operation": info["op"],
                "apiVersion": key[0].api_version,
                "time": info["time"],
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(info["paths"]),
                **({"subresource": info["subresource"]} if info.get("subresource") else {}),
            }
            for m, info in sorted(self.owners.get(key, {}).items())
            if info["paths"]
        ]

    def _new_object(self, kind: Kind, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        meta.update(
            uid=str(uuid.uuid4()), creationTimestamp=_now(), resourceVersion=self.next_rv(), generation=1
        )
        if kind.namespaced:
            meta["namespace"] = ns
        meta.pop("managedFields", None)
        if kind.kind == "Namespace":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            obj["status"] = {"phase": "Active"}
        fill_defaults(kind.kind, obj)
        return obj

    def _collect(self, key: tuple[Kind, str, str], gone: dict[str, Any]) -> None:
        """Garbage collection: the pods a deleted object owned go with it."""
        uid = gone["metadata"].get("uid")
        for k in [k for k in self.objects if k[0].kind == "Pod" and k[1] == key[1]]:
            refs = self.objects[k]["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                del self.objects[k]
                self.owners.pop(k, None)

    def _admit(self, kind: Kind, ns: str, body: dict[str, Any]) -> None:
        """Admission of a new object: ResourceQuota for pods (quota.py)."""
        if kind.kind != "Pod":
            return
        in_ns = [(k, o) for k, o in self.objects.items() if k[1] == ns]
        quotas = [o for k, o in in_ns if k[0].kind == "ResourceQuota"]
        if not quotas:
            return
        pods = [o for k, o in in_ns if k[0].kind == "Pod"]
        message = admit_pod(str(body["metadata"]["name"]), body, quotas, pods)
        if message:
            raise ApiError(
                403,
                "Forbidden",
                message,
                {"name": body["metadata"]["name"], "kind": "pods"},
            )

    def sync_pods(
        self, owner: dict[str, Any], groups: list[tuple[str, dict[str, Any], int]]
    ) -> tuple[int, str]:
        """What a ReplicaSet or KubeRay controller does: make `count` pods named
        `<prefix>-<i>` from each (prefix, pod template, count), owned by `owner`, and remove
        the extra ones. Returns the pods that exist and the last refusal (a quota message)."""
        meta = owner["metadata"]
        ns = meta.get("namespace", "")
        pod_kind = next(k for k in KINDS if k.kind == "Pod")
        ref = {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": meta["name"],
            "uid": meta["uid"],
        }
        have, refused = 0, ""
        for prefix, template, count in groups:
            for i in range(count):
                name = f"{prefix}-{i}"
                if (pod_kind, ns, name) in self.objects:
                    have += 1
                    continue
                body = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                        "ownerReferences": [ref],
                    },
                    "spec": copy.deepcopy(template.get("spec") or {}),
                    "status": {"phase": "Running"},
                }
                try:
                    self.create(pod_kind, ns, body, "kube-controller-manager")
                    have += 1
                except ApiError as exc:
                    refused = exc.message
            extra = [
                k
                for k in self.objects
                if k[0] is pod_kind
                and k[1] == ns
                and k[2].startswith(prefix + "-")
                and k[2][len(prefix) + 1 :].isdigit()
                and int(k[2][len(prefix) + 1 :]) >= count
            ]
            for k in extra:
                del self.objects[k]
                self.owners.pop(k, None)
        return have, refused

    def _check_ns(self, kind: Kind, ns: str) -> None:
        if kind.namespaced and not any(k[0].kind == "Namespace" and k[2] == ns for k in self.objects):
            raise ApiError(
                404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"}
            )

    def _not_found(self, kind: Kind, name: str) -> ApiError:
        return ApiError(
            404,
            "NotFound",
            f'{kind.plural}{"." + kind.group if kind.group else ""} "{name}" not found',
            {"name": name, "group": kind.group, "kind": kind.plural},
        )

    def _body_check(self, kind: Kind, name: str | None, body: Any) -> None:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was not an object")
        if body.get("kind") != kind.kind or body.get("apiVersion") != kind.api_version:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({body.get('apiVersion')}) "
                f"and kind ({body.get('kind')}) do not match {kind.api_version} {kind.kind}",
            )
        bname = (body.get("metadata") or {}).get("name")
        if not bname:
            raise ApiError(
                422, "Invalid", f'{kind.kind} "" is invalid: metadata.name: Required value: name is required'
            )
        if name is not None and bname != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")

    # --- operations -----------------------------------------------------------------------

    def _observe(self, key: tuple[Kind, str, str]) -> dict[str, Any] | None:
        """The object as a read sees it now: a foreground deletion counts down one read and
        then removes it (None); the simulated controllers update status."""
        obj = self.objects.get(key)
        if obj is None:
            return None
        if key in self.pending_delete:
            left = self.pending_delete[key]
            if left <= 0:
                del self.pending_delete[key]
                self._collect(key, self.objects.pop(key))
                self.owners.pop(key, None)
                return None
            self.pending_delete[key] = left - 1
        ctl = self.controllers.get(key[0].kind)
        if ctl is not None and key not in self.pending_delete:
            before = copy.deepcopy(obj.get("status"))
            ctl(obj)
            if obj.get("status") != before:
                obj["metadata"]["resourceVersion"] = self.next_rv()
        return obj

    def get(self, kind: Kind, ns: str, name: str) -> dict[str, Any]:
        obj = self._observe((kind, ns, name))
        if obj is None:
            raise self._not_found(kind, name)
        return copy.deepcopy(obj)

    def list(
        self,
        kind: Kind,
        ns: str | None,
        selector: dict[str, str],
        limit: int = 0,
        cont: str | None = None,
    ) -> dict[str, Any]:
        """A LIST as the real server answers it: items sorted by namespace/name (without
        apiVersion/kind for built-in kinds, as kube-apiserver leaves them out), at most `limit`
        per page with a `continue` token and `remainingItemCount`. Every page of one list is
        served from the snapshot taken at the first page and carries its resourceVersion (etcd
        MVCC); a token whose snapshot was compacted (`compact()`) is 410 Expired."""
        sel_key = ",".join(f"{a}={b}" for a, b in sorted(selector.items()))
        if cont:
            rv, start_key = _decode_continue(cont)
            items = self.snapshots.get((kind, ns, sel_key, rv))
            if items is None:
                raise ApiError(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use the "
                    "continue token in this response to retrieve the remainder of the results.",
                )
            start = next((i for i, o in enumerate(items) if _item_key(o) >= start_key), len(items))
        else:
            rv, start = self.rv, 0
            items = []
            for key in sorted((k for k in self.objects if k[0] == kind), key=lambda k: k[1:]):
                if ns is not None and key[1] != ns:
                    continue
                labels = self.objects[key]["metadata"].get("labels") or {}
                if not all(labels.get(a) == b for a, b in selector.items()):
                    continue
                obj = self._observe(key)
                if obj is None:
                    continue
                item = json.loads(json.dumps(obj))  # a copy later writes cannot reach
                if not kind.custom:
                    item.pop("apiVersion", None), item.pop("kind", None)
                items.append(item)
            rv = self.rv  # the list reflects every change up to here (controllers included)
        page = items[start : start + limit] if limit > 0 else items[start:]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        rest = len(items) - start - len(page)
        if rest > 0:
            if not cont:
                self.snapshots[(kind, ns, sel_key, rv)] = items
                while len(self.snapshots) > self.max_snapshots:  # the oldest go first, as etcd compacts
                    del self.snapshots[next(iter(self.snapshots))]
            meta["continue"] = _encode_continue(rv, _item_key(items[start + len(page)]))
            meta["remainingItemCount"] = rest
        return {
            "kind": f"{kind.kind}List",
            "apiVersion": kind.api_version,
            "metadata": meta,
            "items": page,
        }

    def compact(self) -> None:
        """Forget every list snapshot, as an etcd compaction would: continuing is 410 Expired."""
        self.snapshots.clear()

    def create(self, kind: Kind, ns: str, body: Any, manager: str) -> dict[str, Any]:
        self._body_check(kind, None, body)
        self._check_ns(kind, ns)
        name = body["metadata"]["name"]
        key = (kind, ns, name)
        if key in self.objects:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{kind.plural} "{name}" already exists',
                {"name": name, "group": kind.group, "kind": kind.plural},
            )
        self._admit(kind, ns, body)
        self.objects[key] = self._new_object(kind, ns, body)
        self.owners[key] = {manager: {"op": "Update", "paths": field_paths(kind.kind, body), "time": _now()}}
        self._stamp_managed(key)
        return copy.deepcopy(self.objects[key])

    def _update_owners(
        self,
        key: tuple[Kind, str, str],
        old: dict[str, Any],
        new: dict[str, Any],
        manager: str,
        subresource: str = "",
    ) -> None:
        """An update (PUT, PATCH, a subresource write): the fields whose value it changed
        move to `manager` with operation Update, as kube-apiserver records them."""
        kind = key[0].kind
        fill_defaults(kind, new)
        changed = set()
        for p in field_paths(kind, new) | field_paths(kind, old):
            before, after = get_path(old, p), get_path(new, p)
            if p[-1].startswith("k:"):  # an item's presence changes only when it comes or goes
                if (before is _MISSING) != (after is _MISSING):
                    changed.add(p)
            elif before != after:
                changed.add(p)
        if not changed:
            return
        owners = self.owners.setdefault(key, {})
        for m, info in owners.items():
            if m != manager:
                info["paths"] -= changed
        mine = owners.get(manager)
        if mine is None or mine["op"] != "Update":
            mine = owners[manager] = {"op": "Update", "paths": set(), "time": _now()}
        if subresource:
            mine["subresource"] = subresource
        mine["paths"] |= {p for p in changed if get_path(new, p) is not _MISSING}
        mine["time"] = _now()

    def _write(
        self, kind: Kind, key: tuple[Kind, str, str], old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        if kind.status_subresource and "status" in old:
            new["status"] = old["status"]
        fill_defaults(kind.kind, new)
        for k in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp", "finalizers"):
            if k in old["metadata"]:
                new["metadata"][k] = old["metadata"][k]
        new["metadata"]["generation"] = old["metadata"].get("generation", 1)
        if _comparable(new) != _comparable(old):
            new["metadata"]["resourceVersion"] = self.next_rv()
            if new.get("spec") != old.get("spec") or new.get("data") != old.get("data"):
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        else:
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        self.objects[key] = new
        self._stamp_managed(key)

    def replace(self, kind: Kind, ns: str, name: str, body: Any, manager: str) -> dict[str, Any]:
        self._body_check(kind, name, body)
        key = (kind, ns, name)
        old = self.objects.get(key)
        if old is None:
            raise self._not_found(kind, name)
        rv = body["metadata"].get("resourceVersion")
        if not rv:
            raise ApiError(
                422,
                "Invalid",
                f'{kind.kind} "{name}" is invalid: metadata.resourceVersion: '
                "Invalid value: 0x0: must be specified for an update",
            )
        if rv != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.plural} "{name}": the object '
                "has been modified; please apply your changes to the latest version and try again",
                {"name": name, "group": kind.group, "kind": kind.plural},
            )
        new = copy.deepcopy(body)
        new["metadata"].pop("managedFields", None)
        self._update_owners(key, old, new, manager)
        self._write(kind, key, old, new)
        return copy.deepcopy(self.objects[key])

    def merge(
        self, kind: Kind, ns: str, name: str, patch: Any, manager: str, subresource: str = ""
    ) -> dict[str, Any]:
        key = (kind, ns, name)
        old = self.objects.get(key)
        if old is None:
            raise self._not_found(kind, name)
        new = merge_patch(copy.deepcopy(old), patch)
        self._update_owners(key, old, new, manager, subresource)
        self._write(kind, key, old, new)
        return copy.deepcopy(self.objects[key])

    def apply(
        self, kind: Kind, ns: str, name: str, body: Any, manager: str, force: bool
    ) -> tuple[int, dict[str, Any]]:
        self._body_check(kind, name, body)
        key = (kind, ns, name)
        paths = field_paths(kind.kind, body)
        old = self.objects.get(key)
        if old is None:
            self._check_ns(kind, ns)
            self._admit(kind, ns, body)
            self.objects[key] = self._new_object(kind, ns, body)
            self.owners[key] = {manager: {"op": "Apply", "paths": paths, "time": _now()}}
            self._stamp_managed(key)
            return 201, copy.deepcopy(self.objects[key])
        want_rv = (body.get("metadata") or {}).get("resourceVersion")
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(  # a precondition, as on an update: the object moved since it was read
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.plural} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                {"name": name, "group": kind.group, "kind": kind.plural},
            )
        owners = self.owners.setdefault(key, {})
        conflicts = sorted(
            (m, p)
            for m, info in owners.items()
            if m != manager
            for p in info["paths"] & paths
            if not p[-1].startswith("k:") and get_path(old, p) != get_path(body, p)
        )
        if conflicts and not force:
            causes = [
                {
                    "reason": "FieldManagerConflict",
                    "message": f'conflict with "{m}"'
                    + (f" using {kind.api_version}" if owners[m]["op"] == "Update" else ""),
                    "field": dotted(p),
                }
                for m, p in conflicts
            ]
            lines = "\n".join(f"{c['message']}: {c['field']}" for c in causes)
            raise ApiError(
                409,
                "Conflict",
                f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: {lines}",
                {"name": name, "group": kind.group, "kind": kind.plural, "causes": causes},
            )
        for m, p in conflicts:
            owners[m]["paths"].discard(p)
        new = copy.deepcopy(old)
        mine = owners.get(manager, {"paths": set()})["paths"]
        others = set().union(*(info["paths"] for m, info in owners.items() if m != manager))
        for p in sorted(mine - paths, key=len, reverse=True):  # fields before their items
            if not any(o[: len(p)] == p for o in others):
                del_path(new, p)
        for p in paths:
            set_path(new, p, get_path(body, p))
        owners[manager] = {"op": "Apply", "paths": set(paths), "time": _now()}
        self._write(kind, key, old, new)
        return 200, copy.deepcopy(self.objects[key])

    def delete(self, kind: Kind, ns: str, name: str, policy: str) -> dict[str, Any]:
        key = (kind, ns, name)
        obj = self.objects.get(key)
        if obj is None or (key in self.pending_delete and self.pending_delete[key] <= 0):
            raise self._not_found(kind, name)
        if key in self.pending_delete:
            return copy.deepcopy(obj)
        if policy == "Foreground" and self.foreground_gets > 0:
            obj["metadata"]["deletionTimestamp"] = _now()
            obj["metadata"].setdefault("finalizers", []).append("foregroundDeletion")
            obj["metadata"]["resourceVersion"] = self.next_rv()
            self.pending_delete[key] = self.foreground_gets
            return copy.deepcopy(obj)
        self._collect(key, self.objects.pop(key))
        self.owners.pop(key, None)
        if kind.kind == "Namespace":  # namespace deletion removes everything inside
            for k in [k for k in self.objects if k[0].namespaced and k[1] == name]:
                del self.objects[k]
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                "group": kind.group,
                "kind": kind.plural,
                "uid": obj["metadata"]["uid"],
            },
        }

    def set_status(self, kind_name: str, ns: str, name: str, status: dict[str, Any]) -> None:
        with self.lock:
            for (k, n, nm), obj in self.objects.items():
                if k.kind == kind_name and n == ns and nm == name:
                    obj["status"] = merge_patch(obj.get("status") or {}, status)
                    obj["metadata"]["resourceVersion"] = self.next_rv()
                    return
        raise KeyError(f"{kind_name} {ns}/{name}")


@dataclass
class Fault:
    code: int
    count: int
    retry_after: str | None
    method: str | None


class PodLogs:
    """Container logs by (namespace, pod, container): what the kubelet would serve."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.lines: dict[tuple[str, str, str], list[tuple[float, str]]] = {}
        self.ended: set[tuple[str, str, str]] = set()
        self.closed = False  # the server is stopping: every stream ends


class TestApiServer:
    """Start with `TestApiServer().start()`; `kubeconfig(path)` writes a kubeconfig for it."""

    __test__ = False  # not a pytest test class
    token = "mlrt-test-token"

    def __init__(self) -> None:
        self.store = Store()
        self.pod_logs = PodLogs()
        self.faults: list[Fault] = []
        # The simulated controllers create the pods of Deployments and RayClusters (named
        # `<deployment>-<i>`, `<cluster>-head-0`, `<cluster>-<group>-<i>`), so ResourceQuota
        # refuses them as it would on a real cluster; off, they only write status.
        self.model_pods = False
        # API groups whose CRDs are not installed (`uninstall("cilium.io")`): their paths
        # answer the real plain-text 404 and discovery leaves them out.
        self.missing_groups: set[str] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> TestApiServer:
        server = self

        class Handler(_Handler):
            api = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="test-apiserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close every open (keep-alive) connection."""
        with self.pod_logs.changed:
            self.pod_logs.closed = True
            self.pod_logs.changed.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_connections()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def kubeconfig(self, path: Path, context: str = "mlrt-test") -> Path:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": "test", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": "test", "user": "tester"}}],
        }
        path.write_text(yaml.safe_dump(cfg))
        return path

    # --- test controls --------------------------------------------------------------------

    def inject(
        self, code: int, count: int = 1, retry_after: float | None = None, method: str | None = None
    ) -> None:
        """The next `count` requests (of `method`, if given) answer `code` with a Status."""
        with self.store.lock:
            self.faults.append(Fault(code, count, None if retry_after is None else str(retry_after), method))

    def get(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        with self.store.lock:
            for (k, n, nm), obj in self.store.objects.items():
                if k.kind == kind and n == ns and nm == name:
                    return copy.deepcopy(obj)
        return None

    def objects(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.store.lock:
            return [copy.deepcopy(o) for (k, _, _), o in self.store.objects.items() if kind in (None, k.kind)]

    def edit(
        self, kind: str, ns: str, name: str, patch: dict[str, Any], manager: str = "kubectl-edit"
    ) -> None:
        """An out-of-band change by another field manager (like `kubectl edit`)."""
        with self.store.lock:
            k = next(k for k in KINDS if k.kind == kind)
            self.store.merge(k, ns, name, patch, manager)

    def scale(self, kind: str, ns: str, name: str, replicas: int, manager: str = "kubectl-scale") -> None:
        """`kubectl scale`: a write of the scale subresource by `manager` (operation Update)."""
        with self.store.lock:
            k = next(k for k in KINDS if k.kind == kind)
            self.store.merge(k, ns, name, {"spec": {"replicas": replicas}}, manager, "scale")

    def uninstall(self, group: str) -> None:
        """Remove an API group's CRDs (KubeRay's `ray.io`, Cilium's `cilium.io`)."""
        with self.store.lock:
            self.missing_groups.add(group)

    def remove(self, kind: str, ns: str, name: str) -> None:
        """An out-of-band deletion (like `kubectl delete`), immediate."""
        with self.store.lock:
            k = next(k for k in KINDS if k.kind == kind)
            self.store.objects.pop((k, ns, name))
            self.store.owners.pop((k, ns, name), None)

    def set_status(self, kind: str, ns: str, name: str, status: dict[str, Any]) -> None:
        self.store.set_status(kind, ns, name, status)

    def add_pod(self, ns: str, name: str, labels: dict[str, str], containers: list[str]) -> None:
        """A pod as a controller would make it (the test server runs no controllers)."""
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": c,
                        "image": "mlrt/test",
                        # a pod under a quota must request what it limits (quota.py)
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"cpu": "100m", "memory": "128Mi"},
                        },
                    }
                    for c in containers
                ]
            },
        }
        with self.store.lock:
            self.store.create(next(k for k in KINDS if k.kind == "Pod"), ns, body, "kubelet")

    def write_log(self, ns: str, pod: str, container: str, *lines: str, at: float | None = None) -> None:
        """Lines a container writes (what the kubelet would return), stamped `at` (default now)."""
        with self.pod_logs.changed:
            self.pod_logs.lines.setdefault((ns, pod, container), []).extend(
                (time.time() if at is None else at, line) for line in lines
            )
            self.pod_logs.changed.notify_all()

    def end_log(self, ns: str, pod: str, container: str) -> None:
        """The container ended: a followed log stream ends after its last lines."""
        with self.pod_logs.changed:
            self.pod_logs.ended.add((ns, pod, container))
            self.pod_logs.changed.notify_all()

    def auto_ready(self, after_gets: int = 1, job_status: str = "SUCCEEDED") -> None:
        """Simulate the controllers: a RayCluster, RayJob or Deployment becomes ready (job
        finished with `job_status`) on the `after_gets`-th GET after its spec last changed."""
        seen: dict[tuple[str, str, str, int], int] = {}

        def countdown(obj: dict[str, Any]) -> bool:
            m = obj["metadata"]
            key = (obj["kind"], m.get("namespace", ""), m["name"], int(m.get("generation", 1)))
            seen[key] = seen.get(key, 0) + 1
            return seen[key] >= after_gets

        def raycluster(obj: dict[str, Any]) -> None:
            if countdown(obj):
                workers = sum(int(g.get("replicas", 0)) for g in obj["spec"].get("workerGroupSpecs", []))
                if self.model_pods:
                    spec, name = obj["spec"], obj["metadata"]["name"]
                    groups = [
                        (f"{name}-head", spec["headGroupSpec"]["template"], 0 if spec.get("suspend") else 1)
                    ]
                    groups += [
                        (
                            f"{name}-{g['groupName']}",
                            g["template"],
                            0 if spec.get("suspend") else int(g.get("replicas", 0)),
                        )
                        for g in spec.get("workerGroupSpecs", [])
                    ]
                    have, refused = self.store.sync_pods(obj, groups)
                    if refused:
                        obj["status"] = {
                            "state": "",
                            "reason": refused,
                            "availableWorkerReplicas": max(have - 1, 0),
                        }
                        return
                obj["status"] = {
                    "state": "ready",
                    "readyWorkerReplicas": workers,
                    "availableWorkerReplicas": workers,
                    "observedGeneration": obj["metadata"]["generation"],
                }

        def rayjob(obj: dict[str, Any]) -> None:
            if countdown(obj):
                obj["status"] = {
                    "jobStatus": job_status,
                    "jobDeploymentStatus": "Complete",
                    "jobId": f"{obj['metadata']['name']}-{obj['metadata']['uid'][:8]}",
                    "rayClusterName": obj["spec"].get("clusterSelector", {}).get("ray.io/cluster", ""),
                    "startTime": obj["metadata"]["creationTimestamp"],
                    "endTime": _now(),
                }
            else:
                obj["status"] = {"jobStatus": "RUNNING", "jobDeploymentStatus": "Running"}

        def deployment(obj: dict[str, Any]) -> None:
            if countdown(obj):
                n = int(obj["spec"].get("replicas", 1))
                if self.model_pods:
                    name = obj["metadata"]["name"]
                    have, refused = self.store.sync_pods(obj, [(name, obj["spec"]["template"], n)])
                    if refused:
                        obj["status"] = {
                            "observedGeneration": obj["metadata"]["generation"],
                            "replicas": have,
                            "availableReplicas": have,
                            "conditions": [
                                {
                                    "type": "ReplicaFailure",
                                    "status": "True",
                                    "reason": "FailedCreate",
                                    "message": refused,
                                }
                            ],
                        }
                        return
                obj["status"] = {
                    "observedGeneration": obj["metadata"]["generation"],
                    "replicas": n,
                    "readyReplicas": n,
                    "availableReplicas": n,
                    "updatedReplicas": n,
                    "conditions": [
                        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
                    ],
                }

        with self.store.lock:
            self.store.controllers.update(RayCluster=raycluster, RayJob=rayjob, Deployment=deployment)

    def count(self, method: str, path: str, code: int) -> None:
        """Count one request under kube-apiserver's `apiserver_request_total` labels."""
        labels = classify(method, path)
        if labels is None:
            return
        key = (*labels, code)
        with self.store.lock:
            self.store.request_total[key] = self.store.request_total.get(key, 0) + 1

    def request_counts(self) -> dict[str, int]:
        """Requests so far by verb (GET, LIST, PATCH, ...), as /metrics would sum them."""
        out: dict[str, int] = {}
        with self.store.lock:
            for (verb, *_), n in self.store.request_total.items():
                out[verb] = out.get(verb, 0) + n
        return out

    def metrics(self) -> str:
        """`/metrics` in the Prometheus text format, with the counter the real server keeps."""
        lines = [
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each "
            "verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
            "# TYPE apiserver_request_total counter",
        ]
        with self.store.lock:
            for (verb, group, version, resource, scope, code), n in sorted(self.store.request_total.items()):
                lines.append(
                    f'apiserver_request_total{{code="{code}",component="apiserver",dry_run="",'
                    f'group="{group}",resource="{resource}",scope="{scope}",subresource="",'
                    f'verb="{verb}",version="{version}"}} {n}'
                )
        return "\n".join(lines) + "\n"

    def take_fault(self, method: str) -> Fault | None:
        with self.store.lock:
            for f in self.faults:
                if f.count > 0 and f.method in (None, method):
                    f.count -= 1
                    return f
        return None


def _selector(text: str) -> dict[str, str]:
    """Equality terms (`a=b`, `a==b`, comma-separated); other operators are refused rather
    than silently misread."""
    out: dict[str, str] = {}
    for term in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if not sep or "!" in key or " " in key:
            raise ApiError(
                400,
                "BadRequest",
                f"unable to parse requirement: {term!r} (the test server takes equality terms)",
            )
        out[key] = value
    return out


def classify(method: str, path: str) -> tuple[str, str, str, str, str] | None:
    """(verb, group, version, resource, scope) of a resource request as kube-apiserver's
    `apiserver_request_total` labels it (GET of a collection is LIST); None for other paths."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    scope = "cluster"
    if rest[0] == "namespaces" and len(rest) >= 3:
        scope, rest = "namespace", rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        scope = "resource"
    named = len(rest) >= 2
    if scope == "cluster" and named:
        scope = "resource"
    verb = ("GET" if named else "LIST") if method == "GET" else method
    return verb, group, version, rest[0], scope


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._conns: list[socket.socket] = []

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self._conns.append(sock)
        return sock, addr

    def close_connections(self) -> None:
        for sock in self._conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._conns.clear()


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class _Handler(BaseHTTPRequestHandler):
    api: TestApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        try:
            return (
                yaml.safe_load(raw) if "yaml" in (self.headers.get("Content-Type") or "") else json.loads(raw)
            )
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError(400, "BadRequest", f"error decoding the request body: {exc}") from exc

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        code = 500
        try:
            body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else None
            with self.api.store.lock:
                self.api.store.requests.append((method, url.path))
            if self.headers.get("Authorization") != f"Bearer {self.api.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if url.path == "/metrics" and method == "GET":
                code = 200
                self._send_text(200, self.api.metrics())
                return
            fault = self.api.take_fault(method)
            if fault is not None:
                raise ApiError(
                    fault.code,
                    _REASONS.get(fault.code, "InternalError"),
                    f"injected fault {fault.code}",
                    headers={"Retry-After": fault.retry_after} if fault.retry_after else None,
                )
            code, out = self._route(method, url.path, query, body)
            if code:  # 0: the route wrote its own answer (a pod log)
                self._send(code, out)
            else:
                code = 200
        except ApiError as exc:
            code = exc.code
            if exc.plain:
                data = (exc.message + "\n").encode()
                self.send_response(exc.code)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            else:
                self._send(exc.code, exc.status(), exc.headers)
        finally:
            self.api.count(method, url.path, code)

    def _send_text(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _pod_log(self, ns: str, pod: str, query: dict[str, str]) -> None:
        """GET pods/<pod>/log as kube-apiserver answers it from the kubelet: text lines, one
        container (named when the pod has several), tailLines, sinceSeconds, timestamps, and
        with follow=true a chunked stream that ends when the container ends."""
        logs = self.api.pod_logs
        with self.api.store.lock:
            obj = self.api.store.get(next(k for k in KINDS if k.kind == "Pod"), ns, pod)
        containers = [str(c["name"]) for c in (obj.get("spec") or {}).get("containers") or []]
        container = query.get("container") or (containers[0] if len(containers) == 1 else "")
        if not container:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {pod}, choose one of: [{' '.join(containers)}]",
            )
        if container not in containers:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {pod}")
        key = (ns, pod, container)
        since = float(query["sinceSeconds"]) if query.get("sinceSeconds") else None
        tail = int(query["tailLines"]) if query.get("tailLines") else None
        stamps = query.get("timestamps") == "true"

        def render(entries: list[tuple[float, str]]) -> bytes:
            out = []
            for when, line in entries:
                prefix = (
                    time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1e9):09d}Z "
                    if stamps
                    else ""
                )
                out.append(prefix + line + "\n")
            return "".join(out).encode()

        with logs.changed:
            entries = list(logs.lines.get(key, []))
        if since is not None:
            entries = [e for e in entries if e[0] >= time.time() - since]
        if tail is not None:
            entries = entries[-tail:] if tail else []
        if query.get("follow") != "true":
            data = render(entries)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        sent = len(logs.lines.get(key, []))
        if entries:
            chunk(render(entries))
        while True:
            with logs.changed:
                while len(logs.lines.get(key, [])) == sent and key not in logs.ended and not logs.closed:
                    logs.changed.wait(1.0)
                new = logs.lines.get(key, [])[sent:]
                done = key in logs.ended or logs.closed
            if new:
                chunk(render(new))
                sent += len(new)
            if done and not new:
                break
        self.wfile.write(b"0\r\n\r\n")  # the stream ended; the connection stays open for more
        self.wfile.flush()

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        parts = [p for p in path.split("/") if p]
        if parts == ["version"]:
            return 200, {
                "major": "1",
                "minor": "33",
                "gitVersion": "v1.33.0-mlrt-test",
                "platform": "linux/amd64",
            }
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            groups: dict[str, list[str]] = {}
            for k in KINDS:
                if k.group and k.group not in self.api.missing_groups:
                    groups.setdefault(k.group, []).append(k.version) if k.version not in groups.get(
                        k.group, []
                    ) else None
            return 200, {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                    }
                    for g, vs in groups.items()
                ],
            }
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError.page_not_found()
        if group in self.api.missing_groups:
            raise ApiError.page_not_found()
        if not rest:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", "method not allowed")
            kinds = [k for k in KINDS if (k.group, k.version) == (group, version)]
            if not kinds:
                raise ApiError.page_not_found()
            return 200, {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": [
                    {
                        "name": k.plural,
                        "singularName": k.kind.lower(),
                        "namespaced": k.namespaced,
                        "kind": k.kind,
                        "verbs": ["create", "delete", "get", "list", "patch", "update"],
                    }
                    for k in kinds
                ],
            }
        ns: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        kind = _BY_PATH.get((group, version, rest[0]))
        if kind is not None and kind.kind == "Pod" and ns is not None and len(rest) == 3 and rest[2] == "log":
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", "method not allowed")
            self._pod_log(ns, rest[1], query)
            return 0, {}
        if kind is None or (ns is not None and not kind.namespaced):
            raise ApiError.page_not_found()
        store = self.api.store
        if len(rest) == 3 and rest[2] == "scale" and kind.kind == "Deployment" and ns is not None:
            with store.lock:
                return self._scale(method, kind, ns, rest[1], query, body)
        if len(rest) > 2:
            raise ApiError.page_not_found()
        name = rest[1] if len(rest) > 1 else None
        scope = ns or ""
        manager = query.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0]
        if query.get("dryRun") not in (None, "All"):
            raise ApiError(400, "BadRequest", f"unsupported dry run value: {query['dryRun']!r}")
        dry = query.get("dryRun") == "All" and method in ("POST", "PUT", "PATCH", "DELETE")
        with store.lock:
            if dry:
                with store.dry_run():
                    return self._dispatch(method, kind, ns, scope, name, query, body, manager)
            return self._dispatch(method, kind, ns, scope, name, query, body, manager)

    def _dispatch(
        self,
        method: str,
        kind: Kind,
        ns: str | None,
        scope: str,
        name: str | None,
        query: dict[str, str],
        body: Any,
        manager: str,
    ) -> tuple[int, dict[str, Any]]:
        store = self.api.store
        if name is None:
            if method == "GET":
                limit = query.get("limit", "0")
                if not limit.isdigit():
                    raise ApiError(400, "BadRequest", f"invalid limit {limit!r}")
                return 200, store.list(
                    kind,
                    ns if kind.namespaced else None,
                    _selector(query.get("labelSelector", "")),
                    int(limit),
                    query.get("continue") or None,
                )
            if method == "POST":
                if kind.namespaced and ns is None:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return 201, store.create(kind, scope, body, manager)
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on a collection here")
        if kind.namespaced and ns is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method == "GET":
            return 200, store.get(kind, scope, name)
        if method == "PUT":
            return 200, store.replace(kind, scope, name, body, manager)
        if method == "PATCH":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0]
            if ctype == "application/apply-patch+yaml":
                if not query.get("fieldManager"):
                    raise ApiError(
                        422,
                        "Invalid",
                        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                        "Required value: is required for apply patch",
                    )
                return store.apply(kind, scope, name, body, manager, query.get("force") == "true")
            if ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                return 200, store.merge(kind, scope, name, body, manager)
            raise ApiError(
                415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {ctype}"
            )
        if method == "DELETE":
            policy = query.get("propagationPolicy") or (body or {}).get("propagationPolicy") or "Background"
            return 200, store.delete(kind, scope, name, policy)
        raise ApiError(405, "MethodNotAllowed", "method not allowed")

    def _scale(
        self, method: str, kind: Kind, ns: str, name: str, query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        """The `scale` subresource of a Deployment (what `kubectl scale` writes): GET the
        Scale, PATCH (merge) or PUT its `spec.replicas`. The field manager defaults to
        `kubectl-scale`, and the write is recorded with `subresource: scale`."""
        store = self.api.store
        obj = store.get(kind, ns, name)
        if method in ("PATCH", "PUT"):
            replicas = ((body or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int):
                raise ApiError(
                    422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: Required value'
                )
            manager = query.get("fieldManager") or "kubectl-scale"
            obj = store.merge(kind, ns, name, {"spec": {"replicas": replicas}}, manager, "scale")
        elif method != "GET":
            raise ApiError(405, "MethodNotAllowed", "method not allowed")
        meta = obj["metadata"]
        return 200, {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)},
        }
