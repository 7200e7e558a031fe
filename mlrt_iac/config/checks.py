"""`check` blocks: assertions about the configuration as a whole, evaluated after every resource
of their module (so they can read any of them), once per module instance. A false assert is a
warning, never an error, as in Terraform: plan reports what it can decide, apply reports again
with the values it made."""

from __future__ import annotations

from ..diagnostics import Diagnostics
from ..values import UNKNOWN
from .context import EvalContext
from .instances import CheckOutcome
from .references import iter_refs, resolve_reference
from .valueops import strip_marks, type_name


def eval_checks(ctx: EvalContext) -> None:
    """Evaluate every check block into `ctx.out.checks`; undeclared references are errors."""
    for mis in ctx.instances.values():
        if not mis or not mis[0].mc.checks:
            continue
        mc = mis[0].mc
        for decl in mc.checks.values():
            for cond, msg, _ in decl.asserts:
                for expr in (cond, msg):
                    for t in iter_refs(expr):
                        resolve_reference(t, mc, decl.filename, False, False, ctx.diags)
        for mi in mis:
            scope = ctx.scope_for(mi)
            for decl in mc.checks.values():
                address = f"{mi.prefix()}check.{decl.name}"
                for cond, msg, where in decl.asserts:
                    v, bad = ctx.try_eval(cond, scope, decl.filename)
                    v = strip_marks(v)
                    if bad or v is UNKNOWN:
                        ctx.out.checks.append(CheckOutcome(address, None, "", where))
                        continue
                    if not isinstance(v, bool):
                        ctx.err(
                            "Invalid condition result",
                            f"An assert condition must be a bool (true or false), got {type_name(v)}.",
                            decl.filename,
                            cond.pos,
                        )
                        continue
                    text = ""
                    if not v:
                        m, mbad = ctx.try_eval(msg, scope, decl.filename)
                        m = strip_marks(m)
                        text = m if isinstance(m, str) and not mbad else "The assertion is false."
                    ctx.out.checks.append(CheckOutcome(address, v, text, where))


def failed_checks(outcomes: list[CheckOutcome]) -> Diagnostics:
    """A warning per false assert, on its condition's line with its error_message."""
    diags = Diagnostics()
    for o in outcomes:
        if o.passed is False:
            diags.add_warning(f"Check block assertion failed: {o.address}", o.message, o.range)
    return diags
