"""The function library, with Terraform's semantics.

Each function takes the evaluator context (for file paths) and already-evaluated arguments with
every Sensitive mark removed; the evaluator re-applies marks and short-circuits UNKNOWN (see
`SHALLOW_UNKNOWN` for functions that accept unknown *elements*). `try`, `can`, `sensitive` and
`nonsensitive` need unevaluated arguments or marks and live in the evaluator.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..values import UNKNOWN
from .valueops import (
    HclSet,
    format_number,
    hcl_equal,
    norm_number,
    to_bool,
    to_json_value,
    to_number,
    to_str,
    type_name,
)


class FuncError(Exception):
    """An argument is unsuitable; the message completes 'Call to function "f" failed: ...'."""


class FuncContext(Protocol):
    base_dir: Path

    def render_template(self, text: str, variables: dict[str, Any], filename: str) -> Any: ...


@dataclass(frozen=True)
class Func:
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: variadic
    shallow_unknown: bool = False  # accepts UNKNOWN elements inside its arguments


def _list(v: Any, what: str = "argument") -> list[Any]:
    if isinstance(v, list):
        return v
    raise FuncError(f"a list is required for the {what}, got {type_name(v)}")


def _map(v: Any, what: str = "argument") -> dict[Any, Any]:
    if isinstance(v, dict):
        return v
    raise FuncError(f"a map is required for the {what}, got {type_name(v)}")


def _int(v: Any, what: str = "argument") -> int:
    n = to_number(v, what)
    if not isinstance(n, int):
        raise FuncError(f"an integer is required for the {what}, got {format_number(n)}")
    return n


def _num(v: Any) -> int | float:
    return to_number(v, "argument")


# ---- collections --------------------------------------------------------------------------


def f_length(ctx: FuncContext, v: Any) -> Any:
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise FuncError(f"argument must be a string, a collection type, or a structural type, not {type_name(v)}")


def f_lookup(ctx: FuncContext, m: Any, key: Any, *default: Any) -> Any:
    m = _map(m, "first argument")
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
        out.update(_map(m))
    return out


def f_concat(ctx: FuncContext, *lists: Any) -> Any:
    out: list[Any] = []
    for x in lists:
        out.extend(_list(x))
    return out


def f_contains(ctx: FuncContext, coll: Any, value: Any) -> Any:
    return any(hcl_equal(x, value) for x in _list(coll))


def f_keys(ctx: FuncContext, m: Any) -> Any:
    return sorted(_map(m).keys())


def f_values(ctx: FuncContext, m: Any) -> Any:
    mm = _map(m)
    return [mm[k] for k in sorted(mm.keys())]


def f_zipmap(ctx: FuncContext, ks: Any, vs: Any) -> Any:
    ks, vs = _list(ks), _list(vs)
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

    return out if walk(_list(v)) else UNKNOWN


def f_distinct(ctx: FuncContext, v: Any) -> Any:
    out: list[Any] = []
    for x in _list(v):
        if not any(hcl_equal(x, y) for y in out):
            out.append(x)
    return out


def f_sort(ctx: FuncContext, v: Any) -> Any:
    return sorted(to_str(x, "list element") for x in _list(v))


def f_range(ctx: FuncContext, *a: Any) -> Any:
    nums = [_num(x) for x in a]
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
    lst = _list(v)
    if not lst:
        raise FuncError("cannot use element function with an empty list")
    idx = _int(i, "index")
    if idx < 0:
        raise FuncError("cannot use element function with a negative index")
    return lst[idx % len(lst)]


def f_slice(ctx: FuncContext, v: Any, a: Any, b: Any) -> Any:
    lst = _list(v)
    s, e = _int(a), _int(b)
    if s < 0 or e > len(lst) or s > e:
        raise FuncError(f"invalid slice indices {s}, {e} for a list of length {len(lst)}")
    return lst[s:e]


def f_index(ctx: FuncContext, v: Any, value: Any) -> Any:
    for i, x in enumerate(_list(v)):
        if hcl_equal(x, value):
            return i
    raise FuncError("item not found")


def f_reverse(ctx: FuncContext, v: Any) -> Any:
    return list(reversed(_list(v)))


def f_one(ctx: FuncContext, v: Any) -> Any:
    lst = _list(v)
    if len(lst) > 1:
        raise FuncError(
            f"must be a list, set, or tuple value with either zero or one elements, got {len(lst)}"
        )
    return lst[0] if lst else None


def f_compact(ctx: FuncContext, v: Any) -> Any:
    return [x for x in _list(v) if x is not None and x != ""]


def f_chunklist(ctx: FuncContext, v: Any, n: Any) -> Any:
    lst, size = _list(v), _int(n)
    if size < 0:
        raise FuncError("the size argument must be positive")
    if size == 0:
        return [lst]
    return [lst[i : i + size] for i in range(0, len(lst), size)]


def f_coalescelist(ctx: FuncContext, *lists: Any) -> Any:
    for x in lists:
        if _list(x):
            return x
    raise FuncError("no non-null arguments")


def f_setunion(ctx: FuncContext, *sets: Any) -> Any:
    return HclSet.of(x for s in sets for x in _list(s))


def f_setintersection(ctx: FuncContext, first: Any, *rest: Any) -> Any:
    return HclSet.of(x for x in _list(first) if all(any(hcl_equal(x, y) for y in _list(r)) for r in rest))


def f_setsubtract(ctx: FuncContext, a: Any, b: Any) -> Any:
    return HclSet.of(x for x in _list(a) if not any(hcl_equal(x, y) for y in _list(b)))


def f_sum(ctx: FuncContext, v: Any) -> Any:
    lst = _list(v)
    if not lst:
        raise FuncError("cannot sum an empty list")
    return norm_number(sum(_num(x) for x in lst))


def f_alltrue(ctx: FuncContext, v: Any) -> Any:
    return all(to_bool(x) for x in _list(v))


def f_anytrue(ctx: FuncContext, v: Any) -> Any:
    return any(to_bool(x) for x in _list(v))


def f_transpose(ctx: FuncContext, m: Any) -> Any:
    out: dict[str, list[str]] = {}
    for k, vs in _map(m).items():
        for v in _list(vs):
            out.setdefault(to_str(v), []).append(k)
    return {k: sorted(v) for k, v in out.items()}


# ---- conversions --------------------------------------------------------------------------


def f_toset(ctx: FuncContext, v: Any) -> Any:
    return HclSet.of(_list(v))


def f_tolist(ctx: FuncContext, v: Any) -> Any:
    return list(_list(v))


def f_tomap(ctx: FuncContext, v: Any) -> Any:
    return dict(_map(v))


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


# ---- strings ------------------------------------------------------------------------------

_FMT_RE = re.compile(r"%(?:(\[\d+\]))?([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def f_format(ctx: FuncContext, spec: Any, *args: Any) -> Any:
    fmt = to_str(spec)
    pos = 0

    def rep(m: re.Match[str]) -> str:
        nonlocal pos
        idx, flags, width, prec, verb = m.groups()
        if verb == "%":
            return "%"
        if idx:
            pos = int(idx[1:-1]) - 1
        if pos >= len(args):
            raise FuncError(f"not enough arguments for format string {fmt!r}")
        v = args[pos]
        pos += 1
        w = width or ""
        p = f".{prec}" if prec else ""
        if verb in "dbox X".replace(" ", ""):
            n = to_number(v, "format argument")
            if not isinstance(n, int):
                raise FuncError(f"%{verb} requires an integer, got {format_number(n)}")
            return ("%" + flags + w + verb) % n if verb != "b" else format(n, "b").rjust(int(w or 0))
        if verb in "feEgG":
            return ("%" + flags + w + p + verb) % float(to_number(v, "format argument"))
        if verb == "t":
            return ("%" + flags + w + "s") % ("true" if to_bool(v) else "false")
        if verb == "q":
            return ("%" + flags + w + "s") % json.dumps(to_str(v))
        if verb in "sv":
            if isinstance(v, (dict, list)) and verb == "v":
                sv = json.dumps(to_json_value(v), separators=(",", ":"))
            else:
                sv = to_str(v, "format argument")
            if prec:
                sv = sv[: int(prec)]
            return ("%" + flags + w + "s") % sv
        raise FuncError(f"unsupported format verb %{verb}")

    return _FMT_RE.sub(rep, fmt)


def f_formatlist(ctx: FuncContext, spec: Any, *args: Any) -> Any:
    n = None
    for a in args:
        if isinstance(a, list):
            if n is not None and len(a) != n:
                raise FuncError("all list arguments must have the same length")
            n = len(a)
    if n is None:
        return [f_format(ctx, spec, *args)]
    return [f_format(ctx, spec, *[a[i] if isinstance(a, list) else a for a in args]) for i in range(n)]


def f_join(ctx: FuncContext, sep: Any, *lists: Any) -> Any:
    return to_str(sep).join(to_str(x, "list element") for lst in lists for x in _list(lst))


def f_split(ctx: FuncContext, sep: Any, s: Any) -> Any:
    ss = to_str(s)
    if ss == "":
        return [""]
    return ss.split(to_str(sep)) if to_str(sep) else list(ss)


def f_replace(ctx: FuncContext, s: Any, sub: Any, rep: Any) -> Any:
    ss, pat, r = to_str(s), to_str(sub), to_str(rep)
    if len(pat) >= 2 and pat.startswith("/") and pat.endswith("/"):
        try:
            return re.sub(pat[1:-1], re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", r), ss)
        except re.error as e:
            raise FuncError(f"invalid regular expression: {e}") from None
    return ss.replace(pat, r)


def f_substr(ctx: FuncContext, s: Any, off: Any, length: Any) -> Any:
    ss, o, n = to_str(s), _int(off), _int(length)
    if o < 0:
        o = max(len(ss) + o, 0)
    if o > len(ss):
        raise FuncError("offset is greater than the length of the string")
    return ss[o:] if n < 0 else ss[o : o + n]


def _compile(p: Any) -> re.Pattern[str]:
    try:
        return re.compile(to_str(p))
    except re.error as e:
        raise FuncError(f"invalid regular expression: {e}") from None


def _match_value(m: re.Match[str]) -> Any:
    if m.re.groupindex:
        return {k: m.group(k) for k in m.re.groupindex}
    if m.re.groups:
        return list(m.groups())
    return m.group(0)


def f_regex(ctx: FuncContext, p: Any, s: Any) -> Any:
    m = _compile(p).search(to_str(s))
    if not m:
        raise FuncError("pattern did not match any part of the given string")
    return _match_value(m)


def f_regexall(ctx: FuncContext, p: Any, s: Any) -> Any:
    return [_match_value(m) for m in _compile(p).finditer(to_str(s))]


def f_trim(ctx: FuncContext, s: Any, chars: Any) -> Any:
    return to_str(s).strip(to_str(chars))


def f_title(ctx: FuncContext, s: Any) -> Any:
    return re.sub(r"\b(\w)", lambda m: m.group(1).upper(), to_str(s))


def _s(fn: Callable[[str], Any]) -> Callable[..., Any]:
    return lambda ctx, s: fn(to_str(s))


def _s2(fn: Callable[[str, str], Any]) -> Callable[..., Any]:
    return lambda ctx, a, b: fn(to_str(a), to_str(b))


# ---- numbers ------------------------------------------------------------------------------


def f_min(ctx: FuncContext, *a: Any) -> Any:
    if not a:
        raise FuncError("at least one number is required")
    return norm_number(min(_num(x) for x in a))


def f_max(ctx: FuncContext, *a: Any) -> Any:
    if not a:
        raise FuncError("at least one number is required")
    return norm_number(max(_num(x) for x in a))


def f_parseint(ctx: FuncContext, s: Any, base: Any) -> Any:
    try:
        return int(to_str(s), _int(base))
    except ValueError:
        raise FuncError(f"cannot parse {to_str(s)!r} as a base {base} integer") from None


def f_coalesce(ctx: FuncContext, *a: Any) -> Any:
    for x in a:
        if x is not None and x != "":
            return x
    raise FuncError("no non-null, non-empty-string arguments")


# ---- encoding, hashing, files -------------------------------------------------------------


def f_base64decode(ctx: FuncContext, s: Any) -> Any:
    try:
        return base64.b64decode(to_str(s), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise FuncError("the argument is not valid base64 of UTF-8 text") from None


def _path(ctx: FuncContext, p: Any) -> Path:
    pp = Path(os.path.expanduser(to_str(p)))
    return pp if pp.is_absolute() else ctx.base_dir / pp


def f_file(ctx: FuncContext, p: Any) -> Any:
    path = _path(ctx, p)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FuncError(
            f"no file exists at {to_str(p)!r}; this function works only with files that are"
            " distributed as part of the configuration"
        ) from None
    except UnicodeDecodeError:
        raise FuncError(f"contents of {to_str(p)!r} are not valid UTF-8; use filebase64 instead") from None
    except OSError as e:
        raise FuncError(f"cannot read {to_str(p)!r}: {e.strerror}") from None


def f_filebase64(ctx: FuncContext, p: Any) -> Any:
    try:
        return base64.b64encode(_path(ctx, p).read_bytes()).decode()
    except OSError as e:
        raise FuncError(f"cannot read {to_str(p)!r}: {e.strerror}") from None


def f_fileexists(ctx: FuncContext, p: Any) -> Any:
    return _path(ctx, p).is_file()


def f_templatefile(ctx: FuncContext, p: Any, variables: Any) -> Any:
    return ctx.render_template(f_file(ctx, p), _map(variables, "second argument"), to_str(p))


def f_abspath(ctx: FuncContext, p: Any) -> Any:
    return os.path.abspath(to_str(p))


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
    "toset": Func(f_toset, 1, 1),
    "tolist": Func(f_tolist, 1, 1, True),
    "tomap": Func(f_tomap, 1, 1, True),
    "tostring": Func(f_tostring, 1, 1),
    "tonumber": Func(f_tonumber, 1, 1),
    "tobool": Func(f_tobool, 1, 1),
    "jsonencode": Func(f_jsonencode, 1, 1),
    "jsondecode": Func(f_jsondecode, 1, 1),
    "format": Func(f_format, 1, None),
    "formatlist": Func(f_formatlist, 1, None),
    "join": Func(f_join, 2, None),
    "split": Func(f_split, 2, 2),
    "upper": Func(_s(str.upper), 1, 1),
    "lower": Func(_s(str.lower), 1, 1),
    "title": Func(f_title, 1, 1),
    "replace": Func(f_replace, 3, 3),
    "trimspace": Func(_s(str.strip), 1, 1),
    "trim": Func(f_trim, 2, 2),
    "trimprefix": Func(_s2(lambda s, p: s[len(p) :] if p and s.startswith(p) else s), 2, 2),
    "trimsuffix": Func(_s2(lambda s, p: s[: -len(p)] if p and s.endswith(p) else s), 2, 2),
    "startswith": Func(_s2(str.startswith), 2, 2),
    "endswith": Func(_s2(str.endswith), 2, 2),
    "strcontains": Func(_s2(lambda s, p: p in s), 2, 2),
    "strrev": Func(_s(lambda s: s[::-1]), 1, 1),
    "substr": Func(f_substr, 3, 3),
    "regex": Func(f_regex, 2, 2),
    "regexall": Func(f_regexall, 2, 2),
    "min": Func(f_min, 1, None),
    "max": Func(f_max, 1, None),
    "abs": Func(lambda ctx, x: norm_number(abs(_num(x))), 1, 1),
    "ceil": Func(lambda ctx, x: math.ceil(_num(x)), 1, 1),
    "floor": Func(lambda ctx, x: math.floor(_num(x)), 1, 1),
    "pow": Func(lambda ctx, x, y: norm_number(float(_num(x)) ** _num(y)), 2, 2),
    "signum": Func(lambda ctx, x: (_num(x) > 0) - (_num(x) < 0), 1, 1),
    "parseint": Func(f_parseint, 2, 2),
    "coalesce": Func(f_coalesce, 1, None),
    "base64encode": Func(lambda ctx, s: base64.b64encode(to_str(s).encode()).decode(), 1, 1),
    "base64decode": Func(f_base64decode, 1, 1),
    "sha256": Func(lambda ctx, s: hashlib.sha256(to_str(s).encode()).hexdigest(), 1, 1),
    "sha1": Func(lambda ctx, s: hashlib.sha1(to_str(s).encode()).hexdigest(), 1, 1),
    "md5": Func(lambda ctx, s: hashlib.md5(to_str(s).encode()).hexdigest(), 1, 1),
    "file": Func(f_file, 1, 1),
    "filebase64": Func(f_filebase64, 1, 1),
    "fileexists": Func(f_fileexists, 1, 1),
    "templatefile": Func(f_templatefile, 2, 2),
    "basename": Func(_s(os.path.basename), 1, 1),
    "dirname": Func(_s(os.path.dirname), 1, 1),
    "abspath": Func(f_abspath, 1, 1),
    "pathexpand": Func(_s(os.path.expanduser), 1, 1),
}

# Handled by the evaluator (lazy arguments or marks); listed so "did you mean" knows them.
SPECIAL_FUNCTIONS = ("try", "can", "sensitive", "nonsensitive", "type")
