"""Drift on the fields mlrt manages: the applied intent compared with the live object.

The intent is what mlrt sent with server-side apply; only its leaf fields are compared (lists as
a whole), so defaults the API server or controllers add, and status, never count as drift.
"""

from __future__ import annotations

from typing import Any

from clients.kubernetes import ObjRef

_IGNORED_META = ("name", "namespace")


def _leaves(obj: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(obj, dict) and obj:
        out = []
        for k in sorted(obj):
            if not prefix and k in ("apiVersion", "kind", "status"):
                continue
            if prefix == ("metadata",) and k in _IGNORED_META:
                continue
            out.extend(_leaves(obj[k], prefix + (k,)))
        return out
    return [(prefix, obj)] if prefix else []


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for k in path:
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def field_drift(intent: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """One line per managed field whose live value differs: `Deployment ns/n .spec.replicas: 2 → 5`."""
    ref = ObjRef.of(intent)
    out = []
    for path, want in _leaves(intent):
        have = _get(live, path)
        if have != want:
            out.append(f"{ref} .{'.'.join(path)}: {_short(want)} → {_short(have)}")
    return out
