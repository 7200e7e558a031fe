"""Value helpers shared by the evaluator, the functions and the type system.

Values are plain Python: str, int/float (int whenever integral, as Terraform prints numbers),
bool, None, list, dict, plus `HclSet` (a list subclass: ordered, deduplicated; for_each needs to
tell a set from a list), `ResourceRef` (a dict subclass naming the resource it came from) and
the marks from `mlrt_iac.values` (UNKNOWN, Sensitive).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from ..values import UNKNOWN, Sensitive


class EvalError(Exception):
    """A problem evaluating one expression: becomes a Diagnostic at the expression's range."""

    def __init__(self, summary: str, detail: str, pos: tuple[int, int, int, int] | None = None) -> None:
        super().__init__(f"{summary}: {detail}")
        self.summary = summary
        self.detail = detail
        self.pos = pos


class HclSet(list):
    """A set value: a list without duplicates, strings sorted like Terraform's sets."""

    @staticmethod
    def of(items: Iterable[Any]) -> HclSet:
        out: list[Any] = []
        seen: set[Any] = set()
        for x in items:
            try:
                key: Any = ("h", type(x).__name__, x)
                hash(key)
            except TypeError:
                key = ("j", json.dumps(x, sort_keys=True, default=repr))
            if key not in seen:
                seen.add(key)
                out.append(x)
        if all(isinstance(x, str) for x in out):
            out.sort()
        return HclSet(out)


class ResourceRef(dict):
    """A whole resource as a value (`compute_pool = compute_pool.cpu`): its attributes, and its address.

    Reading an attribute it lacks yields UNKNOWN (it may be computed at apply time).
    """

    __slots__ = ("address",)

    def __init__(self, address: str, attrs: Any) -> None:
        super().__init__(attrs)
        self.address = address

    def __reduce__(self) -> Any:
        return (ResourceRef, (self.address, dict(self)))


def is_unknown(v: Any) -> bool:
    return v is UNKNOWN


def deep_unknown(v: Any) -> bool:
    """True when v is or contains UNKNOWN."""
    if v is UNKNOWN:
        return True
    if isinstance(v, Sensitive):
        return deep_unknown(v.value)
    if isinstance(v, dict):
        return any(deep_unknown(x) for x in v.values())
    if isinstance(v, list):
        return any(deep_unknown(x) for x in v)
    return False


def deep_sensitive(v: Any) -> bool:
    if isinstance(v, Sensitive):
        return True
    if isinstance(v, dict):
        return any(deep_sensitive(x) for x in v.values())
    if isinstance(v, list):
        return any(deep_sensitive(x) for x in v)
    return False


def strip_marks(v: Any) -> Any:
    """Remove every Sensitive wrapper (keeping container subclasses such as HclSet)."""
    if isinstance(v, Sensitive):
        return strip_marks(v.value)
    if isinstance(v, ResourceRef):
        return ResourceRef(v.address, {k: strip_marks(x) for k, x in v.items()})
    if isinstance(v, dict):
        return {k: strip_marks(x) for k, x in v.items()}
    if isinstance(v, HclSet):
        return HclSet(strip_marks(x) for x in v)
    if isinstance(v, list):
        return [strip_marks(x) for x in v]
    return v


def unwrap(v: Any) -> tuple[Any, bool]:
    """Top-level only: (plain value, was it sensitive)."""
    if isinstance(v, Sensitive):
        return v.value, True
    return v, False


def mark(v: Any, sensitive: bool) -> Any:
    return Sensitive(v) if sensitive and v is not UNKNOWN else v


def norm_number(x: float | int) -> int | float:
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**63:
        return int(x)
    return x


def type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, HclSet):
        return "set"
    if isinstance(v, list):
        return "tuple"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def to_number(v: Any, what: str = "value") -> int | float:
    if isinstance(v, bool):
        raise EvalError("Invalid value", f"A number is required for the {what}, got a bool.")
    if isinstance(v, (int, float)):
        return norm_number(v)
    if isinstance(v, str):
        s = v.strip()
        try:
            return int(s)
        except ValueError:
            pass
        try:
            f = float(s)
        except ValueError:
            raise EvalError(
                "Invalid value", f"A number is required for the {what}; {v!r} is not a number."
            ) from None
        if math.isnan(f) or math.isinf(f):
            raise EvalError("Invalid value", f"{v!r} is not a number.")
        return norm_number(f)
    raise EvalError("Invalid value", f"A number is required for the {what}, got {type_name(v)}.")


def to_bool(v: Any, what: str = "value") -> bool:
    if isinstance(v, bool):
        return v
    if v == "true":
        return True
    if v == "false":
        return False
    raise EvalError("Invalid value", f"A bool is required for the {what}, got {type_name(v)}.")


def format_number(x: int | float) -> str:
    x = norm_number(x)
    if isinstance(x, int):
        return str(x)
    r = repr(x)
    if "e" in r:
        r = f"{x:.17g}"
    return r


def to_str(v: Any, what: str = "value") -> str:
    """Terraform's string conversion: numbers without `.0`, bools as true/false."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return format_number(v)
    if v is None:
        raise EvalError("Invalid value", f"The {what} is null; a string is required.")
    raise EvalError("Invalid value", f"A string is required for the {what}, got {type_name(v)}.")


def hcl_equal(a: Any, b: Any) -> bool:
    """Equality by value and type: "1" != 1, true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(a == b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(hcl_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(hcl_equal(x, y) for x, y in zip(a, b))
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    return bool(a == b)


def to_json_value(v: Any) -> Any:
    """Plain JSON-able value (for jsonencode, hashing); Sensitive stripped, UNKNOWN kept."""
    if isinstance(v, Sensitive):
        return to_json_value(v.value)
    if isinstance(v, dict):
        return {str(k): to_json_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json_value(x) for x in v]
    return v
