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
    scalars are compared whole. (Refresh runs this for every object: scalars are compared
    inline, without a call of their own.)
    """
    if type(want) is dict and want:
        if type(have) is not dict:
            out.append((_dotted(path), want, have))
            return
        top, meta = not path, path == ("metadata",)
        for k, w in want.items():
            if (top and k in ("apiVersion", "kind", "status")) or (meta and k in _IGNORED_META):
                continue
            h = have.get(k)
            if type(w) is dict or type(w) is list:
                if w != h:
                    _differences(w, h, path + (k,), out)
            elif w != h:
                out.append((_dotted(path + (k,)), w, h))
    elif type(want) is list and want and all(type(x) is dict for x in want):
        if type(have) is not list or len(have) != len(want):
            out.append((_dotted(path), want, have))
            return
        for i, (w, h) in enumerate(zip(want, have)):
            if w != h:
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
