"""What every built-in function shares: its error, the context it gets, its arity record, and
the checks of argument types."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from ..valueops import (
    format_number,
    to_number,
    to_str,
    type_name,
)


class FuncError(Exception):
    """An argument is unsuitable; the message completes 'Call to function "f" failed: ...'."""


class FuncContext(Protocol):
    base_dir: Path

    def render_template(self, text: str, variables: dict[str, Any], filename: str) -> Any: ...

    def eval(self, node: Any, scope: Any) -> Any: ...


@dataclass(frozen=True)
class Func:
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: variadic
    shallow_unknown: bool = False  # accepts UNKNOWN elements inside its arguments
    # Gets its arguments as evaluated, Sensitive marks and UNKNOWN included, and returns its
    # result as is (issensitive, ephemeralasnull, type).
    raw: bool = False
    # Positions of arguments passed as written, a `Syntax`, not evaluated: a type constraint
    # (convert) or an expression whose form matters (templatestring).
    syntax_args: tuple[int, ...] = ()
    # Of those, the ones that are type constraints: they name types, not values, so static
    # reference analysis skips them.
    type_args: tuple[int, ...] = ()


@dataclass(frozen=True)
class Syntax:
    """An argument as written (an ast.Expr) with the scope to evaluate it in."""

    expr: Any
    scope: Any


# Impure functions (timestamp, uuid, bcrypt) are unknown while planning and get their value when
# apply evaluates the configuration again, as in Terraform. The apply engine sets this.
_APPLYING: ContextVar[bool] = ContextVar("mlrt_functions_applying", default=False)
_PLAN_TIME: list[datetime] = []


@contextmanager
def applying() -> Iterator[None]:
    """Evaluate with impure functions known (during apply)."""
    token = _APPLYING.set(True)
    try:
        yield
    finally:
        _APPLYING.reset(token)


def is_applying() -> bool:
    return _APPLYING.get()


# The template function whose template is being rendered, if any: inside it no template function
# may be called, and inside templatestring no file function (Terraform's rule).
_RENDERING: ContextVar[str | None] = ContextVar("mlrt_functions_rendering", default=None)


@contextmanager
def rendering(function: str) -> Iterator[None]:
    token = _RENDERING.set(function)
    try:
        yield
    finally:
        _RENDERING.reset(token)


def guarded(name: str, fn: Callable[..., Any], template: bool, filesystem: bool) -> Callable[..., Any]:
    """fn, refusing to run where Terraform refuses it: a template function inside a template, a
    file function inside a templatestring template."""

    def call(ctx: Any, *args: Any) -> Any:
        outer = _RENDERING.get()
        if outer is not None and template:
            raise FuncError(f"cannot recursively call {name} from inside another template function")
        if outer == "templatestring" and filesystem:
            raise FuncError(
                f"cannot use filesystem access functions like {name} in templatestring templates;"
                " consider passing the function result as a template variable instead"
            )
        return fn(ctx, *args)

    return call


def set_plan_time(t: datetime | None) -> None:
    """Fix (or, with None, forget) the plan time that plantimestamp() returns."""
    _PLAN_TIME.clear()
    if t is not None:
        _PLAN_TIME.append(t)


def plan_time() -> datetime:
    """The time of this run's plan, fixed at its first use (plantimestamp())."""
    if not _PLAN_TIME:
        _PLAN_TIME.append(datetime.now(timezone.utc).replace(microsecond=0))
    return _PLAN_TIME[0]


def list_arg(v: Any, what: str = "argument") -> list[Any]:
    if isinstance(v, list):
        return v
    raise FuncError(f"a list is required for the {what}, got {type_name(v)}")


def map_arg(v: Any, what: str = "argument") -> dict[Any, Any]:
    if isinstance(v, dict):
        return v
    raise FuncError(f"a map is required for the {what}, got {type_name(v)}")


def int_arg(v: Any, what: str = "argument") -> int:
    n = to_number(v, what)
    if not isinstance(n, int):
        raise FuncError(f"an integer is required for the {what}, got {format_number(n)}")
    return n


def num_arg(v: Any) -> int | float:
    return to_number(v, "argument")


def on_str(fn: Callable[[str], Any]) -> Callable[..., Any]:
    """A function of one string argument, from a plain str -> value function."""
    return lambda ctx, s: fn(to_str(s))


def on_strs(fn: Callable[[str, str], Any]) -> Callable[..., Any]:
    """A function of two string arguments."""
    return lambda ctx, a, b: fn(to_str(a), to_str(b))
