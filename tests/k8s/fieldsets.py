"""Managed-field paths as server-side apply computes them, and their `fieldsV1` encoding.

A path is a tuple of segments: a map key (`"spec"`, `"replicas"`) or, for an item of a list
that kube-apiserver merges by key (a `listType: map` / strategic-merge list), the item's key
in the real encoding, `k:{"name":"server"}`. A path ending in such a segment means "this item
exists" (fieldsV1's `.: {}`). Every other list is atomic: the list as a whole is one leaf, as
for a CRD list without `x-kubernetes-list-type` (RayCluster's `workerGroupSpecs`).

The key table is what the Kubernetes OpenAPI (and the KubeRay CRDs' embedded pod templates)
declare for the fields mlrt renders: containers, init containers, env and volumes by `name`,
volume mounts by `mountPath`, container ports by `containerPort` + `protocol`, a Service's
ports by `port` + `protocol`. `protocol` is defaulted to TCP inside the key, as the server
defaults it before computing the key.
"""

from __future__ import annotations

import copy
import json
from typing import Any

Path_ = tuple[str, ...]
_BY_NAME = ("containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets")
_META_KEEP = ("labels", "annotations")  # metadata fields that take part in managed fields
MISSING = object()


def merge_keys(kind: str, path: Path_, field: str, items: list[Any]) -> tuple[str, ...] | None:
    """The list-map keys of the list at `path + (field,)`, or None when it is atomic."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    if field in _BY_NAME:
        return ("name",)
    if field == "volumeMounts":
        return ("mountPath",)
    if field == "ports" and all("containerPort" in i for i in items):
        return ("containerPort", "protocol")
    if field == "ports" and kind == "Service" and path == ("spec",):
        return ("port", "protocol")
    return None


def item_key(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    """`k:{"containerPort":8080,"protocol":"TCP"}` for one list item."""
    values = {k: item.get(k, "TCP" if k == "protocol" else None) for k in keys}
    return "k:" + json.dumps(values, separators=(",", ":"))


def field_paths(kind: str, obj: Any, prefix: Path_ = ()) -> set[Path_]:
    """The managed-field paths of an object as sent (status, apiVersion/kind and the
    server-owned metadata excluded)."""
    out: set[Path_] = set()
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            if not prefix and k in ("status", "apiVersion", "kind"):
                continue
            if prefix == ("metadata",) and k not in _META_KEEP:
                continue
            if isinstance(v, list):
                keys = merge_keys(kind, prefix, k, v)
                if keys is not None:
                    for item in v:
                        at = prefix + (k, item_key(item, keys))
                        out.add(at)
                        out |= field_paths(kind, item, at)
                    continue
            out |= field_paths(kind, v, prefix + (k,))
    elif prefix:
        out.add(prefix)
    return out


def _find(items: list[Any], seg: str) -> int | None:
    want = json.loads(seg[2:])
    for i, item in enumerate(items):
        if isinstance(item, dict) and all(
            item.get(k, "TCP" if k == "protocol" else None) == v for k, v in want.items()
        ):
            return i
    return None


def get_path(obj: Any, path: Path_) -> Any:
    for seg in path:
        if seg.startswith("k:") and isinstance(obj, list):
            i = _find(obj, seg)
            if i is None:
                return MISSING
            obj = obj[i]
        elif isinstance(obj, dict) and seg in obj:
            obj = obj[seg]
        else:
            return MISSING
    return obj


def set_path(obj: dict[str, Any], path: Path_, value: Any) -> None:
    """Set the leaf at `path`, creating maps and keyed items on the way (an item is created
    with its key fields)."""
    cur: Any = obj
    for i, seg in enumerate(path):
        last = i == len(path) - 1
        nxt_seg = path[i + 1] if not last else None
        if seg.startswith("k:") and isinstance(cur, list):
            at = _find(cur, seg)
            if at is None:
                cur.append(dict(json.loads(seg[2:])))
                at = len(cur) - 1
            if last:
                return  # presence only: the item now exists
            cur = cur[at]
            continue
        if last:
            cur[seg] = copy.deepcopy(value)
            return
        want_list = nxt_seg is not None and nxt_seg.startswith("k:")
        if not isinstance(cur.get(seg), list if want_list else dict):
            cur[seg] = [] if want_list else {}
        cur = cur[seg]


def del_path(obj: dict[str, Any], path: Path_) -> None:
    """Remove the leaf (or keyed item) at `path`; maps left empty are pruned."""
    parents: list[tuple[Any, Any]] = []
    cur: Any = obj
    for seg in path[:-1]:
        if seg.startswith("k:") and isinstance(cur, list):
            i = _find(cur, seg)
            if i is None:
                return
            parents.append((cur, i))
            cur = cur[i]
        elif isinstance(cur, dict) and seg in cur:
            parents.append((cur, seg))
            cur = cur[seg]
        else:
            return
    last = path[-1]
    if last.startswith("k:") and isinstance(cur, list):
        i = _find(cur, last)
        if i is not None:
            del cur[i]
    elif isinstance(cur, dict):
        cur.pop(last, None)
    for parent, k in reversed(parents):  # prune maps left empty
        if parent[k] == {} and isinstance(parent, dict):
            del parent[k]
        else:
            break


def fields_v1(paths: set[Path_]) -> dict[str, Any]:
    """The `fieldsV1` tree: `{"f:spec": {"f:replicas": {}}}`, keyed items as
    `{"k:{\\"name\\":\\"server\\"}": {".": {}, "f:image": {}}}`."""
    root: dict[str, Any] = {}
    for p in sorted(paths):
        cur = root
        for seg in p:
            cur = cur.setdefault(seg if seg.startswith("k:") else f"f:{seg}", {})
        if p and p[-1].startswith("k:"):
            cur["."] = {}
    return root


def dotted(path: Path_) -> str:
    """`.spec.template.spec.containers[name=server].image`, for conflict messages."""
    out = ""
    for seg in path:
        if seg.startswith("k:"):
            out += "[" + ",".join(f"{k}={v}" for k, v in json.loads(seg[2:]).items()) + "]"
        else:
            out += "." + seg
    return out
