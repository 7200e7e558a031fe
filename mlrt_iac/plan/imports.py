"""`import { to id }` blocks: adopt existing objects at plan time, as Terraform 1.5+ does.

For each block whose `to` is not in state, the plan asks the resource's provider to read the
object (`import_`); the plan is then made as if state had it, so it shows what the configuration
would change on the adopted object. The entries ride in the plan (`Plan.imports`) and apply
records them before any change. An id the provider cannot find is an error naming the block.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..config.instances import ProviderConfig, ResourceInstance
from ..diagnostics import Diagnostics
from ..errors import MlrtError
from ..graph.walk import ConsoleEvaluator
from ..model import validate_instances
from ..values import is_known, unmark
from .desired import desired_attributes
from .project import Project


def imported_entry(
    inst: ResourceInstance,
    id: str,
    attributes: dict[str, Any],
    provider_configs: dict[str, ProviderConfig],
) -> dict[str, Any]:
    """The state entry for an object adopted as `inst`: what the provider read, plus the
    configuration's known arguments where the provider says nothing (so the next plan shows
    only real differences)."""
    models, vd = validate_instances([inst], provider_configs)
    attrs = dict(attributes)
    if not vd.has_errors:
        for k, v in desired_attributes(inst, models[inst.address]).items():
            if is_known(v):
                attrs.setdefault(k, v)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return dict(
        address=inst.address,
        type=inst.type,
        name=inst.name,
        module=inst.module_address,
        index_key=inst.index_key,
        provider=inst.provider,
        id=id,
        attributes=attrs,
        sensitive_attributes=[],
        dependencies=sorted(inst.depends_on),
        created_at=now,
        updated_at=now,
        status="ready",
        comment=attrs.get("comment") or "",
    )


def plan_imports(project: Project, present: set[str], diags: Diagnostics) -> list[dict[str, Any]]:
    """State entries for the import blocks whose target is not in state (errors into `diags`)."""
    decls = [d for d in project.config.root.imports if d.to_addr not in present]
    if not decls:
        return []
    ev = ConsoleEvaluator(project.config, project.inputs, workspace=project.workspace)
    if ev.diags.has_errors:
        diags.extend(ev.diags)
        return []
    instances = {i.address: i for i in ev.evaluated.instances}
    for pc in ev.evaluated.providers.values():
        project.provider_configs.setdefault(pc.key, pc)
    out: list[dict[str, Any]] = []
    ctx = project.context()
    for d in decls:
        inst = instances.get(d.to_addr)
        if inst is None:
            diags.add_error(
                "Configuration for import target does not exist",
                f"The configuration does not declare {d.to_addr}. Add a block for it, or fix `to`.",
                d.range,
            )
            continue
        raw, idiags = ev.eval_expr(d.id_expr, d.filename)
        diags.extend(idiags)
        value, _ = unmark(raw)
        if idiags.has_errors:
            continue
        if not isinstance(value, str) or not value:
            diags.add_error(
                "Invalid import id",
                "The import id must be a non-empty string known at plan time"
                + ("" if is_known(value) else " (it depends on something known only after apply)")
                + ".",
                d.range,
            )
            continue
        handler = project.provider(inst.provider).handler(inst.type)
        if handler is None:
            diags.add_error(f'Provider "{inst.provider}" does not support {inst.type}', "", d.range)
            continue
        try:
            res = handler.import_(ctx.for_resource(inst.address), value)
        except MlrtError as exc:
            diags.add_error(f"Cannot import {d.to_addr}: {exc.summary}", exc.detail or "", d.range)
            continue
        if res.attributes is None:
            diags.add_error(
                "Cannot import non-existent remote object",
                f"While importing {value!r} as {d.to_addr}, the provider found no such object. Check"
                " the id, or remove this import block.",
                d.range,
            )
            continue
        out.append(imported_entry(inst, value, dict(res.attributes), project.provider_configs))
    return out
