"""The provider protocol and registry.

A provider realises resource types on one target (local processes, a Ray cluster, Kubernetes).
For every resource type it supports, it has a `ResourceHandler`. The engine decides *order*;
handlers decide *how*, including whether a change is an in-place update or a replacement.

Failure contract (what the engine relies on to never lose track of objects):

- `create` is all or nothing: if it raises, nothing exists (clean up before raising).
- `update` raising means the object still exists with `prior` attributes, or partially updated;
  the engine keeps the prior state entry and a refresh will read the truth.
- `delete` raising means the object still exists; the engine keeps it in state.
- `read` returning None means the object is gone (drift); raising means "could not tell".

Errors are `mlrt_iac.errors.RetryableError(delay)` (retried with backoff within the resource's
timeouts) or `PermanentError`.

Providers are found through the `mlrt.providers` entry-point group: each entry point names a
`Provider` subclass (or a zero-argument factory returning a Provider).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from .diagnostics import Diagnostics

Attributes = dict[str, Any]


@dataclass
class ProviderContext:
    """What a handler may use besides its arguments.

    `project_dir` is the working directory of the configuration; `data_dir` is its `.mlrt/`
    folder (create subfolders freely). `log` sends a line to the user's terminal (and the run's
    log); `progress` reports a short status such as "round 12/50 rmse=0.31". `cancel` is set on
    Ctrl-C: long operations should poll it and stop early by raising PermanentError.
    """

    project_dir: Path
    data_dir: Path
    address: str = ""
    log: Callable[[str], None] = lambda line: None
    progress: Callable[[str], None] = lambda status: None
    cancel: threading.Event = field(default_factory=threading.Event)
    # Extra knowledge the engine passes along: the resolved attributes of resources this one
    # references as a whole (e.g. its compute_pool), keyed by address.
    related: dict[str, Attributes] = field(default_factory=dict)

    def for_resource(self, address: str, related: dict[str, Attributes] | None = None) -> ProviderContext:
        return ProviderContext(
            self.project_dir, self.data_dir, address, self.log, self.progress, self.cancel, related or {}
        )


@dataclass
class DiffResult:
    """What changed between prior (state) and desired (config) attributes.

    `changed` lists top-level attribute names whose values differ; `requires_replace` is the
    subset that cannot be updated in place. `reasons` maps an attribute to a short human reason
    shown next to "# forces replacement" (e.g. "data/train.parquet changed").
    """

    changed: list[str] = field(default_factory=list)
    requires_replace: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def needs_replace(self) -> bool:
        return bool(self.requires_replace)


@dataclass
class CreateResult:
    """The id the provider gave the object, and every attribute as it now is (computed included)."""

    id: str
    attributes: Attributes


@dataclass
class UpdateResult:
    attributes: Attributes


@dataclass
class ReadResult:
    """What exists now. `attributes` None means the object is gone."""

    attributes: Attributes | None


class ResourceHandler:
    """Base handler: override what the resource type needs.

    `computed` lists attributes set by the provider (kept from prior state when the config does
    not set them); `force_new` lists arguments whose change needs a replacement; the default
    `diff` uses both.
    """

    type_name: ClassVar[str] = ""
    computed: ClassVar[tuple[str, ...]] = ()
    force_new: ClassVar[tuple[str, ...]] = ()

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def validate(self, desired: Attributes) -> Diagnostics:
        """Provider-specific checks at plan time; positions are added by the engine."""
        return Diagnostics()

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        """Values of computed attributes that are known at plan time (others are unknown).

        Called for creates and updates; returning {} leaves every computed attribute unknown on
        create and keeps prior values on update.
        """
        return {}

    def planned_id(self, ctx: ProviderContext, desired: Attributes) -> str | None:
        """The id `create` will give the object, when the provider names objects itself.

        The engine records it in state *before* calling `create`, so an interrupted apply
        (kill -9) still knows where to look: the next refresh reads it and, if it exists, the
        plan replaces it. Return None when ids are assigned by the target.
        """
        return None

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        return ReadResult(dict(prior))

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        changed = [k for k, v in desired.items() if k not in self.computed and prior.get(k) != v]
        return DiffResult(changed=changed, requires_replace=[k for k in changed if k in self.force_new])

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        raise NotImplementedError

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        raise NotImplementedError

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        raise NotImplementedError

    def import_(self, ctx: ProviderContext, id: str) -> ReadResult:
        """Read an object that mlrt did not create, for `mlrt import`."""
        return self.read(ctx, id, {})


class Provider:
    """A target. Subclasses set `name`, `version` and `handler_classes`."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.0.0"
    handler_classes: ClassVar[tuple[type[ResourceHandler], ...]] = ()

    def __init__(self) -> None:
        self.config: Attributes = {}
        self.alias: str | None = None
        self.handlers: dict[str, ResourceHandler] = {h.type_name: h(self) for h in self.handler_classes}

    def configure(self, config: Attributes, ctx: ProviderContext) -> Diagnostics:
        """Receive the evaluated `provider "NAME" { ... }` block (empty when none is written)."""
        self.config = dict(config)
        return Diagnostics()

    def handler(self, type_name: str) -> ResourceHandler | None:
        return self.handlers.get(type_name)

    def render(self, resources: list[RenderItem]) -> list[dict[str, Any]]:
        """The manifests this provider would apply, for `mlrt render` (GitOps). Optional."""
        from .errors import MlrtError

        raise MlrtError(
            f'Provider "{self.name}" cannot render manifests',
            "Only providers that apply declarative manifests (kubernetes) support `mlrt render`.",
        )

    def close(self) -> None:
        """Release clients and connections (not the objects it created)."""


@dataclass
class RenderItem:
    """One resource to render: its address, type and validated attributes (defaults filled;
    references to other resources normalised to their names)."""

    address: str
    type: str
    attributes: Attributes


ProviderFactory = Callable[[], Provider]


@dataclass
class ProviderInfo:
    name: str
    version: str
    module: str
    factory: ProviderFactory


def discover_providers() -> dict[str, ProviderInfo]:
    """Every provider registered under the `mlrt.providers` entry-point group."""
    found: dict[str, ProviderInfo] = {}
    for ep in entry_points(group="mlrt.providers"):
        try:
            factory = ep.load()
        except Exception:  # a broken plugin must not break the others; `mlrt init` reports it
            continue
        version = getattr(factory, "version", "0.0.0")
        found[ep.name] = ProviderInfo(ep.name, str(version), ep.value, factory)
    return found


def provider_key(name: str, alias: str | None) -> str:
    """`ray` or `ray.big`: how a resource's `provider` meta-argument names a configuration."""
    return f"{name}.{alias}" if alias else name


def load_provider(name: str, registry: Mapping[str, ProviderInfo] | None = None) -> Provider:
    reg = registry if registry is not None else discover_providers()
    if name not in reg:
        from .errors import MlrtError

        raise MlrtError(
            f'Provider "{name}" is not installed',
            f"Installed providers: {', '.join(sorted(reg)) or 'none'}. Install the package "
            "that registers it under the mlrt.providers entry point, then run `mlrt init`.",
        )
    return reg[name].factory()
