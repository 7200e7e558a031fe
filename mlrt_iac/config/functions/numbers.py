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


def _go_log(x: float) -> float:
    """Go's math.Log: -Inf at 0, NaN below, Inf at Inf."""
    if x == 0:
        return -math.inf
    if x < 0 or math.isnan(x):
        return math.nan
    return math.inf if math.isinf(x) else math.log(x)


def f_log(ctx: FuncContext, num: Any, base: Any) -> Any:
    a, b = _go_log(float(num_arg(num))), _go_log(float(num_arg(base)))
    try:
        r = a / b
    except ZeroDivisionError:
        r = math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
    if math.isnan(r):
        raise FuncError("result is not a number")
    return norm_number(r)


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
    "log": Func(f_log, 2, 2),
}
