"""Drift on the fields mlrt manages: the applied intent compared with the live object.

The intent is what mlrt sent with server-side apply; only the fields it sets are compared (lists
of maps element by element, other lists whole), so defaults the API server or controllers add,
and status, never count as drift.
"""

from __future__ import annotations

from typing import Any

from clients.kubernetes import ObjRef

_IGNORED_META = ("name", "namespace")


def _differences(want: Any, have: Any, path: tuple[str, ...], out: list[tuple[str, Any, Any]]) -> None:
    """Where `have` differs from `want` on the fields `want` sets.

    Maps are compared key by key; a list of maps (containers, ports, env) element by element,
    since the API server fills defaults into each element (a container's `imagePullPolicy`, a
    port's `protocol`): a different length is a difference of the whole list. Other lists and
    scalars are compared whole.
    """
    if isinstance(want, dict) and want:
        if not isinstance(have, dict):
            out.append((_dotted(path), want, have))
            return
        for k in sorted(want):
            if not path and k in ("apiVersion", "kind", "status"):
                continue
            if path == ("metadata",) and k in _IGNORED_META:
                continue
            _differences(want[k], have.get(k), path + (k,), out)
    elif isinstance(want, list) and want and all(isinstance(x, dict) for x in want):
        if not isinstance(have, list) or len(have) != len(want):
            out.append((_dotted(path), want, have))
            return
        for i, (w, h) in enumerate(zip(want, have)):
            _differences(w, h, path + (f"[{i}]",), out)
    elif path and have != want:
        out.append((_dotted(path), want, have))


def _dotted(path: tuple[str, ...]) -> str:
    return "".join(p if p.startswith("[") else "." + p for p in path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def field_drift(intent: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """One line per managed field whose live value differs: `Deployment ns/n .spec.replicas: 2 → 5`."""
    ref = ObjRef.of(intent)
    found: list[tuple[str, Any, Any]] = []
    _differences(intent, live, (), found)
    return [f"{ref} {where}: {_short(want)} → {_short(have)}" for where, want, have in found]
