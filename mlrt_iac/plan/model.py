"""The plan: what will change, why, and what the world looked like when it was made.

A plan is data. `plan.planner.make_plan` computes it; `apply` carries it out; the CLI prints it.
A saved plan (`plan -out FILE`) is this structure as JSON, with unknown and sensitive values
encoded so they survive the round trip.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..values import UNKNOWN, Sensitive

Action = Literal["create", "update", "replace", "delete", "no-op"]

PLAN_FORMAT_VERSION = 1


@dataclass
class ResourceChange:
    address: str
    type: str
    name: str
    module_address: str
    index_key: int | str | None
    provider: str
    action: Action
    before: dict[str, Any] | None  # prior (refreshed) attributes; None on create
    after: dict[str, Any] | None  # planned attributes, UNKNOWN where known only after apply; None on delete
    id: str | None = None  # the object's id when it already exists
    replace_paths: list[str] = field(default_factory=list)  # attributes that force replacement
    changed: list[str] = field(default_factory=list)  # attributes that differ
    reasons: dict[str, str] = field(
        default_factory=dict
    )  # attribute -> why (shown after "forces replacement")
    action_reason: str = ""  # e.g. "replace_by_request", "delete_because_no_resource_config", "tainted"
    create_before_destroy: bool = False
    dependencies: list[str] = field(default_factory=list)  # addresses this one depends on (after apply)
    prior_dependencies: list[str] = field(default_factory=list)  # addresses it depended on in state
    sensitive_paths: list[list[Any]] = field(default_factory=list)
    comment: str | None = None
    timeouts: dict[str, float] = field(default_factory=dict)  # "create"/"update"/"delete" -> seconds

    @property
    def actions(self) -> list[str]:
        """Terraform's action list for this change."""
        if self.action == "replace":
            return ["create", "delete"] if self.create_before_destroy else ["delete", "create"]
        return [self.action]


@dataclass
class Drift:
    """An object that changed outside of mlrt since the last apply."""

    address: str
    type: str
    before: dict[str, Any]
    after: dict[str, Any] | None  # None: deleted outside of mlrt
    changed: list[str] = field(default_factory=list)


@dataclass
class OutputChange:
    name: str
    action: Action
    before: Any
    after: Any
    sensitive: bool = False


@dataclass
class Plan:
    changes: list[ResourceChange]
    drift: list[Drift] = field(default_factory=list)
    outputs: list[OutputChange] = field(default_factory=list)
    # What the plan was computed against, so a saved plan can refuse a changed world.
    state_lineage: str | None = None
    state_serial: int | None = None
    config_hash: str = ""
    workspace: str = "default"  # a saved plan applies only in the workspace it was made in
    variables: dict[str, Any] = field(default_factory=dict)  # the raw inputs (for `apply FILE`)
    var_files: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    destroy: bool = False
    refresh_only: bool = False
    # Refreshed attributes of every resource in state (address -> attributes, None when gone).
    refreshed: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # moved/removed blocks: state addresses renamed (old, new) and forgotten before any change.
    moves: list[list[str]] = field(default_factory=list)
    forgets: list[str] = field(default_factory=list)
    # import blocks: state entries of adopted objects, recorded by apply before any change.
    imports: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        c = {"add": 0, "change": 0, "destroy": 0}
        for ch in self.changes:
            if ch.action == "create":
                c["add"] += 1
            elif ch.action == "update":
                c["change"] += 1
            elif ch.action == "delete":
                c["destroy"] += 1
            elif ch.action == "replace":
                c["add"] += 1
                c["destroy"] += 1
        return c

    @property
    def has_changes(self) -> bool:
        if any(ch.action != "no-op" for ch in self.changes):
            return True
        if any(o.action != "no-op" for o in self.outputs):
            return True
        if self.moves or self.forgets or self.imports:
            return True
        return self.refresh_only and bool(self.drift)

    def actionable(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.action != "no-op"]

    # -- saved plan files -------------------------------------------------------------------
    def to_file_json(self) -> str:
        return json.dumps(
            {"format": "mlrt-plan", "format_version": PLAN_FORMAT_VERSION, "plan": _encode(asdict(self))},
            sort_keys=True,
        )

    @staticmethod
    def from_file_json(text: str) -> Plan:
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != "mlrt-plan":
            raise ValueError("not an mlrt plan file")
        if raw.get("format_version") != PLAN_FORMAT_VERSION:
            raise ValueError(f"unsupported plan format version {raw.get('format_version')}")
        d = _decode(raw["plan"])
        d["changes"] = [ResourceChange(**c) for c in d["changes"]]
        d["drift"] = [Drift(**x) for x in d["drift"]]
        d["outputs"] = [OutputChange(**o) for o in d["outputs"]]
        return Plan(**d)


_UNKNOWN_KEY = "__mlrt_unknown__"
_SENSITIVE_KEY = "__mlrt_sensitive__"


def _encode(v: Any) -> Any:
    if v is UNKNOWN:
        return {_UNKNOWN_KEY: True}
    if isinstance(v, Sensitive):
        return {_SENSITIVE_KEY: _encode(v.value)}
    if isinstance(v, dict):
        return {str(k): _encode(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_encode(x) for x in v]
    return v


def _decode(v: Any) -> Any:
    if isinstance(v, dict):
        if len(v) == 1 and _UNKNOWN_KEY in v:
            return UNKNOWN
        if len(v) == 1 and _SENSITIVE_KEY in v:
            return Sensitive(_decode(v[_SENSITIVE_KEY]))
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v
