"""Number functions: min, max, abs, ceil, floor, pow, signum, parseint."""

from __future__ import annotations

import math
from typing import Any

from ..valueops import (
    norm_number,
    to_str,
)
from .base import Func, FuncContext, FuncError, int_arg, num_arg


def f_min(ctx: FuncContext, *a: Any) -> Any:
    if not a:
        raise FuncError("at least one number is required")
    return norm_number(min(num_arg(x) for x in a))


def f_max(ctx: FuncContext, *a: Any) -> Any:
    if not a:
        raise FuncError("at least one number is required")
    return norm_number(max(num_arg(x) for x in a))


def f_parseint(ctx: FuncContext, s: Any, base: Any) -> Any:
    try:
        return int(to_str(s), int_arg(base))
    except ValueError:
        raise FuncError(f"cannot parse {to_str(s)!r} as a base {base} integer") from None


def f_coalesce(ctx: FuncContext, *a: Any) -> Any:
    for x in a:
        if x is not None and x != "":
            return x
    raise FuncError("no non-null, non-empty-string arguments")


FUNCTIONS: dict[str, Func] = {
    "min": Func(f_min, 1, None),
    "max": Func(f_max, 1, None),
    "abs": Func(lambda ctx, x: norm_number(abs(num_arg(x))), 1, 1),
    "ceil": Func(lambda ctx, x: math.ceil(num_arg(x)), 1, 1),
    "floor": Func(lambda ctx, x: math.floor(num_arg(x)), 1, 1),
    "pow": Func(lambda ctx, x, y: norm_number(float(num_arg(x)) ** num_arg(y)), 2, 2),
    "signum": Func(lambda ctx, x: (num_arg(x) > 0) - (num_arg(x) < 0), 1, 1),
    "parseint": Func(f_parseint, 2, 2),
    "coalesce": Func(f_coalesce, 1, None),
}
