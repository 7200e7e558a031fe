"""A description of each resource type's arguments, for `mlrt` help output and the docs."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .schemas import RESOURCE_MODELS, _Block


@dataclass(frozen=True)
class ArgumentInfo:
    name: str  # dotted for nested blocks: "scaling.num_nodes", "dataset.NAME.source"
    type: str  # "string", "number", "bool", "list(string)", "map(any)", "block", ...
    required: bool
    default: Any  # None when required or computed
    computed: bool
    description: str


def _type_name(ann: Any) -> str:
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Literal:
        return " | ".join(f'"{a}"' for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = [a for a in args if a is not type(None)]
        return " | ".join(_type_name(a) for a in inner)
    if origin is list:
        return f"list({_type_name(args[0])})" if args else "list(any)"
    if origin is dict:
        return f"map({_type_name(args[1])})" if len(args) == 2 else "map(any)"
    if ann is bool:
        return "bool"
    if ann in (int, float):
        return "number"
    if ann is str:
        return "string"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "block"
    return "any"


def _describe(cls: type[_Block], prefix: str) -> list[ArgumentInfo]:
    out: list[ArgumentInfo] = []
    for name, info in cls.model_fields.items():
        extra = info.json_schema_extra
        is_computed = isinstance(extra, dict) and bool(extra.get("computed"))
        required = info.is_required()
        if required or is_computed:
            default = None
        elif info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        else:
            default = None if info.default is PydanticUndefined else info.default
        block = cls.BLOCKS.get(name)
        type_name = "block" if block else _type_name(info.annotation)
        out.append(
            ArgumentInfo(prefix + name, type_name, required, default, is_computed, info.description or "")
        )
        if block is not None:
            sub, labelled = block
            out.extend(_describe(sub, f"{prefix}{name}.NAME." if labelled else f"{prefix}{name}."))
    return out


def describe_type(type_name: str) -> list[ArgumentInfo]:
    """Every argument and computed attribute of a resource type. KeyError for an unknown type."""
    return _describe(RESOURCE_MODELS[type_name], "")
