"""What changing one argument does, per provider, read from the providers themselves.

Replacement is decided by each provider's handler (`force_new`, or its own `diff`), and the
handlers differ (a network rule's `mode` replaces it locally but is updated in place on
Kubernetes). Rather than copy those lists, each argument is changed on its own in a sample
resource and the handler's real `diff` is asked what it makes of it. Nothing is created: `diff`
only compares attributes (a training's fingerprint reads no file here, the sample has no data).
"""

from __future__ import annotations

import enum
import tempfile
import typing
from pathlib import Path
from typing import Any

from ..model.schemas import RESOURCE_MODELS, computed_attributes
from ..provider import Provider, ProviderContext, ResourceHandler, discover_providers

# A minimal valid configuration of each type; the probes change one argument at a time from it.
SAMPLES: dict[str, dict[str, Any]] = {
    "compute_pool": {"instance_family": "CPU_X64_S"},
    "image_repository": {},
    "network_rule": {"mode": "EGRESS", "type": "HOST_PORT", "value_list": ["pypi.org:443"]},
    "external_access_integration": {"allowed_network_rules": ["pypi"]},
    "training": {"compute_pool": "cpu", "framework": "pytorch", "entrypoint": "trainer:train"},
    "service": {"compute_pool": "cpu", "model": "/models/m"},
}


class ChangeKind(enum.Enum):
    """What the plan does when one argument changes."""

    IN_PLACE = "in place"
    NEW_RUN = "new run"  # a training runs again and writes a new model version (in place)
    REPLACE = "replaces"
    IGNORED = "creation only"  # no change once the object exists


def providers() -> dict[str, Provider]:
    """The providers this distribution ships (entry points `mlrt.providers` into the `providers`
    package), instantiated, by name. Plugins from elsewhere (the test suite registers one) have
    no pages here."""
    found = sorted(discover_providers().items())
    return {name: info.factory() for name, info in found if info.module.startswith("providers.")}


def _changed(value: Any, annotation: Any) -> Any:
    """Another value of the same type as `value` (for an unset optional one, of `annotation`)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return _changed(value, args[0])
    if typing.get_origin(annotation) is typing.Literal:
        return next(a for a in args if a != value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "-changed"
    if isinstance(value, list):
        return [*value, "changed"]
    if isinstance(value, dict):
        return {**value, "changed": {}}
    text = str(annotation)
    if "bool" in text:
        return True
    if "int" in text or "float" in text:
        return 2
    return "changed"


def _probe(handler: ResourceHandler, ctx: ProviderContext, type_name: str) -> dict[str, ChangeKind]:
    cls = RESOURCE_MODELS[type_name]
    prior = cls.model_validate({**SAMPLES[type_name], "name": "probe"}).to_attributes()
    planned = handler.plan_computed(ctx, prior, None)
    if "input_fingerprint" in planned:  # as state holds it after a run
        prior["input_fingerprint"] = planned["input_fingerprint"]
    computed = set(computed_attributes(type_name))
    retrains = getattr(handler, "retrains", None)
    out: dict[str, ChangeKind] = {}
    for name, field in cls.model_fields.items():
        if name in computed:
            continue
        desired = {**prior, name: _changed(prior[name], field.annotation)}
        result = handler.diff(ctx, prior, desired)
        if name in result.requires_replace:
            out[name] = ChangeKind.REPLACE
        elif name not in result.changed:
            out[name] = ChangeKind.IGNORED
        elif retrains is not None and retrains(ctx, prior, desired):
            out[name] = ChangeKind.NEW_RUN
        else:
            out[name] = ChangeKind.IN_PLACE
    return out


def change_table(provs: dict[str, Provider] | None = None) -> dict[str, dict[str, dict[str, ChangeKind]]]:
    """type -> provider -> argument -> what changing it does (types a provider lacks left out)."""
    provs = providers() if provs is None else provs
    table: dict[str, dict[str, dict[str, ChangeKind]]] = {t: {} for t in RESOURCE_MODELS}
    with tempfile.TemporaryDirectory(prefix="mlrt-docs-") as tmp:
        ctx = ProviderContext(project_dir=Path(tmp), data_dir=Path(tmp) / ".mlrt", address="x.probe")
        for pname, prov in provs.items():
            for type_name in RESOURCE_MODELS:
                handler = prov.handler(type_name)
                if handler is not None:
                    table[type_name][pname] = _probe(
                        handler, ctx.for_resource(f"{type_name}.probe"), type_name
                    )
    return table
