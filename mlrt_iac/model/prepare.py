"""Turning evaluated attributes into input pydantic can check, and back.

Evaluated attributes may hold `Sensitive` wrappers (validated as their inner value) and
`UNKNOWN` (known only after apply: never a type error). Before validation we unwrap the former
and take the latter out, remembering where it was; a required argument that is unknown gets a
placeholder so that it counts as present. After validation `restore` puts UNKNOWN back into
the model, so later checks and the plan see exactly what is not known yet.

References to whole resources arrive as the referenced resource's values (a dict with `name`);
they are reduced here to the (normalised) name, remembering that they came from a reference.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..values import UNKNOWN, Sensitive
from .names import normalize_name
from .schemas import ResourceModel, _Block

Path = tuple[str, ...]
_SCALARS = (str, int, float, bool, type(None))


@dataclass
class Prepared:
    """Validation input plus what was taken out of it."""

    data: dict[str, Any]
    unknown: list[Path] = field(default_factory=list)  # whole value unknown
    partial: dict[Path, Any] = field(default_factory=dict)  # value containing unknowns -> value to restore
    sensitive: list[Path] = field(default_factory=list)
    refs: dict[str, list[tuple[str, bool]]] = field(
        default_factory=dict
    )  # field -> [(name, via a reference)]
    # field -> the referenced resources' values, for references written as expressions
    ref_values: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _placeholder(annotation: Any) -> Any:
    """A value of the annotation's type that passes validation; replaced by UNKNOWN after."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin is list or annotation is list:
        return ["unknown"]
    if origin is dict or annotation is dict:
        return {}
    if annotation is bool:
        return False
    if annotation in (int, float):
        return 1
    return "unknown"


_PLACEHOLDERS: dict[type[BaseModel], dict[str, Any]] = {}


def placeholders(cls: type[BaseModel]) -> dict[str, Any]:
    cached = _PLACEHOLDERS.get(cls)
    if cached is None:
        cached = {n: _placeholder(f.annotation) for n, f in cls.model_fields.items() if f.is_required()}
        _PLACEHOLDERS[cls] = cached
    return cached


def _clean(value: Any) -> tuple[Any, Any, bool, bool]:
    """(value without UNKNOWN, value with UNKNOWN kept, contains unknown, contains sensitive)."""
    if type(value) in _SCALARS:
        return value, value, False, False
    if value is UNKNOWN:
        return UNKNOWN, UNKNOWN, True, False
    if isinstance(value, Sensitive):
        stripped, kept, unk, _ = _clean(value.value)
        return stripped, kept, unk, True
    if isinstance(value, dict):
        s_d: dict[Any, Any] = {}
        k_d: dict[Any, Any] = {}
        any_unk = any_sens = False
        for k, v in value.items():
            s, kept, unk, sens = _clean(v)
            any_unk |= unk
            any_sens |= sens
            k_d[k] = kept
            if s is not UNKNOWN:
                s_d[k] = s
        return s_d, k_d, any_unk, any_sens
    if isinstance(value, (list, tuple)):
        s_l: list[Any] = []
        k_l: list[Any] = []
        any_unk = any_sens = False
        for v in value:
            s, kept, unk, sens = _clean(v)
            any_unk |= unk
            any_sens |= sens
            k_l.append(kept)
            if s is not UNKNOWN:
                s_l.append(s)
        return s_l, k_l, any_unk, any_sens
    return value, value, False, False


class _NotAName:
    """Stands in for a number/bool in a reference field so that it fails as a type error
    (instead of being converted to a string name, as plain string arguments are)."""

    __slots__ = ()


def _ref_name(value: Any) -> tuple[Any, bool]:
    """A reference value -> (normalised name, UNKNOWN or the value left for pydantic to reject; via dict)."""
    if isinstance(value, Sensitive):
        value = value.value
    if isinstance(value, dict):
        name = value.get("name", None)
        if isinstance(name, Sensitive):
            name = name.value
        if name is UNKNOWN:
            return UNKNOWN, True
        if isinstance(name, str):
            return normalize_name(name), True
        return value, True
    if isinstance(value, str):
        return normalize_name(value), False
    if isinstance(value, (int, float)):
        return _NotAName(), False
    return value, False


def _prepare_ref(key: str, value: Any, is_list: bool, out: Prepared, path: Path) -> Any:
    items = value if is_list and isinstance(value, (list, tuple)) else [value]
    payloads = [v.value if isinstance(v, Sensitive) else v for v in items]
    out.ref_values[key] = [p for p in payloads if isinstance(p, dict)]
    if not is_list:
        name, via = _ref_name(value)
        if name is UNKNOWN:
            return UNKNOWN
        if isinstance(name, str):
            out.refs[key] = [(name, via)]
        return name
    if not isinstance(value, (list, tuple)):
        return value  # pydantic reports the type
    names: list[Any] = []
    kept: list[Any] = []
    has_unknown = False
    for item in value:
        name, via = _ref_name(item)
        kept.append(name)
        if name is UNKNOWN:
            has_unknown = True
            continue
        names.append(name)
        if isinstance(name, str):
            out.refs.setdefault(key, []).append((name, via))
    if has_unknown:
        out.partial[path] = kept
    return names


def prepare(
    attrs: dict[str, Any], cls: type[_Block], out: Prepared | None = None, prefix: Path = ()
) -> Prepared:
    """Build validation input for `cls` from evaluated attributes (recursing into blocks)."""
    if out is None:
        out = Prepared({})
        target = out.data
    else:
        target = {}
    ref_fields = cls.REF_FIELDS if issubclass(cls, ResourceModel) else {}
    list_refs = cls.LIST_REFS if issubclass(cls, ResourceModel) else frozenset()
    required = placeholders(cls)
    for key, raw in attrs.items():
        path = prefix + (key,)
        value = raw
        if isinstance(value, Sensitive):
            out.sensitive.append(path)
            value = value.value
        if key in ref_fields and value is not UNKNOWN:
            value = _prepare_ref(key, value, key in list_refs, out, path)
        elif key in cls.BLOCKS and isinstance(value, (dict, list)) and value is not UNKNOWN:
            sub, labelled = cls.BLOCKS[key]
            value = _prepare_block(value, sub, labelled, out, path)
        elif type(value) not in _SCALARS and value is not UNKNOWN:
            stripped, kept, unk, sens = _clean(value)
            if sens:
                out.sensitive.append(path)
            if unk:
                out.partial[path] = kept
            value = stripped
        if value is UNKNOWN:
            out.unknown.append(path)
            if key in required:
                target[key] = required[key]
            continue
        target[key] = value
    if prefix:
        return Prepared(target)  # only .data is read by the caller for nested blocks
    return out


def _prepare_block(value: Any, sub: type[_Block], labelled: bool, out: Prepared, path: Path) -> Any:
    if labelled:
        if isinstance(value, list):  # [{"a": {...}}, {"b": {...}}]
            merged: dict[str, Any] = {}
            for item in value:
                if isinstance(item, dict):
                    merged.update(item)
            value = merged
        result: dict[str, Any] = {}
        for label, body in value.items():
            if isinstance(body, Sensitive):
                body = body.value
            if body is UNKNOWN:
                out.unknown.append(path + (str(label),))
                continue
            result[label] = (
                prepare(body, sub, out, path + (str(label),)).data if isinstance(body, dict) else body
            )
        return result
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    return prepare(value, sub, out, path).data if isinstance(value, dict) else value


def _set(obj: Any, key: str, value: Any) -> None:
    if isinstance(obj, dict):
        obj[key] = value
    elif isinstance(obj, BaseModel):
        obj.__dict__[key] = value  # no re-validation: UNKNOWN is not of the field's type


def _walk(model: BaseModel, path: Path) -> Any:
    obj: Any = model
    for p in path:
        if isinstance(obj, dict):
            obj = obj.get(p)
        elif isinstance(obj, BaseModel):
            obj = obj.__dict__.get(p)
        else:
            return None
        if obj is None or obj is UNKNOWN:
            return None
    return obj


def restore(model: ResourceModel, prepared: Prepared) -> None:
    """Put UNKNOWN (and values containing it) back where validation could not see them."""
    for path in prepared.unknown:
        parent = _walk(model, path[:-1])
        if parent is not None:
            _set(parent, path[-1], UNKNOWN)
    for path, value in prepared.partial.items():
        parent = _walk(model, path[:-1])
        if parent is not None:
            _set(parent, path[-1], value)
    model._ref_names = prepared.refs
    model._ref_values = prepared.ref_values
    model._sensitive_paths = tuple(prepared.sensitive)
