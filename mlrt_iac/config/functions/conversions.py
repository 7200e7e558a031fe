"""Type conversions (toset, tostring, ...) and JSON encoding."""

from __future__ import annotations

import json
from typing import Any

from ...values import UNKNOWN, Sensitive
from ..types import TypeSpec, parse_type
from ..types import convert as convert_to
from ..valueops import (
    HclSet,
    norm_number,
    to_bool,
    to_json_value,
    to_number,
    to_str,
)
from .base import Func, FuncContext, FuncError, Syntax, list_arg, map_arg


def f_toset(ctx: FuncContext, v: Any) -> Any:
    return HclSet.of(list_arg(v))


def f_tolist(ctx: FuncContext, v: Any) -> Any:
    return list(list_arg(v))


def f_tomap(ctx: FuncContext, v: Any) -> Any:
    return dict(map_arg(v))


def f_tostring(ctx: FuncContext, v: Any) -> Any:
    return None if v is None else to_str(v)


def f_tonumber(ctx: FuncContext, v: Any) -> Any:
    return None if v is None else to_number(v)


def f_tobool(ctx: FuncContext, v: Any) -> Any:
    return None if v is None else to_bool(v)


_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def f_jsonencode(ctx: FuncContext, v: Any) -> Any:
    """JSON as Terraform writes it (Go's encoder): object keys sorted, `<`, `>`, `&`, U+2028 and
    U+2029 escaped, other characters as UTF-8; a non-finite number is an error (JSON has none)."""
    try:
        text = json.dumps(
            to_json_value(v), separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
        )
    except ValueError:
        raise FuncError("cannot encode an infinite or NaN number as JSON") from None
    if any(c in text for c in _GO_JSON_ESCAPES):
        text = "".join(_GO_JSON_ESCAPES.get(c, c) for c in text)
    return text


def _no_constant(name: str) -> Any:
    raise FuncError(f"invalid JSON: {name} is not a JSON value")


def _norm_json(v: Any) -> Any:
    if isinstance(v, float):
        return norm_number(v)
    if isinstance(v, list):
        return [_norm_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm_json(x) for k, x in v.items()}
    return v


def f_jsondecode(ctx: FuncContext, s: Any) -> Any:
    try:
        return _norm_json(json.loads(to_str(s), parse_constant=_no_constant))
    except json.JSONDecodeError as e:
        raise FuncError(f"invalid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None


def f_convert(ctx: FuncContext, v: Any, t: Syntax) -> Any:
    """convert(value, type): the type is a type constraint as in a variable's `type`."""
    return convert_to(v, parse_type(t.expr))


def f_issensitive(ctx: FuncContext, v: Any) -> Any:
    if isinstance(v, Sensitive):
        return True
    return UNKNOWN if v is UNKNOWN else False


def f_ephemeralasnull(ctx: FuncContext, v: Any) -> Any:
    """mlrt has no ephemeral values (no ephemeral variables or resources), so every value is
    returned as it is, marks and unknowns included."""
    return v


def type_of(v: Any) -> TypeSpec:
    """The type of a value, as a type constraint (`dynamic` where no type is known)."""
    if isinstance(v, Sensitive):
        return type_of(v.value)
    if v is UNKNOWN or v is None:
        return ("dynamic",)
    if isinstance(v, bool):
        return ("bool",)
    if isinstance(v, (int, float)):
        return ("number",)
    if isinstance(v, str):
        return ("string",)
    if isinstance(v, HclSet):
        elems = {_type_text(type_of(x)) for x in v}
        return ("set", type_of(v[0]) if len(elems) == 1 else ("dynamic",))
    if isinstance(v, list):
        return ("tuple", [type_of(x) for x in v])
    if isinstance(v, dict):
        return ("object", {k: (type_of(x), False, None) for k, x in sorted(v.items())})
    return ("dynamic",)


def _type_text(t: TypeSpec) -> str:
    k = t[0]
    if k in ("list", "set", "map"):
        return f"{k}({_type_text(t[1])})"
    if k == "tuple":
        return "tuple([" + ", ".join(_type_text(x) for x in t[1]) + "])"
    if k == "object":
        return "object({" + ", ".join(f"{n} = {_type_text(s)}" for n, (s, _, _) in t[1].items()) + "})"
    return str(k)


def f_type(ctx: FuncContext, v: Any) -> Any:
    """The type of the value as a string. Terraform's `type()` exists only in `terraform console`,
    whose result prints as a type; mlrt has no console, so it returns that text."""
    return _type_text(type_of(v))


FUNCTIONS: dict[str, Func] = {
    "toset": Func(f_toset, 1, 1),
    "tolist": Func(f_tolist, 1, 1, True),
    "tomap": Func(f_tomap, 1, 1, True),
    "tostring": Func(f_tostring, 1, 1),
    "tonumber": Func(f_tonumber, 1, 1),
    "tobool": Func(f_tobool, 1, 1),
    "jsonencode": Func(f_jsonencode, 1, 1),
    "jsondecode": Func(f_jsondecode, 1, 1),
    "convert": Func(f_convert, 2, 2, syntax_args=(1,), type_args=(1,)),
    "issensitive": Func(f_issensitive, 1, 1, raw=True),
    "ephemeralasnull": Func(f_ephemeralasnull, 1, 1, raw=True),
    "type": Func(f_type, 1, 1, raw=True),
}
