"""Variable type constraints (`string`, `list(number)`, `object({a = optional(string, "x")})`...)
and Terraform-style conversion of values to them."""

from __future__ import annotations

from typing import Any

from ..values import UNKNOWN, Sensitive
from . import ast as A
from .valueops import EvalError, HclSet, norm_number, to_bool, to_number, to_str, type_name

# ("string",) ("number",) ("bool",) ("any",) ("list", T) ("set", T) ("map", T)
# ("object", {name: (T, optional, default)}) ("tuple", [T, ...])
TypeSpec = tuple[Any, ...]
ANY: TypeSpec = ("any",)
_PRIMS = {"string", "number", "bool", "any"}


def parse_type(e: A.Expr) -> TypeSpec:
    """Read a type constraint expression; raises EvalError with a position when malformed."""
    if isinstance(e, A.Traversal) and not e.steps and e.root in _PRIMS:
        return (e.root,)
    if isinstance(e, A.FuncCall) and e.name in ("list", "set", "map") and len(e.args) == 1:
        return (e.name, parse_type(e.args[0]))
    if (
        isinstance(e, A.FuncCall)
        and e.name == "object"
        and len(e.args) == 1
        and isinstance(e.args[0], A.ObjectExpr)
    ):
        attrs: dict[str, tuple[TypeSpec, bool, Any]] = {}
        for k, v in e.args[0].items:
            if not isinstance(k, A.Literal) or not isinstance(k.value, str):
                raise EvalError(
                    "Invalid type specification", "Object attribute names must be identifiers.", k.pos
                )
            if isinstance(v, A.FuncCall) and v.name == "optional" and 1 <= len(v.args) <= 2:
                default = _const(v.args[1]) if len(v.args) == 2 else None
                attrs[k.value] = (parse_type(v.args[0]), True, default)
            else:
                attrs[k.value] = (parse_type(v), False, None)
        return ("object", attrs)
    if (
        isinstance(e, A.FuncCall)
        and e.name == "tuple"
        and len(e.args) == 1
        and isinstance(e.args[0], A.TupleExpr)
    ):
        return ("tuple", [parse_type(x) for x in e.args[0].items])
    raise EvalError(
        "Invalid type specification",
        "Expected a type: string, number, bool, any, list(T), set(T), map(T), object({...}) or tuple([...]).",
        e.pos,
    )


def _const(e: A.Expr) -> Any:
    from .expr import Evaluator, Scope  # local import: expr imports this module

    return Evaluator(None).eval(e, Scope())


def type_str(t: TypeSpec) -> str:
    k = t[0]
    if k in _PRIMS:
        return str(k)
    if k in ("list", "set", "map"):
        return f"{k}({type_str(t[1])})"
    if k == "tuple":
        return "tuple([" + ", ".join(type_str(x) for x in t[1]) + "])"
    inner = ", ".join(
        f"{n} = {'optional(' + type_str(s) + ')' if o else type_str(s)}" for n, (s, o, _) in t[1].items()
    )
    return "object({" + inner + "})"


def convert(v: Any, t: TypeSpec, path: str = "") -> Any:
    """Convert v to type t (Terraform's rules); raises EvalError naming the offending path."""
    if v is UNKNOWN or v is None:
        return v
    if isinstance(v, Sensitive):
        return Sensitive(convert(v.value, t, path))
    k = t[0]
    where = f" at {path}" if path else ""
    try:
        if k == "any":
            return v
        if k == "string":
            if isinstance(v, (dict, list)):
                raise EvalError("Invalid value", f"string required{where}, got {type_name(v)}.")
            return to_str(v)
        if k == "number":
            return norm_number(to_number(v))
        if k == "bool":
            return to_bool(v)
    except EvalError as e:
        raise EvalError(
            "Invalid value",
            f"{type_str(t)} required{where}, got {type_name(v)}"
            + (f" {v!r}" if isinstance(v, (str, int, float)) else "")
            + ".",
        ) from e
    if k in ("list", "set"):
        if not isinstance(v, list):
            raise EvalError("Invalid value", f"{k} of {type_str(t[1])} required{where}, got {type_name(v)}.")
        items = [convert(x, t[1], f"{path}[{i}]") for i, x in enumerate(v)]
        return HclSet.of(items) if k == "set" else items
    if k == "map":
        if not isinstance(v, dict):
            raise EvalError("Invalid value", f"map of {type_str(t[1])} required{where}, got {type_name(v)}.")
        return {kk: convert(x, t[1], f"{path}[{kk!r}]") for kk, x in v.items()}
    if k == "tuple":
        if not isinstance(v, list) or len(v) != len(t[1]):
            raise EvalError(
                "Invalid value", f"a tuple of {len(t[1])} elements required{where}, got {type_name(v)}."
            )
        return [convert(x, s, f"{path}[{i}]") for i, (x, s) in enumerate(zip(v, t[1]))]
    if k == "object":
        if not isinstance(v, dict):
            raise EvalError("Invalid value", f"object required{where}, got {type_name(v)}.")
        out: dict[str, Any] = {}
        for name, (spec, optional, default) in t[1].items():
            sub = f"{path}.{name}" if path else name
            if name in v and v[name] is not None:
                out[name] = convert(v[name], spec, sub)
            elif optional:
                out[name] = convert(default, spec, sub) if default is not None else None
            elif name in v:
                out[name] = None
            else:
                raise EvalError("Invalid value", f"attribute {name!r} is required{where}.")
        return out
    raise EvalError("Invalid type specification", f"unknown type {k!r}.")
