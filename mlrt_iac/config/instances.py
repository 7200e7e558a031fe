"""What the config layer hands to the layers above: evaluated resource instances and friends.

This file is the contract between `config` and `model`/`graph`/`plan`; keep it small and stable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import SourceRange

Attributes = dict[str, Any]


@dataclass(frozen=True)
class Condition:
    """A `precondition` or `postcondition` block of a resource's `lifecycle` (expressions kept
    unevaluated: they are checked per instance, and again at apply when unknown at plan)."""

    kind: str  # "precondition" | "postcondition"
    condition: Any = field(compare=False)  # the expression (config.ast node)
    error_message: Any = field(compare=False)
    range: SourceRange = field(compare=False)


@dataclass(frozen=True)
class ConditionResult:
    """One condition checked for one instance: passed True/False, or None while its value is
    unknown (then apply checks it once what it reads exists)."""

    kind: str
    passed: bool | None
    message: str  # the evaluated error_message ("" when it passed or is unknown)
    range: SourceRange


@dataclass(frozen=True)
class CheckOutcome:
    """One assert of a `check` block, for one module instance: passed True/False, or None while
    its value is unknown (known after apply)."""

    address: str  # check.NAME, module.m.check.NAME
    passed: bool | None
    message: str
    range: SourceRange


@dataclass(frozen=True)
class Lifecycle:
    prevent_destroy: bool = False
    create_before_destroy: bool = False
    ignore_changes: tuple[str, ...] = ()  # attribute names; ("*",) for `ignore_changes = all`
    replace_triggered_by: tuple[str, ...] = ()  # resource addresses (or ADDR.attr)
    conditions: tuple[Condition, ...] = field(default=(), compare=False)


@dataclass
class ResourceInstance:
    """One instance of a resource block after count/for_each expansion and evaluation.

    `attributes` holds every argument written in the block (nested blocks included: a
    `scaling { }` block becomes a dict under "scaling"; labelled repeatable blocks such as
    `dataset "train" { }` become {"train": {...}} under "dataset"), meta-arguments removed.
    Values may contain `values.UNKNOWN` and `values.Sensitive`.
    """

    address: str  # module.team["a"].training.t[0]
    type: str  # training
    name: str  # t
    index_key: int | str | None  # 0, "a", or None without count/for_each
    module_address: str  # "" for the root module, else e.g. 'module.team["a"]'
    provider: str  # resolved provider key: "local", "ray", "ray.big"
    attributes: Attributes
    range: SourceRange  # the block header
    attribute_ranges: dict[str, SourceRange] = field(default_factory=dict)  # "scaling.num_nodes" -> range
    # Addresses of resource instances this one depends on, through references or depends_on
    # (instance addresses: a reference to `compute_pool.gpu` that has count yields every instance).
    depends_on: set[str] = field(default_factory=set)
    # For each dependency, where the reference is written (for cycle paths and cross-checks).
    dependency_ranges: dict[str, SourceRange] = field(default_factory=dict)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    timeouts: dict[str, float] = field(default_factory=dict)  # "create"/"update"/"delete" -> seconds
    provider_explicit: bool = False  # whether the block had a `provider = ...` argument
    checks: list[ConditionResult] = field(default_factory=list)  # lifecycle pre/postconditions

    @property
    def block_address(self) -> str:
        """The address without this instance's key: module.team["a"].training.t"""
        base = f"{self.type}.{self.name}"
        return f"{self.module_address}.{base}" if self.module_address else base


@dataclass
class ProviderConfig:
    name: str  # "ray"
    alias: str | None
    attributes: Attributes  # evaluated arguments (alias removed); nested blocks like resources
    range: SourceRange

    @property
    def key(self) -> str:
        return f"{self.name}.{self.alias}" if self.alias else self.name


@dataclass
class BackendConfig:
    type: str  # "local", "kubernetes"
    attributes: Attributes
    range: SourceRange


@dataclass
class Settings:
    """The `mlrt { }` block."""

    default_provider: str = "local"
    required_providers: dict[str, Any] = field(default_factory=dict)
    backend: BackendConfig | None = None
    range: SourceRange | None = None


@dataclass
class OutputValue:
    name: str
    value: Any  # may contain UNKNOWN / Sensitive
    sensitive: bool
    description: str
    range: SourceRange


# Given an instance whose attributes are evaluated, return the value other expressions see for
# it (`training.t` / `training.t.model_uri`): typically its attributes plus computed ones
# (UNKNOWN before apply, real values from state or apply). Called in dependency order.
ResourceResolver = Callable[[ResourceInstance], Mapping[str, Any]]


@dataclass
class EvaluatedConfig:
    """Everything an evaluation yields: the resource instances in evaluation order, root outputs,
    provider configurations, the `mlrt { }` settings and the root variables' values."""

    instances: list[ResourceInstance] = field(default_factory=list)
    outputs: dict[str, OutputValue] = field(default_factory=dict)
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings)
    variables: dict[str, Any] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)  # `check` blocks' asserts
