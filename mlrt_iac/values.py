"""Special values that flow through expressions, plans and providers.

`UNKNOWN` stands for a value known only after apply (a computed attribute of a resource still
to be created); any operation on it yields `UNKNOWN`. `Sensitive(v)` marks a value derived from
a sensitive variable; operations keep the mark, and printing code redacts it.
"""

from __future__ import annotations

from typing import Any


class _Unknown:
    """Singleton for '(known after apply)'."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("an unknown value has no truth value; check is_known() first")


UNKNOWN = _Unknown()


class Sensitive:
    """A value that must never be printed. Compare and hash like the wrapped value."""

    __slots__ = ("value",)
    value: Any

    def __init__(self, value: Any) -> None:
        while isinstance(value, Sensitive):
            value = value.value
        self.value = value

    def __repr__(self) -> str:
        return "(sensitive value)"

    def __eq__(self, other: object) -> bool:
        other_v = other.value if isinstance(other, Sensitive) else other
        return bool(self.value == other_v)

    def __hash__(self) -> int:
        return hash(self.value)


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def is_known(value: Any) -> bool:
    """True when the value and everything inside it is known."""
    if value is UNKNOWN:
        return False
    if isinstance(value, Sensitive):
        return is_known(value.value)
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(is_known(v) for v in value)
    return True


def unmark(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, list[tuple[Any, ...]]]:
    """Strip `Sensitive` wrappers; return the plain value and the paths that were sensitive.

    Containers without marks come back as equal copies; scalars are never visited by a call of
    their own (this runs for every resource on every plan).
    """
    if isinstance(value, Sensitive):
        plain, _ = unmark(value.value, path)
        return plain, [path]
    paths: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(v, _NESTED):
                out[k], p = unmark(v, path + (k,))
                if p:
                    paths.extend(p)
            else:
                out[k] = v
        return out, paths
    if isinstance(value, (list, tuple)):
        items = []
        for i, v in enumerate(value):
            if isinstance(v, _NESTED):
                plain, p = unmark(v, path + (i,))
                items.append(plain)
                if p:
                    paths.extend(p)
            else:
                items.append(v)
        return (items if isinstance(value, list) else tuple(items)), paths
    return value, paths


_NESTED = (dict, list, tuple, Sensitive)


MIN_SECRET_LENGTH = 4  # shorter sensitive strings ("1", "yes") would blank out ordinary words


def sensitive_strings(value: Any, inside: bool = False, found: set[str] | None = None) -> set[str]:
    """Every string (and number, as written) held under a `Sensitive` mark in `value`.

    Diagnostics and printed headers are redacted by these: a message that quotes an offending
    value must not show a secret that reached it, whatever check produced the message.
    """
    out = found if found is not None else set()
    if isinstance(value, Sensitive):
        sensitive_strings(value.value, True, out)
    elif isinstance(value, dict):
        for v in value.values():
            sensitive_strings(v, inside, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            sensitive_strings(v, inside, out)
    elif inside and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = value if isinstance(value, str) else str(value)
        if len(text) >= MIN_SECRET_LENGTH:
            out.add(text)
    return out
