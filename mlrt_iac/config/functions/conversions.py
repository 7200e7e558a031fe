"""Type conversions (toset, tostring, ...) and JSON encoding."""

from __future__ import annotations

import json
from typing import Any

from ..valueops import (
    HclSet,
    norm_number,
    to_bool,
    to_json_value,
    to_number,
    to_str,
)
from .base import Func, FuncContext, FuncError, list_arg, map_arg


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


def f_jsonencode(ctx: FuncContext, v: Any) -> Any:
    return json.dumps(to_json_value(v), separators=(",", ":"), sort_keys=False)


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
        return _norm_json(json.loads(to_str(s)))
    except json.JSONDecodeError as e:
        raise FuncError(f"invalid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None


FUNCTIONS: dict[str, Func] = {
    "toset": Func(f_toset, 1, 1),
    "tolist": Func(f_tolist, 1, 1, True),
    "tomap": Func(f_tomap, 1, 1, True),
    "tostring": Func(f_tostring, 1, 1),
    "tonumber": Func(f_tonumber, 1, 1),
    "tobool": Func(f_tobool, 1, 1),
    "jsonencode": Func(f_jsonencode, 1, 1),
    "jsondecode": Func(f_jsondecode, 1, 1),
}
