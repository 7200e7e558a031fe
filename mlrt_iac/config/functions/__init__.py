"""The function library, with Terraform's semantics.

Each function takes the evaluator context (for file paths) and already-evaluated arguments with
every Sensitive mark removed; the evaluator re-applies marks and short-circuits UNKNOWN (see
`SHALLOW_UNKNOWN` for functions that accept unknown *elements*). `try`, `can`, `sensitive` and
`nonsensitive` need unevaluated arguments or marks and live in the evaluator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

from .base import Func, FuncContext, FuncError, Syntax, applying, guarded, set_plan_time

# Terraform's two classes of functions that templates may not call (see base.guarded).
FILESYSTEM_FUNCTIONS = frozenset(
    "file fileexists fileset filebase64 filebase64sha256 filebase64sha512 filemd5 filesha1"
    " filesha256 filesha512 templatefile".split()
)
TEMPLATE_FUNCTIONS = frozenset(("templatefile", "templatestring"))


def _build() -> dict[str, Func]:
    from . import collections, conversions, crypto, dates, encoding, filesystem, network, numbers, strings

    table: dict[str, Func] = {
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
    for name in FILESYSTEM_FUNCTIONS | TEMPLATE_FUNCTIONS:
        f = table[name]
        table[name] = replace(
            f, fn=guarded(name, f.fn, name in TEMPLATE_FUNCTIONS, name in FILESYSTEM_FUNCTIONS)
        )
    return table


class _Library(Mapping[str, Func]):
    """Function name -> Func, the library's modules imported on the first look-up.

    They are a fifth of the engine's source; a configuration that calls no function (and every
    command that evaluates none) never loads them. Two threads loading at once build the same
    table; the last assignment wins.
    """

    __slots__ = ("_table",)

    def __init__(self) -> None:
        self._table: dict[str, Func] | None = None

    def _load(self) -> dict[str, Func]:
        if self._table is None:
            self._table = _build()
        return self._table

    def __getitem__(self, name: str) -> Func:
        return self._load()[name]

    def __contains__(self, name: object) -> bool:
        return name in self._load()

    def get(self, name: str, default: Func | None = None) -> Func | None:  # type: ignore[override]
        return self._load().get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


FUNCTIONS: Mapping[str, Func] = _Library()

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
