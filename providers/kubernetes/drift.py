"""Drift on the fields mlrt manages: the applied intent compared with the live object.

Which fields: those the intent sets, which are the fields mlrt's server-side apply owns (the
`mlrt` entry of `managedFields` right after an apply is exactly the intent's field set). So
defaults the API server fills in (inside list items too: a container's `imagePullPolicy`, a
port's `protocol`, a RayCluster group's `numOfHosts`), fields other clients add, items other
clients append to keyed lists (an injected sidecar) and status never count as drift. This is
computed from the object a refresh already read; the alternative, diffing a server-side
dry-run apply against the live object, would cost one more request per object per refresh,
where refresh reads a whole kind in one LIST.

Lists are matched the way server-side apply merges them: by their merge keys where the
Kubernetes schema declares them (containers, env and volumes by name, volume mounts by
mountPath, ports by port and protocol), element by element otherwise (atomic lists).

Who changed a field: the `managedFields` of the live object name its owner now. A drifted
field another manager owns (kubectl edit, scale, label, patch) is reported as
`field .spec.replicas is now owned by kubectl-scale`, and whether apply takes it back (it
forces the fields mlrt declares unless the provider sets `force_conflicts = false`).

Values are shown so the difference is visible: short values whole, long strings as the
differing part with some context, multi-line strings as a unified-diff excerpt, lists of
scalars item by item.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from clients.kubernetes import FIELD_MANAGER, ObjRef

_IGNORED_META = ("name", "namespace")
_BY_NAME = ("containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets")
_MISSING = object()
SHORT = 60  # a value longer than this (as text) is shown by its differing part
CONTEXT = 16  # characters of context either side of a difference in a long string
DIFF_LINES = 8  # lines of a unified-diff excerpt

# A path segment: ("f", key) a map field, ("k", {key: value}) a list item by its merge key,
# ("i", index) an item of an atomic list.
Segment = tuple[str, Any]


@dataclass(frozen=True)
class Difference:
    path: tuple[Segment, ...]
    want: Any
    have: Any  # _MISSING when the live object lacks it


def merge_keys(kind: str, path: tuple[Segment, ...], field: str, items: list[Any]) -> tuple[str, ...] | None:
    """The list-map keys server-side apply merges the list `field` by; None: atomic."""
    if not items or not all(type(i) is dict for i in items):
        return None
    if field in _BY_NAME:
        return ("name",)
    if field == "volumeMounts":
        return ("mountPath",)
    if field == "ports" and all("containerPort" in i for i in items):
        return ("containerPort", "protocol")
    if field == "ports" and kind == "Service" and path == (("f", "spec"),):
        return ("port", "protocol")
    return None


def _key_of(item: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: item.get(k, "TCP" if k == "protocol" else None) for k in keys}


def _differences(kind: str, want: Any, have: Any, path: tuple[Segment, ...], out: list[Difference]) -> None:
    """Where `have` differs from `want` on the fields `want` sets. (Refresh runs this for every
    object: equal subtrees are skipped with one comparison.)"""
    if type(want) is dict and want:
        if type(have) is not dict:
            out.append(Difference(path, want, _MISSING if have is None else have))
            return
        top, meta = not path, path == (("f", "metadata"),)
        for k, w in want.items():
            if (top and k in ("apiVersion", "kind", "status")) or (meta and k in _IGNORED_META):
                continue
            h = have.get(k, _MISSING)
            if w == h:
                continue
            if type(w) is dict or type(w) is list:
                if type(w) is list and type(h) is list:
                    _list_differences(kind, k, w, h, path, out)
                else:
                    _differences(kind, w, h, path + (("f", k),), out)
            else:
                out.append(Difference(path + (("f", k),), w, h))
    elif path and have != want:
        out.append(Difference(path, want, have))


def _list_differences(
    kind: str, field: str, want: list[Any], have: list[Any], path: tuple[Segment, ...], out: list[Difference]
) -> None:
    at = path + (("f", field),)
    keys = merge_keys(kind, path, field, want)
    if keys is not None:
        for w in want:
            key = _key_of(w, keys)
            match = next((h for h in have if type(h) is dict and _key_of(h, keys) == key), _MISSING)
            if match is _MISSING:
                out.append(Difference(at + (("k", key),), w, _MISSING))
            elif w != match:
                _differences(kind, w, match, at + (("k", key),), out)
        return
    if len(want) == len(have) and any(type(w) in (dict, list) for w in want):
        for i, (w, h) in enumerate(zip(want, have)):
            if w != h:
                _differences(kind, w, h, at + (("i", i),), out)
        return
    out.append(Difference(at, want, have))


def dotted(path: tuple[Segment, ...]) -> str:
    """`.spec.template.spec.containers[name="server"].image`, as the API server names fields."""
    text = ""
    for kind, value in path:
        if kind == "f":
            text += f".{value}"
        elif kind == "k":
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in value.items()) + "]"
        else:
            text += f"[{value}]"
    return text


def _covers(fields: Any, path: tuple[Segment, ...]) -> bool:
    """Whether a `fieldsV1` tree owns `path`: the field itself, or a leaf above it (an atomic
    list or value owned whole)."""
    if not isinstance(fields, dict) or not fields:
        return False
    node: Any = fields
    for kind, value in path:
        if node == {}:
            return True
        if kind == "i":
            return False  # an atomic list's item, yet the list is no leaf: not this manager's
        key = f"f:{value}" if kind == "f" else "k:" + json.dumps(value, separators=(",", ":"))
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def owners(managed: Any, path: tuple[Segment, ...]) -> list[str]:
    """The field managers of the live object's `managedFields` that own `path`."""
    entries = managed if isinstance(managed, list) else []
    return sorted(
        {str(e.get("manager")) for e in entries if isinstance(e, dict) and _covers(e.get("fieldsV1"), path)}
    )


def _text(value: Any) -> str:
    if value is _MISSING:
        return "(unset)"
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else json.dumps(value)


def _excerpt(a: str, b: str) -> tuple[str, str]:
    """The differing middle of two long strings, with CONTEXT characters either side."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    lo = max(0, start - CONTEXT)

    def cut(s: str) -> str:
        hi = min(len(s), len(s) - end + CONTEXT)
        return ("..." if lo else "") + s[lo:hi] + ("..." if hi < len(s) else "")

    return cut(a), cut(b)


def describe(want: Any, have: Any) -> str:
    """`wanted -> live`, readable however long the values are."""
    if isinstance(want, str) and isinstance(have, str) and ("\n" in want or "\n" in have):
        lines = list(
            difflib.unified_diff(want.splitlines(), have.splitlines(), "mlrt", "live", n=1, lineterm="")
        )[2:]
        shown = lines[:DIFF_LINES] + (
            [f"... ({len(lines) - DIFF_LINES} more lines)"] if len(lines) > DIFF_LINES else []
        )
        return "changed (- wanted, + live):\n    " + "\n    ".join(shown)
    if (
        isinstance(want, list)
        and isinstance(have, list)
        and all(not isinstance(v, (dict, list)) for v in want + have)
    ):
        if len(want) == len(have):
            changed = [
                f"[{i}] {_text(w)} -> {_text(h)}" for i, (w, h) in enumerate(zip(want, have)) if w != h
            ]
            if changed and len(_text(want)) > SHORT:
                return "items " + ", ".join(changed)
        else:
            gone = [_text(v) for v in want if v not in have]
            extra = [_text(v) for v in have if v not in want]
            if len(_text(want)) > SHORT:
                return (
                    f"{len(want)} items -> {len(have)} items"
                    + (f" (missing {', '.join(gone)})" if gone else "")
                    + (f" (extra {', '.join(extra)})" if extra else "")
                )
    a, b = _text(want), _text(have)
    if len(a) > SHORT or len(b) > SHORT:
        if want is not _MISSING and have is not _MISSING:
            a, b = _excerpt(a, b)
        else:
            a = a if len(a) <= SHORT else a[: SHORT - 1] + "..."
            b = b if len(b) <= SHORT else b[: SHORT - 1] + "..."
    return f"{a} -> {b}"


def field_drift(intent: dict[str, Any], live: dict[str, Any], force: bool = True) -> list[str]:
    """One line per managed field whose live value differs:
    `Deployment ns/n .spec.replicas: 2 -> 5 (field .spec.replicas is now owned by kubectl-scale;
    apply will take it back)`."""
    ref = ObjRef.of(intent)
    found: list[Difference] = []
    _differences(ref.kind, intent, live, (), found)
    managed = (live.get("metadata") or {}).get("managedFields")
    lines = []
    for d in found:
        where = dotted(d.path)
        item_gone = d.have is _MISSING and d.path[-1][0] == "k"
        line = f"{ref} {where}: " + ("missing" if item_gone else describe(d.want, d.have))
        others = [m for m in owners(managed, d.path) if m != FIELD_MANAGER]
        if others:
            who = " and ".join(others)
            then = (
                "apply will take it back"
                if force
                else "apply will fail with a conflict, as the provider sets force_conflicts = false "
                "(set it to true to take the field back, or revert the change)"
            )
            line += f" (field {where} is now owned by {who}; {then})"
        lines.append(line)
    return lines
