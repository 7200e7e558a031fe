"""The machine-readable views of plans and states (`show -json`, `plan -json`).

Shapes follow Terraform's JSON output format where they overlap (`resource_changes[]` with
`address`, `type`, `name`, `change.actions/before/after/after_unknown`), so CI tooling written for
Terraform reads them. Sensitive values are always redacted here.
"""

from __future__ import annotations

from typing import Any

from ..addrs import Address
from ..state import StateDocument
from ..values import UNKNOWN, Sensitive
from ..version import mlrt_version
from .model import Plan, ResourceChange

REDACTED = "(sensitive value)"


def redact(value: Any, paths: list[list[Any]]) -> Any:
    """Replace each sensitive path of `value` (and any Sensitive wrapper) with a redaction."""
    if isinstance(value, Sensitive):
        return REDACTED
    if any(len(p) == 0 for p in paths):  # an empty path marks the whole value
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, [p[1:] for p in paths if p and p[0] == k]) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, [p[1:] for p in paths if p and p[0] == i]) for i, v in enumerate(value)]
    return value


def _known_part(value: Any) -> Any:
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: _known_part(v) for k, v in value.items() if v is not UNKNOWN}
    if isinstance(value, list):
        return [_known_part(v) for v in value]
    return value


def _unknown_mask(value: Any) -> Any:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return {k: m for k, v in value.items() if (m := _unknown_mask(v)) not in (False, {}, [])}
    if isinstance(value, list):
        masks = [_unknown_mask(v) for v in value]
        return masks if any(m not in (False, {}, []) for m in masks) else []
    return False


def _sensitive_mask(paths: list[list[Any]]) -> Any:
    out: dict[str, Any] = {}
    for p in paths:
        if not p:
            return True
        cur = out
        for k in p[:-1]:
            cur = cur.setdefault(str(k), {})
        cur[str(p[-1])] = True
    return out


def change_json(ch: ResourceChange) -> dict[str, Any]:
    sens = ch.sensitive_paths
    out: dict[str, Any] = {
        "address": ch.address,
        "module_address": ch.module_address or None,
        "mode": "managed",
        "type": ch.type,
        "name": ch.name,
        "index": ch.index_key,
        "provider_name": ch.provider,
        "change": {
            "actions": ch.actions,
            "before": redact(ch.before, sens) if ch.before is not None else None,
            "after": redact(_known_part(ch.after), sens) if ch.after is not None else None,
            "after_unknown": _unknown_mask(ch.after) if ch.after is not None else {},
            "before_sensitive": _sensitive_mask(sens) if ch.before is not None else False,
            "after_sensitive": _sensitive_mask(sens) if ch.after is not None else False,
            "replace_paths": [[p] for p in ch.replace_paths],
        },
    }
    if ch.action_reason:
        out["action_reason"] = ch.action_reason
    if ch.reasons:
        out["replace_reasons"] = dict(ch.reasons)
    if out["module_address"] is None:
        del out["module_address"]
    if ch.index_key is None:
        del out["index"]
    return out


def _with_previous(changes: list[dict[str, Any]], plan: Plan) -> list[dict[str, Any]]:
    """Terraform's `previous_address` on a change whose object a moved block renamed, and a
    `forget` action for what a removed block (destroy = false) drops from state."""
    previous = {new: old for old, new in plan.moves}
    imported = {e["address"]: e["id"] for e in plan.imports}
    for c in changes:
        if c["address"] in previous:
            c["previous_address"] = previous[c["address"]]
        if c["address"] in imported:
            c["change"]["importing"] = {"id": imported[c["address"]]}
    for addr in plan.forgets:
        changes.append({"address": addr, "mode": "managed", "change": {"actions": ["forget"]}})
    return changes


def plan_json(plan: Plan) -> dict[str, Any]:
    counts = plan.counts()
    return {
        "format_version": "1.2",
        "mlrt_version": mlrt_version(),
        "applyable": plan.has_changes,
        "complete": not plan.targets,
        "errored": False,
        "prior_state": {"lineage": plan.state_lineage, "serial": plan.state_serial},
        "configuration_hash": plan.config_hash,
        "variables": {
            k: {"value": REDACTED if isinstance(v, Sensitive) else v} for k, v in plan.variables.items()
        },
        "resource_changes": _with_previous([change_json(c) for c in plan.changes], plan),
        "resource_drift": [
            {
                "address": d.address,
                "type": d.type,
                "change": {
                    "actions": ["delete"] if d.after is None else ["update"],
                    "before": d.before,
                    "after": d.after,
                    "changed": d.changed,
                },
            }
            for d in plan.drift
        ],
        "output_changes": {
            o.name: {
                "actions": [o.action],
                "before": REDACTED if o.sensitive else o.before,
                "after": REDACTED if o.sensitive else _known_part(o.after),
                "after_unknown": _unknown_mask(o.after),
                "after_sensitive": o.sensitive,
            }
            for o in plan.outputs
        },
        "summary": {
            "add": counts["add"],
            "change": counts["change"],
            "destroy": counts["destroy"],
            "drift": len(plan.drift),
        },
    }


def state_json(doc: StateDocument) -> dict[str, Any]:
    """`show -json` of the state: values redacted where sensitive."""
    resources = []
    for r in doc.resources:
        sens = [list(p) for p in r.sensitive_attributes]
        resources.append(
            {
                "address": r.address,
                "mode": "managed",
                "type": r.type,
                "name": r.name,
                "index": r.index_key,
                "provider_name": r.provider,
                "id": r.id,
                "status": r.status,
                "values": redact(r.attributes, sens),
                "sensitive_values": _sensitive_mask(sens),
                "depends_on": list(r.dependencies or []),
            }
        )
    outputs = {
        k: {
            "value": REDACTED if v.get("sensitive") else v.get("value"),
            "sensitive": bool(v.get("sensitive")),
        }
        for k, v in doc.output_values().items()
    }
    return {
        "format_version": "1.0",
        "mlrt_version": mlrt_version(),
        "serial": doc.serial,
        "lineage": doc.lineage,
        "values": {"outputs": outputs, "root_module": _module_tree(resources)},
    }


def _module_tree(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """Terraform's layout: the root module's own resources, and `child_modules` (each with its
    `address`, resources and children) for resources inside modules."""
    root: dict[str, Any] = {"resources": []}
    nodes: dict[tuple[Any, ...], dict[str, Any]] = {(): root}
    for res in resources:
        parsed = Address.try_parse(res["address"])
        path = parsed.module_path if parsed is not None else ()
        for depth in range(1, len(path) + 1):
            step = tuple(path[:depth])
            if step not in nodes:
                child = {
                    "address": Address(step, "", "").module,
                    "resources": [],
                }
                parent = nodes[step[:-1]]
                parent.setdefault("child_modules", []).append(child)
                nodes[step] = child
        nodes[tuple(path)]["resources"].append(res)
    return root


def all_resources(shown: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource of a `show -json` document, the root module's and its children's."""
    out: list[dict[str, Any]] = []
    stack = [shown["values"]["root_module"]]
    while stack:
        module = stack.pop()
        out.extend(module.get("resources", []))
        stack.extend(module.get("child_modules", []))
    return out
