"""What every built-in function shares: its error, the context it gets, its arity record, and
the checks of argument types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Func:
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: variadic
    shallow_unknown: bool = False  # accepts UNKNOWN elements inside its arguments


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
