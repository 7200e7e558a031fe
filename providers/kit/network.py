"""`network_rule` and `external_access_integration` as recorded grants (local and ray providers).

Nothing on this machine enforces them; they are records (`<records_dir>/rules/<name>.json`,
`<records_dir>/integrations/<name>.json`, `records_dir` being `<data_dir>/network` unless a
provider's subclass says otherwise) that workloads read to learn their egress list, and that
plans show so reviewers see who may reach what.

An integration's computed `effective_egress` is the sorted, de-duplicated list of its allowed
EGRESS rules' entries, resolved by `mlrt_iac.model.netrules.effective_egress` (one definition for
every provider): HOST_PORT entries as `host:port` (lower-cased, `:443` when no port is written,
`0.0.0.0:443` kept), IPV4 entries as `CIDR:port` or `CIDR:*`. The rules come from
`ctx.related_of("network_rule")` (the engine passes every resource the integration references),
else from their records on disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import (
    Attributes,
    BatchReadResult,
    CreateResult,
    DiffResult,
    ProviderContext,
    ReadRequest,
    ReadResult,
    UpdateResult,
)
from mlrt_iac.values import is_known

from .batch import read_by_scan
from .handler import KitHandler, public
from .names import file_safe_name, name_as_id
from .records import atomic_write_json, plain, read_json

MODES = ("EGRESS", "INGRESS")
TYPES = ("HOST_PORT", "IPV4")


def entry_problems(rule_type: str, entries: list[Any]) -> list[str]:
    """Why each bad value_list entry is bad (the language's own checks, `mlrt_iac.model.netrules`)."""
    from mlrt_iac.model import netrules

    out = [f'"{entry}": {why}' for _, entry, why in netrules.entry_problems(rule_type, entries)]
    out += [f"{e!r} is not a string" for e in entries if is_known(e) and not isinstance(e, str)]
    return out


def effective_egress(rules: Iterable[Attributes]) -> list[str]:
    """The sorted unique egress list of EGRESS `rules` (attribute dicts), resolved by the model's
    `netrules.effective_egress` so every provider grants the same list."""
    from mlrt_iac.model import netrules

    views = [
        SimpleNamespace(
            mode=r.get("mode", "EGRESS"),
            type=r.get("type", "HOST_PORT"),
            value_list=list(r.get("value_list") or []),
        )
        for r in rules
    ]
    return sorted(set(netrules.effective_egress(views)))


def _rule_problems(attrs: Attributes) -> list[str]:
    problems: list[str] = []
    mode, rtype, values = attrs.get("mode"), attrs.get("type"), attrs.get("value_list")
    if is_known(mode) and mode not in MODES:
        problems.append(f'mode "{mode}" is not one of {", ".join(MODES)}.')
    if is_known(rtype) and rtype not in TYPES:
        problems.append(f'type "{rtype}" is not one of {", ".join(TYPES)}.')
    if is_known(values) and is_known(rtype) and rtype in TYPES:
        if not isinstance(values, list):
            problems.append("value_list must be a list of strings.")
        else:
            problems += [f"value_list: {p}." for p in entry_problems(str(rtype), values)]
    return problems


class RecordHandler(KitHandler):
    """A resource that is only a JSON record under `records_dir(ctx)/<folder>/`."""

    folder: ClassVar[str] = ""

    def records_dir(self, ctx: ProviderContext) -> Path:
        """Where this provider keeps network records (override to use another folder)."""
        return ctx.data_dir / "network"

    def record_path(self, ctx: ProviderContext, name: str) -> Path:
        file_safe_name(ctx, {"name": name})  # refuse names that are not plain file names
        return self.records_dir(ctx) / self.folder / f"{name}.json"

    def load(self, ctx: ProviderContext, name: str) -> Attributes | None:
        data = read_json(self.record_path(ctx, name))
        if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
            return None
        return public(data["attributes"])

    def save(self, ctx: ProviderContext, name: str, attrs: Attributes) -> None:
        atomic_write_json(
            self.record_path(ctx, name), {"type": self.type_name, "id": name, "attributes": attrs}
        )

    def planned_id(self, ctx: ProviderContext, desired: Attributes) -> str | None:
        return name_as_id(ctx, desired)

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        return ReadResult(self.load(ctx, id))

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        """One scan of the record folder; only the listed records are parsed."""
        return read_by_scan(self.read, requests, lambda req: self.record_path(req.ctx, req.id))

    def _checked(self, ctx: ProviderContext, desired: Attributes) -> Attributes:
        """The record to write: desired attributes, named and checked (PermanentError if bad)."""
        raise NotImplementedError

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        attrs = self._checked(ctx, desired)
        self.save(ctx, attrs["name"], attrs)
        return CreateResult(attrs["name"], attrs)

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        attrs = self._checked(ctx, desired)
        if attrs["name"] != id:
            raise PermanentError(
                f'{self.type_name} "{id}" cannot be renamed in place',
                "A name change forces a replacement; the plan should have replaced it.",
            )
        self.save(ctx, id, attrs)
        return UpdateResult(attrs)

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        self.record_path(ctx, id).unlink(missing_ok=True)


class NetworkRuleHandler(RecordHandler):
    """EGRESS/INGRESS rules: HOST_PORT or IPV4 value lists."""

    type_name: ClassVar[str] = "network_rule"
    force_new: ClassVar[tuple[str, ...]] = ("name", "mode", "type")
    folder: ClassVar[str] = "rules"

    def validate(self, desired: Attributes) -> Diagnostics:
        diags = Diagnostics()
        for p in _rule_problems(desired):
            diags.add_error("Invalid network rule", p)
        return diags

    def _checked(self, ctx: ProviderContext, desired: Attributes) -> Attributes:
        attrs: Attributes = plain(desired)
        attrs["name"] = file_safe_name(ctx, attrs)
        problems = _rule_problems(attrs)
        if problems:
            raise PermanentError(f'Invalid network rule "{attrs["name"]}"', " ".join(problems))
        return attrs


class ExternalAccessIntegrationHandler(RecordHandler):
    """Integrations that grant workloads the egress of their allowed rules."""

    type_name: ClassVar[str] = "external_access_integration"
    computed: ClassVar[tuple[str, ...]] = ("effective_egress",)
    force_new: ClassVar[tuple[str, ...]] = ("name",)
    folder: ClassVar[str] = "integrations"

    @staticmethod
    def rule_names(desired: Attributes) -> list[str] | None:
        """Names in allowed_network_rules (a whole-resource reference counts by its `name`)."""
        raw = desired.get("allowed_network_rules")
        if not is_known(raw):
            return None
        names: list[str] = []
        for item in raw or []:
            if isinstance(item, dict):
                item = item.get("name")
            if not isinstance(item, str):
                return None
            names.append(item)
        return names

    def _rules(self, ctx: ProviderContext, names: list[str], from_disk: bool) -> list[Attributes] | None:
        """The rules' attributes, from ctx.related (then disk); None when some are not known."""
        by_name: dict[str, Attributes] = {}
        for rel in ctx.related_of("network_rule"):
            by_name[rel.name] = rel.attributes
        recorded = self.provider.handler("network_rule")
        rules: list[Attributes] = []
        for name in names:
            rule = by_name.get(name)
            if rule is None and from_disk:
                rule = recorded.load(ctx, name) if isinstance(recorded, RecordHandler) else None
            if rule is None or not is_known(rule):
                return None
            rules.append(plain(rule))
        return rules

    def _egress(self, ctx: ProviderContext, attrs: Attributes) -> list[str]:
        names = self.rule_names(attrs) or []
        rules = self._rules(ctx, names, from_disk=True)
        if rules is None:
            missing = [n for n in names if self._rules(ctx, [n], from_disk=True) is None]
            raise PermanentError(
                f'external_access_integration "{attrs["name"]}" allows unknown network rules',
                f"No network rule named {', '.join(missing)} exists. Declare it with a "
                "`network_rule` block and reference it in allowed_network_rules.",
            )
        ingress = [r.get("name") for r in rules if r.get("mode") != "EGRESS"]
        if ingress:
            raise PermanentError(
                f'external_access_integration "{attrs["name"]}" allows non-EGRESS rules',
                f"Rules {', '.join(map(str, ingress))} have mode INGRESS; an external access "
                "integration only grants egress. Remove them from allowed_network_rules.",
            )
        return effective_egress(rules)

    def _checked(self, ctx: ProviderContext, desired: Attributes) -> Attributes:
        attrs = {k: v for k, v in plain(desired).items() if k not in self.computed}
        attrs["name"] = file_safe_name(ctx, attrs)
        names = self.rule_names(attrs)
        if names is None:
            raise PermanentError(
                f'Invalid allowed_network_rules in external_access_integration "{attrs["name"]}"',
                "It must be a list of network rule names or references.",
            )
        attrs["allowed_network_rules"] = names
        attrs["effective_egress"] = self._egress(ctx, attrs)
        return attrs

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        names = self.rule_names(desired)
        if names is None:
            return {}
        rules = self._rules(ctx, names, from_disk=not ctx.related_of("network_rule"))
        if rules is None or any(r.get("mode") != "EGRESS" for r in rules):
            return {}
        return {"effective_egress": effective_egress(rules)}

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        result = super().diff(ctx, prior, desired)
        planned = (
            self.plan_computed(ctx, desired, prior).get("effective_egress")
            if ctx.related_of("network_rule")
            else None
        )
        if (
            planned is not None
            and planned != prior.get("effective_egress")
            and "effective_egress" not in result.changed
        ):
            result.changed.append("effective_egress")
            result.reasons.setdefault("effective_egress", "an allowed network rule's value_list changed")
        return result
