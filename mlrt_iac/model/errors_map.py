"""Pydantic validation errors -> Terraform-style diagnostics pointing at the attribute.

Summaries follow Terraform: "Unsupported argument", "Missing required argument",
"Incorrect attribute value type", "Invalid value". The range is the attribute's own range
(dotted path for nested blocks, e.g. "scaling.num_nodes"), else the nearest enclosing block's
range that the config layer recorded, else the resource block header.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..config.instances import ResourceInstance
from ..diagnostics import Diagnostic, SourceRange, error
from .schemas import ResourceModel, _Block
from .suggest import did_you_mean

_TYPE_NAMES = {
    "int": "a number",
    "float": "a number",
    "bool": "a bool",
    "string": "a string",
    "list": "a list",
    "dict": "a map",
    "model": "a block",
    "model_attributes": "a block",
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def attr_range(inst: ResourceInstance, path: Iterable[Any]) -> SourceRange:
    """The range of the deepest recorded prefix of `path` (list indexes included)."""
    parts = [str(p) for p in path]
    ranges = inst.attribute_ranges
    for n in range(len(parts), 0, -1):
        rng = ranges.get(".".join(parts[:n]))
        if rng is not None:
            return rng
    return inst.range


def _block_at(cls: type[_Block], loc: tuple[Any, ...]) -> type[_Block] | None:
    """The schema of the nested block a location points into (the resource's own at depth 0)."""
    i = 0
    while i < len(loc):
        entry = cls.BLOCKS.get(str(loc[i]))
        if entry is None:
            return None
        cls, labelled = entry
        i += 2 if labelled else 1
    return cls


def _field_prefix_len(cls: type[_Block], loc: tuple[Any, ...]) -> int:
    """How much of `loc` names fields and block labels; the rest indexes into a value."""
    i = 0
    while i < len(loc):
        name = str(loc[i])
        if name not in cls.model_fields:
            return i + 1 if isinstance(loc[i], str) and i == len(loc) - 1 else i
        entry = cls.BLOCKS.get(name)
        if entry is None:
            return i + 1
        cls, labelled = entry
        i += 2 if labelled else 1
    return i


def _arguments(cls: type[_Block]) -> list[str]:
    out = []
    for name, info in cls.model_fields.items():
        extra = info.json_schema_extra
        if not (isinstance(extra, dict) and extra.get("computed")):
            out.append(name)
    return out


def _type_phrase(err_type: str) -> str | None:
    if err_type in ("int_from_float",):
        return "a whole number"
    for suffix in ("_type", "_parsing"):
        if err_type.endswith(suffix):
            return _TYPE_NAMES.get(err_type[: -len(suffix)])
    return None


def _shown(value: Any, sensitive: bool) -> str:
    if sensitive:
        return "(sensitive value)"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def diagnostic_for(
    err: ErrorDetails, cls: type[ResourceModel], inst: ResourceInstance, sensitive: frozenset[tuple[str, ...]]
) -> Diagnostic:
    loc = tuple(err["loc"])
    field_len = _field_prefix_len(cls, loc)
    names = [str(p) for p in loc[:field_len] if not isinstance(p, int)]
    attr = names[-1] if names else inst.type
    inner = loc[field_len:]  # list indexes / map keys inside the attribute's value
    err_type = err["type"]
    is_sensitive = any(tuple(names[:n]) in sensitive for n in range(1, len(names) + 1))

    if err_type == "extra_forbidden":
        block = _block_at(cls, loc[:-1])
        hint = did_you_mean(attr, _arguments(block)) if block is not None else ""
        return error(
            "Unsupported argument",
            f'An argument named "{attr}" is not expected here.{hint}',
            attr_range(inst, loc),
        )
    if err_type == "missing":
        return error(
            "Missing required argument",
            f'The argument "{attr}" is required, but no definition was found.',
            attr_range(inst, loc[:-1]),
        )
    if err_type == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        options = [o.strip().strip("'") for o in str(expected).replace(" or ", ",").split(",") if o.strip()]
        value = err.get("input")
        hint = did_you_mean(value, options) if isinstance(value, str) and not is_sensitive else ""
        listed = ", ".join(f'"{o}"' for o in options)
        return error(
            "Invalid value",
            f'The value {_shown(value, is_sensitive)} is not valid for "{attr}": '
            f"expected one of {listed}.{hint}",
            attr_range(inst, loc),
        )
    if err_type in _BOUNDS:
        key, words = _BOUNDS[err_type]
        bound = err.get("ctx", {}).get(key)
        return error(
            "Invalid value",
            f'Inappropriate value for attribute "{attr}": must be {words} {bound}, '
            f"got {_shown(err.get('input'), is_sensitive)}.",
            attr_range(inst, loc),
        )
    phrase = _type_phrase(err_type)
    if phrase is not None:
        if len(loc) == 1 and attr in cls.REF_FIELDS:
            target = cls.REF_FIELDS[attr]
            return error(
                "Incorrect attribute value type",
                f'Inappropriate value for attribute "{attr}": a reference to a {target} '
                f"({target}.NAME) or its name is required.",
                attr_range(inst, loc),
            )
        if len(loc) == 2 and isinstance(loc[1], int) and names[0] in cls.REF_FIELDS:
            target = cls.REF_FIELDS[names[0]]
            return error(
                "Incorrect attribute value type",
                f'Inappropriate value for element {loc[1]} of "{names[0]}": a reference to a '
                f"{target} ({target}.NAME) or its name is required.",
                attr_range(inst, loc),
            )
        where = "".join(
            f"element {p} of " if isinstance(p, int) else f'key "{p}" of ' for p in reversed(inner)
        )
        return error(
            "Incorrect attribute value type",
            f'Inappropriate value for {where}attribute "{attr}": {phrase} is required.',
            attr_range(inst, loc),
        )
    return error(
        "Invalid value", f'Inappropriate value for attribute "{attr}": {err["msg"]}.', attr_range(inst, loc)
    )


def diagnostics_from(
    exc: ValidationError,
    cls: type[ResourceModel],
    inst: ResourceInstance,
    sensitive: frozenset[tuple[str, ...]],
) -> list[Diagnostic]:
    return [diagnostic_for(e, cls, inst, sensitive) for e in exc.errors(include_url=False)]
