"""The state document: what mlrt knows it created, and its JSON format.

Plain slotted dataclasses and the stdlib `json` module instead of pydantic: a state of 10,000
resources must serialise and parse in a small fraction of a second (the engine rewrites it after
every resource an apply completes). Parsing still validates every field and raises `StateError`
naming the first problem, so a hand-broken file never turns into a confusing crash later.

On disk the document is indented JSON with one resource per line: readable, diffable per
resource, and fast to write (the C encoder only runs without `indent`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from ..addrs import Address
from ..errors import StateError
from ..values import Sensitive, unmark
from ..version import mlrt_version

FORMAT_VERSION = 1

Status = Literal["ready", "tainted", "creating"]
STATUSES: frozenset[str] = frozenset(("ready", "tainted", "creating"))

# A path into an attribute value: keys of maps and indexes of lists, e.g. ["env", "TOKEN"].
AttributePath = list[str | int]


def now_iso() -> str:
    """The current time as ISO-8601 UTC with a `Z`, second precision (what state records)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class ResourceState:
    """One resource instance mlrt manages.

    `status` is "creating" when recorded *before* a create starts (a crash mid-create leaves a
    trace that the next refresh resolves), "tainted" when the object must be replaced on the next
    apply, else "ready". `attributes` hold plain JSON values; `sensitive_attributes` lists the
    paths inside them that must be redacted when printed. `private` is the provider's own
    bookkeeping for the object (e.g. which Ray cluster it lives on): opaque to the engine, never
    shown in a plan or diffed, handed back to the provider with the entry.
    """

    address: str
    type: str
    name: str
    provider: str
    id: str | None = None
    module: str = ""
    index_key: int | str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    sensitive_attributes: list[AttributePath] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""
    status: Status = "ready"
    comment: str = ""
    private: dict[str, Any] = field(default_factory=dict)
    # The entry's JSON line, kept until a field is assigned again (see __setattr__). Writing
    # the state after every completed resource then costs one line, not the whole document.
    # Attributes are replaced (`rs.attributes = {...}`), never mutated in place, once stored.
    _line: str | None = field(default=None, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name != "_line":
            object.__setattr__(self, "_line", None)

    def json_line(self) -> str:
        line = self._line
        if line is None:
            line = _dumps_compact(self.to_dict())
            object.__setattr__(self, "_line", line)
        return line

    @classmethod
    def new(
        cls,
        address: str,
        provider: str,
        id: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        dependencies: list[str] | None = None,
        status: Status = "ready",
        comment: str = "",
    ) -> ResourceState:
        """Build an entry from an address: type, name, module and key are parsed from it.

        `attributes` may contain `Sensitive` values: they are unwrapped and their paths recorded.
        """
        parts = Address.parse(address)
        now = now_iso()
        rs = cls(
            address=address,
            type=parts.type,
            name=parts.name,
            provider=provider,
            id=id,
            module=parts.module,
            index_key=parts.key,
            dependencies=list(dependencies or []),
            created_at=now,
            updated_at=now,
            status=status,
            comment=comment,
        )
        rs.set_attributes(attributes or {})
        return rs

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Store attributes, unwrapping `Sensitive` marks into `sensitive_attributes`."""
        plain, paths = unmark(dict(attributes))
        self.attributes = plain
        self.sensitive_attributes = [list(p) for p in paths]

    def marked_attributes(self) -> dict[str, Any]:
        """The attributes with `Sensitive` wrappers put back at the recorded paths (for printing)."""
        if not self.sensitive_attributes:
            return self.attributes
        out: Any = json.loads(json.dumps(self.attributes))
        for path in self.sensitive_attributes:
            out = _mark_path(out, list(path))
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "type": self.type,
            "name": self.name,
            "module": self.module,
            "index_key": self.index_key,
            "provider": self.provider,
            "id": self.id,
            "status": self.status,
            "attributes": self.attributes,
            "sensitive_attributes": self.sensitive_attributes,
            "dependencies": self.dependencies,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "comment": self.comment,
            **({"private": self.private} if self.private else {}),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "resource") -> ResourceState:
        """Validate and build; raises StateError naming `where` and the bad field."""
        if not isinstance(data, dict):
            raise _bad(where, "must be an object")
        extra = data.keys() - _RESOURCE_FIELDS
        if extra:
            raise _bad(where, f"has unknown field(s) {', '.join(sorted(extra))}")
        missing = _RESOURCE_REQUIRED - data.keys()
        if missing:
            raise _bad(where, f"lacks required field(s) {', '.join(sorted(missing))}")
        address = data["address"]
        if not isinstance(address, str) or not address:
            raise _bad(where, "field address must be a non-empty string")
        where = f"resource {address}"
        for key in ("type", "name", "provider"):
            if not isinstance(data[key], str) or not data[key]:
                raise _bad(where, f"field {key} must be a non-empty string")
        for key in ("module", "created_at", "updated_at", "comment"):
            if not isinstance(data.get(key, ""), str):
                raise _bad(where, f"field {key} must be a string")
        rid = data.get("id")
        if rid is not None and not isinstance(rid, str):
            raise _bad(where, "field id must be a string or null")
        key_v = data.get("index_key")
        if key_v is not None and (isinstance(key_v, bool) or not isinstance(key_v, (int, str))):
            raise _bad(where, "field index_key must be a number, a string or null")
        status = data.get("status", "ready")
        if status not in STATUSES:
            raise _bad(where, f"field status must be one of {', '.join(sorted(STATUSES))}, not {status!r}")
        attrs = data.get("attributes", {})
        if not isinstance(attrs, dict):
            raise _bad(where, "field attributes must be an object")
        sens = data.get("sensitive_attributes", [])
        if not isinstance(sens, list) or not all(isinstance(p, list) for p in sens):
            raise _bad(where, "field sensitive_attributes must be a list of paths (lists)")
        private = data.get("private", {})
        if not isinstance(private, dict):
            raise _bad(where, "field private must be an object")
        deps = data.get("dependencies", [])
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise _bad(where, "field dependencies must be a list of addresses")
        return cls(
            address=address,
            type=data["type"],
            name=data["name"],
            provider=data["provider"],
            id=rid,
            module=data.get("module", ""),
            index_key=key_v,
            attributes=attrs,
            sensitive_attributes=sens,
            dependencies=deps,
            created_at=data.get("created_at", ""),
            updated_at=data.get("updated_at", ""),
            status=status,
            comment=data.get("comment", ""),
            private=private,
        )


_RESOURCE_FIELDS = frozenset(ResourceState.__dataclass_fields__) - {"_line"}
_RESOURCE_REQUIRED = frozenset(("address", "type", "name", "provider"))


@dataclass(slots=True)
class OutputState:
    """A root-module output as last applied."""

    value: Any
    sensitive: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "sensitive": self.sensitive}


class StateDocument:
    """The whole state: header fields, resources indexed by address, and outputs.

    Resources keep insertion order in memory and are written sorted by address, so the file is
    stable from one write to the next.
    """

    __slots__ = ("format_version", "serial", "lineage", "mlrt_version", "_index", "outputs")

    def __init__(
        self,
        serial: int = 0,
        lineage: str | None = None,
        mlrt_version: str | None = None,
        resources: list[ResourceState] | None = None,
        outputs: dict[str, OutputState] | None = None,
        format_version: int = FORMAT_VERSION,
    ) -> None:
        self.format_version = format_version
        self.serial = serial
        self.lineage = lineage or str(uuid.uuid4())
        self.mlrt_version = mlrt_version if mlrt_version is not None else _VERSION
        self._index: dict[str, ResourceState] = {}
        for r in resources or []:
            if r.address in self._index:
                raise StateError(
                    "Duplicate resource in state",
                    f"The state holds {r.address} twice. Remove one entry by hand, "
                    "or restore the backup file.",
                )
            self._index[r.address] = r
        self.outputs: dict[str, OutputState] = dict(outputs or {})

    @classmethod
    def new(cls) -> StateDocument:
        """An empty state with a fresh lineage and serial 0 (the first write makes it 1)."""
        return cls()

    # -- resources -------------------------------------------------------------------------

    @property
    def resources(self) -> list[ResourceState]:
        return list(self._index.values())

    def __len__(self) -> int:
        return len(self._index)

    def __iter__(self) -> Iterator[ResourceState]:
        return iter(list(self._index.values()))

    def __contains__(self, address: object) -> bool:
        return address in self._index

    def addresses(self) -> list[str]:
        """Every address, in the order the file lists them (module, type, name, key)."""
        return [r.address for r in self._sorted()]

    def _sorted(self) -> list[ResourceState]:
        return sorted(self._index.values(), key=_order)

    def get(self, address: str) -> ResourceState | None:
        return self._index.get(address)

    def set(self, resource: ResourceState | Mapping[str, Any]) -> ResourceState:
        """Add or replace the entry at the resource's address.

        A mapping is validated like a resource read from a file, so code that must not import
        this module (the engine finds backends through entry points) can pass plain dicts.
        """
        rs = resource if isinstance(resource, ResourceState) else ResourceState.from_dict(dict(resource))
        self._index[rs.address] = rs
        return rs

    def record(
        self,
        address: str,
        provider: str,
        id: str | None,
        attributes: Mapping[str, Any] | None = None,
        dependencies: list[str] | None = None,
        status: Status = "ready",
        comment: str = "",
    ) -> ResourceState:
        """Record what an apply step did: create or refresh the entry at `address`.

        Keeps `created_at` of an existing entry and stamps `updated_at`; `attributes` may hold
        `Sensitive` values (their paths are recorded). The engine uses this instead of building
        `ResourceState` itself, since it must not import this package.
        """
        rs = ResourceState.new(address, provider, id, attributes, dependencies, status, comment)
        prior = self._index.get(address)
        if prior is not None and prior.created_at:
            rs.created_at = prior.created_at
        self._index[address] = rs
        return rs

    def output_values(self) -> dict[str, dict[str, Any]]:
        """Outputs as plain dicts {name: {"value", "sensitive"}} (for code that may not import this)."""
        return {k: o.to_dict() for k, o in self.outputs.items()}

    def set_outputs(self, outputs: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace every output from plain dicts {name: {"value", "sensitive"}}."""
        self.outputs = {k: OutputState(v.get("value"), bool(v.get("sensitive"))) for k, v in outputs.items()}

    def set_output(self, name: str, value: Any, sensitive: bool = False) -> None:
        """Store a root output; a `Sensitive` value is unwrapped and the output marked sensitive."""
        plain, paths = unmark(value)
        self.outputs[name] = OutputState(plain, sensitive or bool(paths))

    def remove(self, address: str) -> ResourceState | None:
        """Forget one entry (never destroys anything); returns it, or None if absent."""
        return self._index.pop(address, None)

    def move(self, src: str, dst: str) -> ResourceState:
        """Rename one entry: address, type/name/module/key fields and others' dependencies."""
        rs = self._index.get(src)
        if rs is None:
            raise StateError(
                f"No resource {src} in the state",
                "Run `mlrt state list` to see the addresses the state holds.",
            )
        if dst in self._index:
            raise StateError(
                f"Cannot move {src} to {dst}: {dst} already exists in the state",
                f"Remove it first with `mlrt state rm {dst}` if it is stale.",
            )
        parts = Address.parse(dst)
        if parts.type != rs.type:
            raise StateError(
                f"Cannot move {src} to {dst}: resource types differ",
                f"{src} is a {rs.type}; the destination must be a {rs.type} too.",
            )
        del self._index[src]
        rs.address, rs.name, rs.module, rs.index_key = dst, parts.name, parts.module, parts.key
        self._index[dst] = rs
        for other in self._index.values():
            if src in other.dependencies:
                other.dependencies = [dst if d == src else d for d in other.dependencies]
        return rs

    # -- serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "serial": self.serial,
            "lineage": self.lineage,
            "mlrt_version": self.mlrt_version,
            "resources": [r.to_dict() for r in self._sorted()],
            "outputs": {k: v.to_dict() for k, v in sorted(self.outputs.items())},
        }

    def to_json(self) -> str:
        """The file text: header and outputs indented, one resource per line."""
        dump = _dumps_compact
        lines = [
            "{",
            f'  "format_version": {dump(self.format_version)},',
            f'  "serial": {dump(self.serial)},',
            f'  "lineage": {dump(self.lineage)},',
            f'  "mlrt_version": {dump(self.mlrt_version)},',
        ]
        res = [r.json_line() for r in self._sorted()]
        lines.append('  "resources": [' + ("\n    " + ",\n    ".join(res) + "\n  ]," if res else "],"))
        outs = [f"{dump(k)}: {dump(v.to_dict())}" for k, v in sorted(self.outputs.items())]
        lines.append('  "outputs": {' + ("\n    " + ",\n    ".join(outs) + "\n  }" if outs else "}"))
        lines.append("}\n")
        return "\n".join(lines)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "state") -> StateDocument:
        """Parse and validate; raises StateError naming `source` and what is wrong."""
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise StateError(
                f"The {source} is not valid JSON", f"{e}. The file may be truncated or was edited by hand."
            ) from e
        except RecursionError:
            raise StateError(
                f"The {source} nests too deeply to read",
                "No state mlrt writes looks like this; it was edited by hand.",
            ) from None
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "state") -> StateDocument:
        if not isinstance(data, dict):
            raise StateError(f"The {source} is not a state document", "Its top level must be a JSON object.")
        extra = data.keys() - _DOC_FIELDS
        if extra:
            raise StateError(
                f"The {source} has unknown field(s) {', '.join(sorted(extra))}",
                "Remove them, or restore the backup file.",
            )
        fv = data.get("format_version")
        if not isinstance(fv, int) or isinstance(fv, bool):
            raise StateError(
                f"The {source} has no valid format_version",
                'A state document starts with "format_version": 1.',
            )
        if fv > FORMAT_VERSION:
            raise StateError(
                f"The {source} was written by a newer mlrt (format {fv})",
                f"This mlrt reads format {FORMAT_VERSION}; upgrade mlrt "
                f"(the state says {data.get('mlrt_version', '?')}).",
            )
        serial, lineage = data.get("serial"), data.get("lineage")
        if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
            raise StateError(f"The {source} has no valid serial", "serial must be a whole number ≥ 0.")
        if not isinstance(lineage, str) or not lineage:
            raise StateError(f"The {source} has no valid lineage", "lineage must be a non-empty string.")
        version = data.get("mlrt_version", "")
        if not isinstance(version, str):
            raise StateError(f"The {source} has an invalid mlrt_version", "It must be a string.")
        raw = data.get("resources", [])
        if not isinstance(raw, list):
            raise StateError(f"The {source} has an invalid resources field", "It must be a list.")
        resources = [ResourceState.from_dict(r, f"resource #{i + 1}") for i, r in enumerate(raw)]
        raw_out = data.get("outputs", {})
        if not isinstance(raw_out, dict):
            raise StateError(f"The {source} has an invalid outputs field", "It must be an object.")
        outputs: dict[str, OutputState] = {}
        for name, o in raw_out.items():
            if (
                not isinstance(o, dict)
                or "value" not in o
                or o.keys() - {"value", "sensitive"}
                or not isinstance(o.get("sensitive", False), bool)
            ):
                raise StateError(
                    f"The {source} has an invalid output {name!r}",
                    'Each output must be {"value": ..., "sensitive": true|false}.',
                )
            outputs[name] = OutputState(o["value"], o.get("sensitive", False))
        return cls(
            serial=serial,
            lineage=lineage,
            mlrt_version=version,
            resources=resources,
            outputs=outputs,
            format_version=fv,
        )

    def copy(self) -> StateDocument:
        """A deep copy (e.g. the prior state a plan is computed against)."""
        return StateDocument.from_dict(json.loads(json.dumps(self.to_dict())))

    def same_content(self, other: StateDocument) -> bool:
        """Equal resources and outputs (serial, lineage and version not compared)."""
        a, b = self.to_dict(), other.to_dict()
        return bool(a["resources"] == b["resources"] and a["outputs"] == b["outputs"])


_DOC_FIELDS = frozenset(("format_version", "serial", "lineage", "mlrt_version", "resources", "outputs"))
_VERSION = mlrt_version()


def _order(r: ResourceState) -> tuple[str, str, str, int, int, str]:
    """Numbers sort numerically, then string keys; no key first."""
    k = r.index_key
    if k is None:
        return (r.module, r.type, r.name, 0, 0, "")
    if isinstance(k, int):
        return (r.module, r.type, r.name, 1, k, "")
    return (r.module, r.type, r.name, 2, 0, k)


def _bad(where: str, what: str) -> StateError:
    return StateError(
        f"Invalid {where} in the state: {what}", "Fix the entry by hand or restore the backup file."
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    if isinstance(value, Sensitive):
        raise StateError(
            "A sensitive value reached the state unmarked",
            "Store attributes with ResourceState.set_attributes(), which records "
            "sensitive paths; this is a bug in mlrt or a provider.",
        )
    raise StateError(
        f"A value of type {type(value).__name__} cannot be stored in the state",
        "State attributes must be JSON values (strings, numbers, booleans, null, "
        "lists, maps); unknown values must be resolved before they are recorded. "
        "This is a bug in mlrt or a provider.",
    )


_encoder = json.JSONEncoder(ensure_ascii=False, default=_json_default, separators=(", ", ": "))


def _dumps_compact(value: Any) -> str:
    return _encoder.encode(value)


def _mark_path(value: Any, path: AttributePath) -> Any:
    if not path:
        return Sensitive(value)
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and head in value:
        value[head] = _mark_path(value[head], rest)
    elif isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value):
        value[head] = _mark_path(value[head], rest)
    return value
