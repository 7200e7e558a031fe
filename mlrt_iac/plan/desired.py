"""The desired attributes of an instance: validated arguments with defaults, unknowns kept."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ..config.instances import ResourceInstance
from ..model import computed_attributes
from ..values import UNKNOWN, unmark


def desired_attributes(inst: ResourceInstance, model: BaseModel) -> dict[str, Any]:
    """What the provider is asked to make true: every argument (defaults filled), no computed ones.

    Arguments whose value is known only after apply stay UNKNOWN (the schema skipped them).
    """
    computed = set(computed_attributes(inst.type))
    data = model.model_dump(mode="json", exclude=computed)
    plain, _ = unmark(inst.attributes)
    for key, raw in plain.items():
        if key in computed:
            continue
        if raw is UNKNOWN or (data.get(key) is None and _has_unknown(raw)):
            data[key] = raw if raw is UNKNOWN else UNKNOWN
    return data


def _has_unknown(v: Any) -> bool:
    if v is UNKNOWN:
        return True
    if isinstance(v, dict):
        return any(_has_unknown(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return any(_has_unknown(x) for x in v)
    return False
