"""The function library, with Terraform's semantics.

Each function takes the evaluator context (for file paths) and already-evaluated arguments with
every Sensitive mark removed; the evaluator re-applies marks and short-circuits UNKNOWN (see
`SHALLOW_UNKNOWN` for functions that accept unknown *elements*). `try`, `can`, `sensitive` and
`nonsensitive` need unevaluated arguments or marks and live in the evaluator.
"""

from __future__ import annotations

from dataclasses import replace

from . import collections, conversions, crypto, dates, encoding, filesystem, network, numbers, strings
from .base import Func, FuncContext, FuncError, Syntax, applying, guarded, set_plan_time

FUNCTIONS: dict[str, Func] = {
    **collections.FUNCTIONS,
    **conversions.FUNCTIONS,
    **strings.FUNCTIONS,
    **numbers.FUNCTIONS,
    **encoding.FUNCTIONS,
    **filesystem.FUNCTIONS,
    **crypto.FUNCTIONS,
    **dates.FUNCTIONS,
    **network.FUNCTIONS,
}

# Terraform's two classes of functions that templates may not call (see base.guarded).
FILESYSTEM_FUNCTIONS = frozenset(
    "file fileexists fileset filebase64 filebase64sha256 filebase64sha512 filemd5 filesha1"
    " filesha256 filesha512 templatefile".split()
)
TEMPLATE_FUNCTIONS = frozenset(("templatefile", "templatestring"))
for _name in FILESYSTEM_FUNCTIONS | TEMPLATE_FUNCTIONS:
    _f = FUNCTIONS[_name]
    FUNCTIONS[_name] = replace(
        _f,
        fn=guarded(_name, _f.fn, _name in TEMPLATE_FUNCTIONS, _name in FILESYSTEM_FUNCTIONS),
    )

# Handled by the evaluator (lazy arguments or marks); listed so "did you mean" knows them.
SPECIAL_FUNCTIONS = ("try", "can", "sensitive", "nonsensitive")

__all__ = [
    "FUNCTIONS",
    "SPECIAL_FUNCTIONS",
    "Func",
    "FuncContext",
    "FuncError",
    "Syntax",
    "applying",
    "set_plan_time",
]
