"""The names an expression can see: local bindings (for-expression variables, each, count, path)
stacked over a resolver for everything declared (var, local, resources, module outputs).

Kept apart from `expr` so that the evaluator of blocks and the variable checks can build scopes
without the expression machinery, and so `expr` stays one job: evaluating an expression.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ast as A

# Resolves a traversal whose root is not a local binding (var, local, resource, module...):
# returns (value, number of steps consumed). Raises EvalError for undeclared names.
Resolver = Callable[[A.Traversal], tuple[Any, int]]


class Scope:
    """Local bindings (for-expression variables, each, count, path) over a resolver."""

    __slots__ = ("vars", "parent", "resolver")

    def __init__(
        self,
        vars: dict[str, Any] | None = None,
        parent: Scope | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.vars = vars or {}
        self.parent = parent
        self.resolver: Resolver | None = (
            resolver if resolver is not None else (parent.resolver if parent else None)
        )

    def child(self, vars: dict[str, Any]) -> Scope:
        return Scope(vars, self)

    def lookup(self, name: str) -> tuple[bool, Any]:
        s: Scope | None = self
        while s is not None:
            if name in s.vars:
                return True, s.vars[name]
            s = s.parent
        return False, None
