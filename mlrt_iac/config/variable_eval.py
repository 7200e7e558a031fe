"""Input variables of a module instance: the value given (on the command line for the root
module, by the module call for a child), else the default; converted to the declared type,
checked by the validation rules, marked sensitive when declared so. (Collecting the root
module's inputs from -var, -var-file and the environment is `variables.py`.)"""

from __future__ import annotations

from typing import Any

from ..values import UNKNOWN, Sensitive
from .context import Deps, EvalContext, ModuleInstance
from .loader import VariableDecl, rng
from .nodes import NodeKey
from .parse_error import ParseError
from .scope import Scope
from .types import convert, type_str
from .valueops import EvalError, strip_marks, type_name


def eval_var(ctx: EvalContext, mi: ModuleInstance, k: NodeKey) -> None:
    decl = mi.mc.variables[k[2]]
    kk = ("var", decl.name)
    failed = False
    deps: Deps = (set(), {})
    where = f"var.{decl.name}" if not mi.addr else f"{mi.addr}.var.{decl.name}"
    has_value = False
    value: Any = None
    if not mi.mc.path:
        if decl.name in ctx.inputs:
            value, has_value = ctx.inputs[decl.name], True
            if (
                isinstance(value, str)
                and decl.type is not None
                and decl.type[0] not in ("string", "number", "bool", "any")
            ):
                try:
                    from .parser import parse_expression

                    value = ctx.ev.eval(parse_expression(value), Scope())
                except (ParseError, EvalError) as e:
                    ctx.diags.add_error(
                        "Invalid value for input variable",
                        f"The value given for {where} is not valid HCL for type"
                        f" {type_str(decl.type)}: {getattr(e, 'detail', e)}",
                        decl.range,
                    )
                    failed = True
    elif decl.name in mi.pending_args:
        value, deps, failed = mi.pending_args[decl.name]
        has_value = True
    if has_value and value is None and not decl.nullable:
        has_value = False
    if not has_value and not failed:
        value, failed = _default(ctx, mi, decl, where)
    if not failed and decl.type is not None:
        try:
            value = convert(value, decl.type)
        except EvalError as e:
            ctx.diags.add_error(
                "Invalid value for input variable",
                f"The given value is not suitable for {where} declared at {decl.filename} line"
                f" {decl.range.start.line}: {e.detail} Expected type: {type_str(decl.type)}.",
                decl.range,
            )
            failed = True
    if not failed and value is not UNKNOWN:
        failed = not _validate(ctx, decl, value, where)
    if failed:
        value = UNKNOWN
        mi.failed.add(kk)
    if decl.sensitive and value is not UNKNOWN and value is not None:
        value = Sensitive(value)
    mi.values[kk] = value
    mi.deps[kk] = deps
    if not mi.mc.path:
        ctx.out.variables[decl.name] = value


def _default(ctx: EvalContext, mi: ModuleInstance, decl: VariableDecl, where: str) -> tuple[Any, bool]:
    """(the default value, failed) for a variable given no value."""
    if decl.default is None:
        ctx.diags.add_error(
            "No value for required variable",
            f'The variable "{decl.name}" is required but has no value. Set it with'
            f" -var {decl.name}=VALUE, a -var-file, MLRT_VAR_{decl.name}, or give it a default."
            if not mi.mc.path
            else f'The input variable "{decl.name}" of {mi.addr} is required but has no value.',
            decl.range,
        )
        return None, True
    value, bad = ctx.try_eval(decl.default, Scope(), decl.filename)
    if not bad and value is None and not decl.nullable:
        ctx.diags.add_error(
            "Invalid default value for variable",
            f"The default of {where} is null, but the variable is not nullable.",
            decl.range,
        )
        return value, True
    return value, bad


def _validate(ctx: EvalContext, decl: VariableDecl, value: Any, where: str) -> bool:
    """Run the validation rules; False when one fails (reported)."""
    ok_all = True
    for cond, msg in decl.validations:
        sc = Scope({"var": {decl.name: value}})
        ok, bad = ctx.try_eval(cond, sc, decl.filename)
        ok = strip_marks(ok)
        if bad or ok is UNKNOWN:
            continue
        if ok is not True and ok is not False:
            ctx.diags.add_error(
                "Invalid variable validation result",
                f"The validation condition for {where} must be a bool, got {type_name(ok)}.",
                rng(decl.filename, cond.pos),
            )
            continue
        if not ok:
            text = "The value failed this validation rule."
            if msg is not None:
                m, _ = ctx.try_eval(msg, sc, decl.filename)
                if isinstance(m, str):
                    text = m
            ctx.diags.add_error(
                "Invalid value for variable",
                f"{text}\n\nThis was checked by the validation rule at {decl.filename} line {cond.pos[0]}.",
                rng(decl.filename, cond.pos),
                [decl.range],
            )
            ok_all = False
    return ok_all
