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

Errors are `mlrt_iac.errors.RetryableError(delay)` or `PermanentError` (`DeadlineExceeded` when a
wait ran out of time). Retries have ONE owner, the engine: a handler raises `RetryableError` and
never loops on it itself; the engine retries with backoff until `ctx.deadline`.

What handlers receive and return (the contract every provider keeps, checked by tests/contract):

- `desired` is complete and validated: every default the schema defines is filled in by the
  engine (`mlrt_iac.model`), references are normalised. Handlers never re-derive a default.
- Results carry the object's public `attributes` (shown in plans, diffed) and an opaque
  `private` mapping (the provider's bookkeeping: which cluster, which port, fingerprint parts).
  The engine stores `private` with the state entry and hands it back as `ctx.private`; it is
  never shown or diffed. A result whose `private` is None keeps the prior private data.
- `ctx.related` maps the address of each resource this one references to a typed `Related`
  (type, provider-side name, attributes, private): providers never parse addresses.
- `ctx.deadline` (a `time.monotonic()` instant, from the resource's `timeouts { }` for the
  operation, else the engine default) bounds every wait; `ctx.remaining()` and
  `ctx.check_deadline()` help honour it.
- Optional capabilities are declared protocols, checked with isinstance: `Renderer` (manifests
  for `mlrt render`), `BatchReader` (a handler's `read_many`: one listing per kind instead of
  one read per object, so refresh costs do not grow with the number of objects), `LogReader`
  (a handler's `logs`, for `mlrt logs`), `PlanChecker` (a handler's `plan_checks`: what the
  files and the target decide about one resource, e.g. a data file's columns) and
  `PlanWideChecker` (a provider's `check_plan`: what needs every planned resource at once, e.g.
  whether its pools fit the target together). Their `Finding`s name an attribute path; the
  engine turns them into diagnostics at that attribute's line.

Providers are found through the `mlrt.providers` entry-point group: each entry point names a
`Provider` subclass (or a zero-argument factory returning a Provider).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from .addrs import Address
from .diagnostics import Diagnostics, Severity
from .errors import DeadlineExceeded, MlrtError, PermanentError
from .values import is_known

Attributes = dict[str, Any]
Private = dict[str, Any]
AttributePath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Related:
    """A resource that the one being handled references, as the engine resolved it.

    `name` is the provider-side name (the `name` argument, else the block label with its
    instance key); `attributes` are its planned or applied values; `private` is what its
    provider stored for it (empty for references across providers or before it exists).
    """

    address: str
    type: str
    name: str
    attributes: Attributes
    private: Private = field(default_factory=dict)


def object_name(address: str, attributes: Attributes) -> str:
    """The provider-side name of an object: its `name` argument, else the block label with the
    instance key (`compute_pool.gpu["a10"]` -> `gpu-a10`)."""
    name = attributes.get("name")
    if isinstance(name, str) and name:
        return name
    parsed = Address.try_parse(address)
    return parsed.label if parsed is not None else address


def filled(attributes: Attributes, key: str, address: str) -> Any:
    """An argument the engine fills before any handler runs (its schema default, or a value
    derived once in `mlrt_iac.model`, e.g. a service's `num_workers` and `max_queue`). Handlers
    read it with this instead of re-deriving a default, so every provider agrees on it; a
    missing value is a PermanentError naming it (values known only after apply included)."""
    value = attributes.get(key)
    if value is None or not is_known(value):
        raise PermanentError(
            f"{address}: {key} is not known",
            f"The engine fills {key} once the values it depends on are known. Apply what it "
            "depends on first, or set it explicitly.",
        )
    return value


@dataclass
class ProviderContext:
    """What a handler may use besides its arguments.

    `project_dir` is the working directory of the configuration; `data_dir` is its `.mlrt/`
    folder (create subfolders freely). `log` sends a line to the user's terminal (and the run's
    log); `progress` reports a short status such as "round 12/50 rmse=0.31". `cancel` is set on
    the first Ctrl-C (or SIGTERM): long operations (trainings, readiness waits) poll it, stop
    what they started and raise PermanentError; short ones may finish.
    `related`, `private` and `deadline`: see the module docstring. `sensitive_paths` lists the
    attribute paths (`("hyper_params", "token")`) whose values are sensitive, for the attributes
    the call is about (desired on create/update, prior on read/delete): a provider that writes
    values somewhere others can read them (manifests) keeps these out.
    """

    project_dir: Path
    data_dir: Path
    address: str = ""
    log: Callable[[str], None] = lambda line: None
    progress: Callable[[str], None] = lambda status: None
    cancel: threading.Event = field(default_factory=threading.Event)
    related: dict[str, Related] = field(default_factory=dict)
    private: Private = field(default_factory=dict)
    deadline: float | None = None
    sensitive_paths: tuple[AttributePath, ...] = ()
    # The resource's `timeouts { }` in seconds by operation ("create", "update", "delete"), as
    # written (empty when unset): for a provider that writes them into what it creates (a
    # Kubernetes RayJob's activeDeadlineSeconds), so apply and `mlrt render` agree.
    timeouts: dict[str, float] = field(default_factory=dict)

    def for_resource(
        self,
        address: str,
        related: dict[str, Related] | None = None,
        private: Private | None = None,
        deadline: float | None = None,
        sensitive_paths: Sequence[Sequence[str | int]] = (),
    ) -> ProviderContext:
        return ProviderContext(
            self.project_dir,
            self.data_dir,
            address,
            self.log,
            self.progress,
            self.cancel,
            related or {},
            private or {},
            deadline,
            tuple(tuple(p) for p in sensitive_paths),
        )

    def related_of(self, type_name: str) -> list[Related]:
        """The referenced resources of one type, in address order."""
        return [r for _, r in sorted(self.related.items()) if r.type == type_name]

    def remaining(self, default: float) -> float:
        """Seconds left before the deadline (never negative); `default` when there is none."""
        if self.deadline is None:
            return default
        return max(0.0, self.deadline - time.monotonic())

    def check_deadline(self, what: str) -> None:
        """Raise DeadlineExceeded when the deadline has passed; `what` says what was awaited."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceeded(
                f"Timed out waiting for {what}",
                "Raise the resource's `timeouts { create / update / delete }` if it needs longer.",
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
    """The id the provider gave the object, every attribute as it now is (computed included),
    and the provider's private bookkeeping for it."""

    id: str
    attributes: Attributes
    private: Private = field(default_factory=dict)


@dataclass
class UpdateResult:
    """Attributes after the update; `private` None keeps the prior private data."""

    attributes: Attributes
    private: Private | None = None


@dataclass
class ReadResult:
    """What exists now. `attributes` None means the object is gone. (Private data is not
    refreshed: it is what create/update recorded.)"""

    attributes: Attributes | None


@dataclass(frozen=True)
class ReadRequest:
    """One object to read in a batch: what `read(ctx, id, prior)` would receive. Each request
    carries its own context, since reads depend on the resource's address, `related` and
    `private` (a Kubernetes handler renders the object names from them)."""

    ctx: ProviderContext
    id: str
    prior: Attributes


@dataclass
class BatchReadResult:
    """What `read_many` found.

    `results` has one entry per request, in request order: the `ReadResult` that `read` would
    have returned, or the exception that `read` would have raised (that object "could not
    tell"; the others still count). `unmanaged` names objects that carry this provider's
    managed-by mark but belong to no request (left by an interrupted apply, another
    workspace, or made by hand): the plan warns about them and never deletes them; `import`
    adopts one, or the user removes it.
    """

    results: list[ReadResult | Exception]
    unmanaged: list[str] = field(default_factory=list)


@runtime_checkable
class BatchReader(Protocol):
    """A handler that reads many objects at once (one LIST per kind, one job listing...).

    `read_many(ctx, requests)` must agree with `read` for every request (tests/contract checks
    it). `ctx` is the run's shared context (log, cancel, project); a request's own `ctx` is the
    one `read` would get. Raising means no request could be read ("could not tell" for all).
    The engine uses it when present and falls back to `read` otherwise.
    """

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult: ...


@dataclass(frozen=True)
class LogQuery:
    """What `mlrt logs` asks for.

    `follow`: keep reading new lines until the workload ends or `ctx.cancel` is set (Ctrl-C).
    `since`: a Unix time; lines older than it are left out where the source dates its lines
    (a file without per-line times is left out whole when it was last written before it).
    `instance`: one service instance, or one training worker (its rank); None: all of them.
    `tail`: only the last N lines of each source (before following); None: all.
    """

    follow: bool = False
    since: float | None = None
    instance: int | None = None
    tail: int | None = None


@dataclass(frozen=True)
class LogLine:
    """One line of a workload's log; `source` says whose ("rank 0", "instance 1", a pod)."""

    source: str
    text: str


@dataclass(frozen=True)
class Finding:
    """A problem a provider found at plan time, before anything is created.

    Handlers cannot see source positions, so a finding names where it belongs: `address` (the
    resource; empty means the one being checked) and `path` (an attribute path such as
    `("dataset", "train", "label_col")`; empty means the block itself). The engine reports it
    at that line. An `error` stops the plan; a `warning` is for what may change before apply
    (capacity held by others).
    """

    severity: Severity
    summary: str
    detail: str = ""
    path: AttributePath = ()
    address: str = ""


@runtime_checkable
class PlanChecker(Protocol):
    """A handler with plan-time checks that need the project's files or the target.

    `plan_checks(ctx, desired)` runs for every resource the plan creates, updates or replaces
    (never for a no-op: nothing will run). It must be cheap on a plan that changed nothing
    since the last one (cache by file stat or content hash): every plan runs it.
    """

    def plan_checks(self, ctx: ProviderContext, desired: Attributes) -> list[Finding]: ...


@dataclass(frozen=True)
class PlannedResource:
    """One resource of a plan as a provider-wide check sees it: its planned action (`no-op`
    included, `delete` for what the plan removes) and attributes (prior ones for a delete)."""

    address: str
    type: str
    action: str
    attributes: Attributes


@runtime_checkable
class PlanWideChecker(Protocol):
    """A provider with checks over all its planned resources at once (pools that cannot fit
    the target together). Findings must name their `address`."""

    def check_plan(self, ctx: ProviderContext, planned: Sequence[PlannedResource]) -> list[Finding]: ...


@runtime_checkable
class LogReader(Protocol):
    """A handler that can show its objects' logs (`mlrt logs ADDR`).

    `logs(ctx, id, attributes, query)` yields lines, oldest first per source; with
    `query.follow` it returns once the workload has ended or `ctx.cancel` is set. Raising
    `PermanentError` means the logs cannot be had (gone with the object, target unreachable);
    nothing is changed by reading them.
    """

    def logs(
        self, ctx: ProviderContext, id: str, attributes: Attributes, query: LogQuery
    ) -> Iterator[LogLine]: ...


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

    def close(self) -> None:
        """Release clients and connections (not the objects it created)."""


@dataclass
class RenderOutput:
    """Manifests `mlrt render` prints or writes, and warnings about what they cannot express."""

    manifests: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@runtime_checkable
class Renderer(Protocol):
    """A provider that can show the declarative manifests it would apply (GitOps)."""

    def render(self, resources: list[RenderItem]) -> RenderOutput: ...

    def write_render(self, manifests: list[dict[str, Any]], out_dir: Path) -> list[Path]: ...


@dataclass
class RenderItem:
    """One resource to render: its address, type and validated attributes (defaults filled;
    references to other resources normalised to their names)."""

    address: str
    type: str
    attributes: Attributes
    sensitive_paths: tuple[AttributePath, ...] = ()


ProviderFactory = Callable[[], Provider]


@dataclass
class ProviderInfo:
    """A registered provider. Its code is imported when `factory` or `version` is first read, so
    `validate` and `plan` of a project load only the providers it uses (loading all three cost
    0.2 s of every start)."""

    name: str
    module: str
    loader: Callable[[], Any] | None = None
    _factory: ProviderFactory | None = field(default=None, repr=False)

    @property
    def factory(self) -> ProviderFactory:
        """The provider class; MlrtError when its code cannot be imported (a broken install)."""
        if self._factory is None:
            if self.loader is None:
                raise MlrtError(f'Provider "{self.name}" has no code to load')
            try:
                self._factory = self.loader()
            except Exception as exc:  # a broken plugin: say which, never a traceback
                raise MlrtError(
                    f'Provider "{self.name}" failed to load',
                    f"Importing {self.module} raised {type(exc).__name__}: {exc}. Reinstall the "
                    "package that provides it.",
                ) from exc
        assert self._factory is not None
        return self._factory

    @property
    def version(self) -> str:
        return str(getattr(self.factory, "version", "0.0.0"))


def discover_providers() -> dict[str, ProviderInfo]:
    """Every provider registered under the `mlrt.providers` entry-point group (not imported yet)."""
    return {ep.name: ProviderInfo(ep.name, ep.value, ep.load) for ep in entry_points(group="mlrt.providers")}
