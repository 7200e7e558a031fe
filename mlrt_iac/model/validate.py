"""The entry point the engine calls: evaluated instances -> typed models + every problem.

One pass per instance (prepare -> pydantic -> restore UNKNOWN -> single-block rules), then the
cross-block checks over everything that passed. Nothing stops at the first error: every
instance is checked and every problem is reported.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from ..config.instances import ProviderConfig, ResourceInstance
from ..diagnostics import Diagnostic, Diagnostics, error
from .checks import semantic_checks
from .cross import cross_check
from .derive import derive_local
from .errors_map import diagnostics_from
from .families import FamilyCatalog, build_catalog
from .prepare import prepare, restore
from .schemas import RESOURCE_MODELS, ResourceModel, computed_attributes
from .suggest import did_you_mean


def _computed_set(inst: ResourceInstance) -> list[Diagnostic]:
    return [
        error(
            "Unsupported argument",
            f'The attribute "{name}" of {inst.type} is computed by the provider (known after '
            "apply) and cannot be set in configuration; remove it.",
            inst.attribute_ranges.get(name, inst.range),
        )
        for name in computed_attributes(inst.type)
        if name in inst.attributes
    ]


def validate_instance(
    inst: ResourceInstance, catalog: FamilyCatalog
) -> tuple[ResourceModel | None, list[Diagnostic]]:
    """Validate one instance on its own (no cross-block checks)."""
    cls = RESOURCE_MODELS.get(inst.type)
    if cls is None:
        return None, [
            error(
                "Unsupported resource type",
                f'The resource type "{inst.type}" is not supported.'
                f"{did_you_mean(inst.type, RESOURCE_MODELS)} Supported types: "
                f"{', '.join(sorted(RESOURCE_MODELS))}.",
                inst.range,
            )
        ]
    diags = _computed_set(inst)
    attrs = inst.attributes
    if diags:
        computed = set(computed_attributes(inst.type))
        attrs = {k: v for k, v in attrs.items() if k not in computed}
    prepared = prepare(attrs, cls)
    try:
        model = cls.model_validate(prepared.data)
    except ValidationError as exc:
        diags.extend(diagnostics_from(exc, cls, inst, frozenset(prepared.sensitive)))
        return None, diags
    restore(model, prepared)
    diags.extend(semantic_checks(model, inst, catalog))
    if any(d.severity == "error" for d in diags):  # warnings keep the model
        return None, diags
    derive_local(model, inst, catalog)
    return model, diags


def validate_instances(
    instances: list[ResourceInstance],
    providers: Mapping[str, ProviderConfig] | None = None,
    *,
    cross: bool = False,
) -> tuple[dict[str, ResourceModel], Diagnostics]:
    """address -> model for every instance that passed its own checks, and every problem found.

    Each instance is checked on its own (so the planner may validate one instance at a time).
    With `cross=True` the cross-block checks run too, over the instances given (the whole
    configuration); otherwise call `cross_check` afterwards, as `mlrt validate` does.
    `providers` (provider key -> config) supplies custom instance families.
    """
    catalog = build_catalog(providers.values() if providers else ())
    diags = Diagnostics(catalog.diagnostics)
    models: dict[str, ResourceModel] = {}
    for inst in instances:
        model, found = validate_instance(inst, catalog)
        diags.extend(found)
        if model is not None:
            models[inst.address] = model
    if cross:
        diags.extend(cross_check(instances, models, catalog))
    return models, diags
