"""`lifecycle { precondition {} postcondition {} }`, checked as Terraform checks them.

A precondition sees what the resource's own arguments see (variables, locals, other resources,
`count`/`each`); a postcondition also sees `self`: the resource's attributes as the plan knows them
(computed ones unknown) and, at apply, as the provider returned them. A condition is evaluated per
instance while the configuration is; its result rides on the instance (`ResourceInstance.checks`).
`plan` turns a false one into an error on the condition's line with its `error_message`; one whose
value is still unknown is checked by `apply` once what it reads exists.
"""

from __future__ import annotations

from typing import Any

from ..diagnostics import Diagnostics
from ..values import UNKNOWN
from . import ast as A
from .context import EvalContext
from .instances import Condition, ConditionResult
from .loader import rng
from .scope import Scope
from .valueops import strip_marks, type_name

CONDITION_BLOCKS = ("precondition", "postcondition")


def parse_condition(ctx: EvalContext, sub: A.Block, fn: str) -> Condition | None:
    """One precondition/postcondition block; None when it is malformed (reported)."""
    attrs = {a.name: a for a in sub.attributes}
    ok = True
    if sub.labels:
        ctx.err("Extraneous label", f"A {sub.type} block takes no labels.", fn, sub.pos)
        ok = False
    for name, a in attrs.items():
        if name not in ("condition", "error_message"):
            ctx.err(
                "Unsupported argument",
                f'An argument named "{name}" is not expected in a {sub.type} block;'
                " only condition and error_message.",
                fn,
                a.pos,
            )
            ok = False
    for b in sub.blocks:
        ctx.err("Unsupported block type", f'Blocks of type "{b.type}" are not expected here.', fn, b.pos)
        ok = False
    for required in ("condition", "error_message"):
        if required not in attrs:
            ctx.err(
                "Missing required argument",
                f'The argument "{required}" is required in a {sub.type} block.',
                fn,
                sub.pos,
            )
            ok = False
    if not ok:
        return None
    return Condition(
        sub.type, attrs["condition"].expr, attrs["error_message"].expr, rng(fn, attrs["condition"].pos)
    )


def check_conditions(
    ctx: EvalContext, conditions: tuple[Condition, ...], scope: Scope, self_value: dict[str, Any]
) -> list[ConditionResult]:
    """Evaluate each condition for one instance. An evaluation error or a non-boolean result is
    reported here (an error at validate, plan and apply alike); a false result is returned for the
    caller to report (plan: an error; apply: the change fails)."""
    out: list[ConditionResult] = []
    for c in conditions:
        sc = scope if c.kind == "precondition" else scope.child({"self": self_value})
        fn = c.range.filename
        v, bad = ctx.try_eval(c.condition, sc, fn)
        v = strip_marks(v)
        if bad or v is UNKNOWN:
            out.append(ConditionResult(c.kind, None, "", c.range))
            continue
        if not isinstance(v, bool):
            ctx.err(
                "Invalid condition result",
                f"The {c.kind} condition must be a bool (true or false), got {type_name(v)}.",
                fn,
                c.condition.pos,
            )
            out.append(ConditionResult(c.kind, None, "", c.range))
            continue
        message = ""
        if not v:
            m, mbad = ctx.try_eval(c.error_message, sc, fn)
            m = strip_marks(m)
            message = m if isinstance(m, str) and not mbad else "The condition is false."
        out.append(ConditionResult(c.kind, v, message, c.range))
    return out


def failed_conditions(instances: list[Any], only: str | None = None) -> Diagnostics:
    """An error per false condition of `instances` (of kind `only` when given): on the condition's
    line, its error_message as the detail, as Terraform words it."""
    diags = Diagnostics()
    for inst in instances:
        for r in inst.checks:
            if r.passed is False and (only is None or r.kind == only):
                diags.add_error(
                    f"Resource {r.kind} failed",
                    f"{r.message}\n\nThis was checked by the {r.kind} of {inst.address}.",
                    r.range,
                )
    return diags


def blocks_with_conditions(config: Any) -> set[tuple[tuple[str, ...], str]]:
    """(module path, "type.name") of every resource block with a precondition or postcondition:
    apply evaluates those again, the rest never pay for it."""
    out: set[tuple[tuple[str, ...], str]] = set()
    for mc in config.root.walk():
        for key, rb in mc.resources.items():
            for sub in rb.block.blocks:
                if sub.type == "lifecycle" and any(c.type in CONDITION_BLOCKS for c in sub.blocks):
                    out.add((mc.path, key))
    return out
