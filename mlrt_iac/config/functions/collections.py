"""Collection functions: length, lookup, merge, concat, keys, flatten, range, set operations..."""

from __future__ import annotations

from typing import Any

from ...values import UNKNOWN
from ..valueops import (
    HclSet,
    hcl_equal,
    norm_number,
    to_bool,
    to_str,
    type_name,
)
from .base import Func, FuncContext, FuncError, int_arg, list_arg, map_arg, num_arg


def f_length(ctx: FuncContext, v: Any) -> Any:
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise FuncError(f"argument must be a string, a collection type, or a structural type, not {type_name(v)}")


def f_lookup(ctx: FuncContext, m: Any, key: Any, *default: Any) -> Any:
    m = map_arg(m, "first argument")
    k = to_str(key)
    if k in m:
        return m[k]
    if default:
        return default[0]
    raise FuncError(f"the given key {k!r} does not exist in the map and no default was given")


def f_merge(ctx: FuncContext, *maps: Any) -> Any:
    out: dict[Any, Any] = {}
    for m in maps:
        if m is None:
            continue
        out.update(map_arg(m))
    return out


def f_concat(ctx: FuncContext, *lists: Any) -> Any:
    out: list[Any] = []
    for x in lists:
        out.extend(list_arg(x))
    return out


def f_contains(ctx: FuncContext, coll: Any, value: Any) -> Any:
    return any(hcl_equal(x, value) for x in list_arg(coll))


def f_keys(ctx: FuncContext, m: Any) -> Any:
    return sorted(map_arg(m).keys())


def f_values(ctx: FuncContext, m: Any) -> Any:
    mm = map_arg(m)
    return [mm[k] for k in sorted(mm.keys())]


def f_zipmap(ctx: FuncContext, ks: Any, vs: Any) -> Any:
    ks, vs = list_arg(ks), list_arg(vs)
    if len(ks) != len(vs):
        raise FuncError(f"number of keys ({len(ks)}) does not match number of values ({len(vs)})")
    return {to_str(k): v for k, v in zip(ks, vs)}


def f_flatten(ctx: FuncContext, v: Any) -> Any:
    out: list[Any] = []

    def walk(x: list[Any]) -> bool:
        for e in x:
            if e is UNKNOWN:
                return False
            if isinstance(e, list):
                if not walk(e):
                    return False
            else:
                out.append(e)
        return True

    return out if walk(list_arg(v)) else UNKNOWN


def f_distinct(ctx: FuncContext, v: Any) -> Any:
    out: list[Any] = []
    for x in list_arg(v):
        if not any(hcl_equal(x, y) for y in out):
            out.append(x)
    return out


def f_sort(ctx: FuncContext, v: Any) -> Any:
    return sorted(to_str(x, "list element") for x in list_arg(v))


def f_range(ctx: FuncContext, *a: Any) -> Any:
    nums = [num_arg(x) for x in a]
    start: int | float
    stop: int | float
    step: int | float
    if len(nums) == 1:
        start, stop, step = 0, nums[0], 1
    elif len(nums) == 2:
        start, stop, step = nums[0], nums[1], 1 if nums[1] >= nums[0] else -1
    else:
        start, stop, step = nums
    if step == 0:
        raise FuncError("step must not be zero")
    if (stop - start) / step > 1024:
        raise FuncError("more than 1024 values were generated; use a larger step")
    out: list[Any] = []
    x = start
    while (step > 0 and x < stop) or (step < 0 and x > stop):
        out.append(norm_number(x))
        x += step
    return out


def f_element(ctx: FuncContext, v: Any, i: Any) -> Any:
    lst = list_arg(v)
    if not lst:
        raise FuncError("cannot use element function with an empty list")
    idx = int_arg(i, "index")
    if idx < 0:
        raise FuncError("cannot use element function with a negative index")
    return lst[idx % len(lst)]


def f_slice(ctx: FuncContext, v: Any, a: Any, b: Any) -> Any:
    lst = list_arg(v)
    s, e = int_arg(a), int_arg(b)
    if s < 0 or e > len(lst) or s > e:
        raise FuncError(f"invalid slice indices {s}, {e} for a list of length {len(lst)}")
    return lst[s:e]


def f_index(ctx: FuncContext, v: Any, value: Any) -> Any:
    for i, x in enumerate(list_arg(v)):
        if hcl_equal(x, value):
            return i
    raise FuncError("item not found")


def f_reverse(ctx: FuncContext, v: Any) -> Any:
    return list(reversed(list_arg(v)))


def f_one(ctx: FuncContext, v: Any) -> Any:
    lst = list_arg(v)
    if len(lst) > 1:
        raise FuncError(
            f"must be a list, set, or tuple value with either zero or one elements, got {len(lst)}"
        )
    return lst[0] if lst else None


def f_compact(ctx: FuncContext, v: Any) -> Any:
    return [x for x in list_arg(v) if x is not None and x != ""]


def f_chunklist(ctx: FuncContext, v: Any, n: Any) -> Any:
    lst, size = list_arg(v), int_arg(n)
    if size < 0:
        raise FuncError("the size argument must be positive")
    if size == 0:
        return [lst]
    return [lst[i : i + size] for i in range(0, len(lst), size)]


def f_coalescelist(ctx: FuncContext, *lists: Any) -> Any:
    for x in lists:
        if list_arg(x):
            return x
    raise FuncError("no non-null arguments")


def f_setunion(ctx: FuncContext, *sets: Any) -> Any:
    return HclSet.of(x for s in sets for x in list_arg(s))


def f_setintersection(ctx: FuncContext, first: Any, *rest: Any) -> Any:
    return HclSet.of(
        x for x in list_arg(first) if all(any(hcl_equal(x, y) for y in list_arg(r)) for r in rest)
    )


def f_setsubtract(ctx: FuncContext, a: Any, b: Any) -> Any:
    return HclSet.of(x for x in list_arg(a) if not any(hcl_equal(x, y) for y in list_arg(b)))


def f_sum(ctx: FuncContext, v: Any) -> Any:
    lst = list_arg(v)
    if not lst:
        raise FuncError("cannot sum an empty list")
    return norm_number(sum(num_arg(x) for x in lst))


def f_alltrue(ctx: FuncContext, v: Any) -> Any:
    return all(to_bool(x) for x in list_arg(v))


def f_anytrue(ctx: FuncContext, v: Any) -> Any:
    return any(to_bool(x) for x in list_arg(v))


def f_transpose(ctx: FuncContext, m: Any) -> Any:
    out: dict[str, list[str]] = {}
    for k, vs in map_arg(m).items():
        for v in list_arg(vs):
            out.setdefault(to_str(v), []).append(k)
    return {k: sorted(v) for k, v in out.items()}


_PRIMS = (str, int, float, bool)


def _unify(values: list[Any]) -> list[Any] | None:
    """The values converted to their common type, as cty unifies element types: strings mixed
    with numbers or bools become strings. None when they have no common type (a collection
    beside a primitive)."""
    present = [x for x in values if x is not None]
    prims = [isinstance(x, _PRIMS) for x in present]
    if any(prims) and not all(prims):
        return None
    kinds = {bool if isinstance(x, bool) else str if isinstance(x, str) else float for x in present}
    if all(prims) and str in kinds and len(kinds) > 1:
        return [None if x is None else to_str(x) for x in values]
    return values


def f_matchkeys(ctx: FuncContext, values: Any, keys: Any, searchset: Any) -> Any:
    vs, ks, ss = list_arg(values, "values"), list_arg(keys, "keys"), list_arg(searchset, "searchset")
    unified = _unify(ks + ss)
    if unified is None:
        raise FuncError("keys and searchset must be of the same type")
    if len(vs) != len(ks):
        raise FuncError("length of keys and values should be equal")
    ks, ss = unified[: len(ks)], unified[len(ks) :]
    return [v for v, k in zip(vs, ks) if any(hcl_equal(k, x) for x in ss)]


def f_setproduct(ctx: FuncContext, *sets: Any) -> Any:
    if len(sets) < 2:
        raise FuncError("at least two arguments are required")
    unified: list[list[Any]] = []
    for i, s in enumerate(sets):
        if not isinstance(s, list):
            raise FuncError(f"a set or a list is required for argument {i + 1}, got {type_name(s)}")
        u = _unify(list(s))
        if u is None:
            raise FuncError(f"all elements must be of the same type in argument {i + 1}")
        unified.append(u)
    out: list[list[Any]] = [[]]
    for u in unified:
        out = [p + [x] for p in out for x in u]
    if any(isinstance(s, HclSet) for s in sets):
        return HclSet.of(out)
    return out


FUNCTIONS: dict[str, Func] = {
    "length": Func(f_length, 1, 1, True),
    "lookup": Func(f_lookup, 2, 3, True),
    "merge": Func(f_merge, 0, None, True),
    "concat": Func(f_concat, 0, None, True),
    "contains": Func(f_contains, 2, 2),
    "keys": Func(f_keys, 1, 1, True),
    "values": Func(f_values, 1, 1, True),
    "zipmap": Func(f_zipmap, 2, 2, True),
    "flatten": Func(f_flatten, 1, 1, True),
    "distinct": Func(f_distinct, 1, 1),
    "sort": Func(f_sort, 1, 1),
    "range": Func(f_range, 1, 3),
    "element": Func(f_element, 2, 2, True),
    "slice": Func(f_slice, 3, 3, True),
    "index": Func(f_index, 2, 2),
    "reverse": Func(f_reverse, 1, 1, True),
    "one": Func(f_one, 1, 1, True),
    "compact": Func(f_compact, 1, 1),
    "chunklist": Func(f_chunklist, 2, 2, True),
    "coalescelist": Func(f_coalescelist, 1, None, True),
    "setunion": Func(f_setunion, 1, None),
    "setintersection": Func(f_setintersection, 1, None),
    "setsubtract": Func(f_setsubtract, 2, 2),
    "sum": Func(f_sum, 1, 1),
    "alltrue": Func(f_alltrue, 1, 1),
    "anytrue": Func(f_anytrue, 1, 1),
    "transpose": Func(f_transpose, 1, 1),
    "matchkeys": Func(f_matchkeys, 3, 3),
    "setproduct": Func(f_setproduct, 0, None),
}
