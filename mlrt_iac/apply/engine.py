"""Apply: carry out a plan, in parallel where the graph allows, never losing track of objects.

Order comes from the plan's dependencies; a resource starts when everything it depends on has
finished. After each resource completes the state is committed (group commit), and before a
create the engine records a `creating` entry with the provider's planned id, so a crash at any
moment leaves a state that the next refresh can reconcile. A failure skips the resource's
dependents; independent work still finishes.
"""

from __future__ import annotations

import dataclasses
import random
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from ..config.checks import failed_checks
from ..config.conditions import blocks_with_conditions, failed_conditions
from ..config.functions import applying
from ..config.instances import ResourceInstance
from ..diagnostics import Diagnostics
from ..errors import DeadlineExceeded, MlrtError, PermanentError, RetryableError
from ..graph import build_graph
from ..model import computed_attributes, validate_instances
from ..plan.desired import desired_attributes
from ..plan.model import Plan, ResourceChange
from ..plan.moves import Refactoring, apply_refactoring
from ..plan.project import Project
from ..provider import ProviderContext, Related, ResourceHandler, object_name
from ..state import Backend, ResourceState, StateDocument, Status
from ..values import UNKNOWN, is_known, unmark
from .events import ApplyEvent, EventSink, StopSignal
from .state_writer import StateCommitter

T = TypeVar("T")

DEFAULT_TIMEOUTS = {"create": 1800.0, "update": 1800.0, "delete": 1800.0}
STILL_EVERY = 10.0


@dataclass
class ApplyOptions:
    parallelism: int = 10
    on_event: EventSink = lambda e: None
    stop: StopSignal = field(default_factory=StopSignal)


@dataclass
class ApplyResult:
    done: dict[str, str] = field(default_factory=dict)  # address -> action
    errors: list[tuple[str, MlrtError]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: Diagnostics = field(default_factory=Diagnostics)  # check blocks' failed asserts
    interrupted: bool = False
    writes: int = 0

    def counts(self) -> dict[str, int]:
        c = {"added": 0, "changed": 0, "destroyed": 0}
        for action in self.done.values():
            if action == "create":
                c["added"] += 1
            elif action == "update":
                c["changed"] += 1
            elif action == "delete":
                c["destroyed"] += 1
            elif action == "replace":
                c["added"] += 1
                c["destroyed"] += 1
        return c


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def apply_plan(
    project: Project, plan: Plan, backend: Backend, doc: StateDocument, opts: ApplyOptions
) -> ApplyResult:
    """Carry out `plan` against `doc` (the state it was made from), committing through `backend`."""
    committer = StateCommitter(backend, doc)
    result = ApplyResult()
    # moved/removed blocks first (the plan was made against state so renamed), then the
    # refresh, which is part of the plan: persist what it saw.
    with committer.mutate():
        apply_refactoring(doc, Refactoring([(a, b) for a, b in plan.moves], list(plan.forgets)))
        for entry in plan.imports:  # import blocks: the adopted objects, as the plan read them
            if entry["address"] not in doc:
                doc.set(entry)
        for addr, attrs in plan.refreshed.items():
            r = doc.get(addr)
            if r is None:
                continue
            if attrs is None:
                doc.remove(addr)
            elif r.attributes != attrs:
                r.attributes = dict(attrs)
    if plan.refresh_only:
        committer.commit()
        result.writes = committer.writes
        return result

    walker = _Walker(project, plan, doc, committer, opts, result)
    try:
        walker.run()
        if not plan.targets and not plan.destroy:
            _update_outputs(project, doc, committer, result)
        elif plan.destroy and not plan.targets:
            with committer.mutate():
                doc.set_outputs({})
    finally:
        committer.close()
    result.writes = committer.writes
    return result


class _Walker:
    def __init__(
        self,
        project: Project,
        plan: Plan,
        doc: StateDocument,
        committer: StateCommitter,
        opts: ApplyOptions,
        result: ApplyResult,
    ) -> None:
        self.project = project
        self.plan = plan
        self.doc = doc
        self.committer = committer
        self.opts = opts
        self.result = result
        self.changes = {c.address: c for c in plan.actionable()}
        self._conditioned: set[tuple[tuple[str, ...], str]] | None = None  # blocks with conditions
        self.inflight: dict[str, tuple[str, float]] = {}
        self.inflight_lock = threading.Lock()

    def _edges(self) -> dict[str, set[str]]:
        deps: dict[str, set[str]] = {a: set() for a in self.changes}
        for a, ch in self.changes.items():
            if ch.action != "delete":
                for d in ch.dependencies:
                    dc = self.changes.get(d)
                    if dc is not None and dc.action != "delete":
                        deps[a].add(d)
            # Whoever depended on an object must let go of it before it is deleted.
            if ch.action in ("delete", "replace") and not ch.create_before_destroy:
                for b, other in self.changes.items():
                    if (
                        b != a
                        and a in other.prior_dependencies
                        and other.action in ("delete", "update", "replace")
                    ):
                        if ch.action == "delete":
                            deps[a].add(b)
        return deps

    def run(self) -> None:
        if not self.changes:
            return
        edges = self._edges()
        graph = build_graph(self.changes, edges)
        cycle = graph.find_cycle()
        if cycle:
            self.result.errors.append(("", MlrtError("Cycle in the apply graph: " + " -> ".join(cycle))))
            return
        waiting = {a: set(graph.dependencies(a)) for a in self.changes}
        failed: set[str] = set()
        ticker_stop = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(ticker_stop,), daemon=True)
        ticker.start()
        pool = ThreadPoolExecutor(max_workers=max(1, self.opts.parallelism))
        running: dict[Future[bool], str] = {}
        try:
            ready = sorted(a for a, w in waiting.items() if not w)
            for a in ready:
                del waiting[a]
            while ready or running:
                while (
                    ready
                    and len(running) < self.opts.parallelism
                    and not self.opts.stop.stop_requested.is_set()
                ):
                    a = ready.pop(0)
                    running[pool.submit(self._run_one, self.changes[a])] = a
                if self.opts.stop.stop_requested.is_set():
                    ready.clear()
                if not running:
                    break
                finished, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                if self.opts.stop.abandon.is_set():
                    break
                for f in finished:
                    a = running.pop(f)
                    ok = f.result() if f.exception() is None else False
                    if not ok:
                        failed.add(a)
                    for b in list(waiting):
                        if a in waiting[b]:
                            if not ok:
                                continue
                            waiting[b].discard(a)
                            if not waiting[b]:
                                del waiting[b]
                                ready.append(b)
                    if not ok:
                        self._skip_dependents(a, waiting, graph)
                ready.sort()
        finally:
            ticker_stop.set()
            pool.shutdown(wait=not self.opts.stop.abandon.is_set(), cancel_futures=True)
        if self.opts.stop.stop_requested.is_set():
            self.result.interrupted = True
            for a in sorted(waiting):
                self.result.skipped.append(a)

    def _skip_dependents(self, failed: str, waiting: dict[str, set[str]], graph: Any) -> None:
        for b in sorted(graph.descendants([failed]) - {failed}):
            if b in waiting:
                del waiting[b]
                self.result.skipped.append(b)
                self.opts.on_event(
                    ApplyEvent(
                        "skipped", b, self.changes[b].action, message=f"skipped because {failed} failed"
                    )
                )

    def _tick(self, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            now = time.monotonic()
            with self.inflight_lock:
                items = list(self.inflight.items())
            for addr, (action, started) in items:
                elapsed = now - started
                if elapsed >= STILL_EVERY and int(elapsed) % int(STILL_EVERY) == 0:
                    self.opts.on_event(ApplyEvent("still", addr, action, elapsed))

    # -- one resource ------------------------------------------------------------------------
    def _run_one(self, ch: ResourceChange) -> bool:
        started = time.monotonic()
        with self.inflight_lock:
            self.inflight[ch.address] = (ch.action, started)
        self.opts.on_event(ApplyEvent("start", ch.address, ch.action, id=ch.id))
        try:
            self._execute(ch)
        except MlrtError as exc:
            self.result.errors.append((ch.address, exc))
            self.opts.on_event(
                ApplyEvent("error", ch.address, ch.action, time.monotonic() - started, exc.summary)
            )
            return False
        except Exception as exc:
            err = MlrtError(
                f"{type(exc).__name__}: {exc}",
                "This is a bug in the provider; the traceback is shown with MLRT_DEBUG=1.",
            )
            err.__cause__ = exc
            self.result.errors.append((ch.address, err))
            self.opts.on_event(
                ApplyEvent("error", ch.address, ch.action, time.monotonic() - started, err.summary)
            )
            return False
        finally:
            with self.inflight_lock:
                self.inflight.pop(ch.address, None)
        self.result.done[ch.address] = ch.action
        r = self.doc.get(ch.address)
        self.opts.on_event(
            ApplyEvent(
                "done",
                ch.address,
                ch.action,
                time.monotonic() - started,
                id=r.id if r is not None else ch.id,
            )
        )
        return True

    def _ctx(self, ch: ResourceChange) -> ProviderContext:
        base = self.project.context()
        related: dict[str, Related] = {}
        # No lock: entries are replaced whole, never edited in place, so a lookup sees either the
        # old or the new entry (taking doc_lock here would wait behind every state write).
        for d in ch.dependencies if ch.action != "delete" else ch.prior_dependencies:
            r = self.doc.get(d)
            if r is not None:
                attrs = dict(r.attributes)
                related[d] = Related(d, r.type, object_name(d, attrs), attrs, dict(r.private))
        own = self.doc.get(ch.address)
        addr = ch.address
        sink = self.opts.on_event
        return ProviderContext(
            base.project_dir,
            base.data_dir,
            addr,
            log=lambda line: sink(ApplyEvent("log", addr, message=line)),
            progress=lambda status: sink(ApplyEvent("progress", addr, message=status)),
            cancel=_cancel_event(self.opts.stop),
            related=related,
            private=dict(own.private) if own is not None else {},
            # What a delete is about: the recorded object (create/update swap in their own).
            sensitive_paths=tuple(tuple(p) for p in own.sensitive_attributes) if own is not None else (),
            timeouts=dict(ch.timeouts),
        )

    def _execute(self, ch: ResourceChange) -> None:
        handler = self._handler(ch)
        ctx = self._ctx(ch)
        if ch.action == "delete":
            self._delete(handler, ctx, ch, ch.id or "", ch.before or {}, ch.address)
            return
        self._check_conditions(ch, "precondition")
        desired, sensitive = self._desired(ch)
        wanted = dataclasses.replace(ctx, sensitive_paths=tuple(tuple(p) for p in sensitive))
        if ch.action == "update":
            prior = self.doc.get(ch.address)
            if prior is None or prior.id is None:
                raise PermanentError(
                    f"{ch.address} is not in the state any more",
                    "The state changed since the plan was made. Run `mlrt plan` again.",
                )
            prior_id, prior_attrs = prior.id, dict(prior.attributes)
            res = self._retry(
                "update", ch, wanted, lambda: handler.update(wanted, prior_id, prior_attrs, desired)
            )
            self._record(
                ch,
                prior_id,
                {**desired, **res.attributes},
                sensitive,
                status="ready",
                created_at=prior.created_at,
                private=res.private if res.private is not None else prior.private,
            )
            self._check_conditions(ch, "postcondition")
            return
        if ch.action == "replace" and not ch.create_before_destroy:
            self._delete(handler, ctx, ch, ch.id or "", ch.before or {}, ch.address)
        deposed: str | None = None
        if ch.action == "replace" and ch.create_before_destroy:
            deposed = self._depose(ch)
        self._create(handler, wanted, ch, desired, sensitive)
        if deposed is not None:
            self._delete(handler, ctx, ch, ch.id or "", ch.before or {}, deposed)
        self._check_conditions(ch, "postcondition")

    def _check_conditions(self, ch: ResourceChange, kind: str) -> None:
        """Preconditions again before the change (the plan may not have known them), and
        postconditions after it with `self` as the provider returned it. A failed postcondition
        fails the change, so nothing that depends on it is applied; the object stays in state,
        as Terraform keeps it."""
        if self._conditioned is None:
            self._conditioned = blocks_with_conditions(self.project.config)
        if not self._conditioned:
            return
        path = tuple(_MODULE_NAME.findall(ch.module_address))
        if (path, f"{ch.type}.{ch.name}") not in self._conditioned:
            return
        inst = self._reevaluate(ch.address)
        failed = failed_conditions([inst], only=kind)
        if failed.has_errors:
            d = failed.errors()[0]
            where = f"\n\n(on {d.range.filename} line {d.range.start.line})" if d.range else ""
            raise PermanentError(d.summary, d.detail + where)

    def _handler(self, ch: ResourceChange) -> ResourceHandler:
        provider = self.project.provider(ch.provider)
        handler = provider.handler(ch.type)
        if handler is None:
            raise PermanentError(f'Provider "{ch.provider}" does not support {ch.type}')
        return handler

    def _known_desired(self, ch: ResourceChange) -> tuple[dict[str, Any] | None, list[list[Any]]]:
        # The type's computed attributes and the handler's own (a provider's `drift`): the
        # planned `after` of an update carries the prior values of both, which are no
        # arguments, and a result that leaves one out must not keep the stale prior value.
        computed = set(computed_attributes(ch.type)) | set(self._handler(ch).computed)
        after = ch.after or {}
        desired = {k: v for k, v in after.items() if k not in computed and k != "id"}
        return (desired if is_known(desired) else None), [list(p) for p in ch.sensitive_paths]

    def _desired(self, ch: ResourceChange) -> tuple[dict[str, Any], list[list[Any]]]:
        known, paths = self._known_desired(ch)
        if known is not None:
            return known, paths
        # Some arguments were known only after apply: evaluate this resource again now that
        # everything it depends on exists.
        inst = self._reevaluate(ch.address)
        models, diags = validate_instances([inst], self.project.provider_configs)
        if diags.has_errors:
            raise PermanentError(diags[0].summary, diags[0].detail)
        desired = desired_attributes(inst, models[inst.address])
        if not is_known(desired):
            missing = sorted(k for k, v in desired.items() if not is_known(v))
            raise PermanentError(
                f"Arguments of {ch.address} are still unknown after their dependencies were "
                f"applied: {', '.join(missing)}"
            )
        _, marked = unmark(inst.attributes)
        return desired, [list(p) for p in marked]

    def _reevaluate(self, address: str) -> ResourceInstance:
        def resolver(inst: ResourceInstance) -> dict[str, Any]:
            with self.committer.doc_lock:
                r = self.doc.get(inst.address)
            if r is not None and r.status == "ready":
                return {**r.attributes, "id": r.id}
            ch = self.changes.get(inst.address)
            if ch is not None and ch.after is not None:
                return dict(ch.after)
            for c in self.plan.changes:
                if c.address == inst.address and c.after is not None:
                    return dict(c.after)
            return dict(inst.attributes)

        with applying():  # timestamp(), uuid() and bcrypt() get their values now
            ev, diags = self.project.evaluate(resolver=resolver, targets=[address])
        if diags.has_errors:
            raise PermanentError(diags.errors()[0].summary, diags.errors()[0].detail)
        for inst in ev.instances:
            if inst.address == address:
                return inst
        raise PermanentError(
            f"{address} is no longer in the configuration",
            "The configuration changed during apply; plan again.",
        )

    def _create(
        self,
        handler: ResourceHandler,
        ctx: ProviderContext,
        ch: ResourceChange,
        desired: dict[str, Any],
        sensitive: list[list[Any]],
    ) -> None:
        # Leave a trace before anything exists, so a crash mid-create is never lost.
        planned_id = handler.planned_id(ctx, desired)
        created_at = _now()
        self._record(
            ch,
            planned_id,
            desired,
            sensitive,
            status="creating",
            created_at=created_at,
            durable=False,
            wait=True,
        )
        try:
            ctx.private = {}  # a new object: nothing of the old one's bookkeeping applies
            res = self._retry("create", ch, ctx, lambda: handler.create(ctx, desired))
        except MlrtError:
            with self.committer.mutate():
                self.doc.remove(ch.address)
            self.committer.commit_soon()
            raise
        self._record(
            ch,
            res.id,
            {**desired, **res.attributes},
            sensitive,
            status="ready",
            created_at=created_at,
            private=res.private,
        )

    def _delete(
        self,
        handler: ResourceHandler,
        ctx: ProviderContext,
        ch: ResourceChange,
        id: str,
        prior: dict[str, Any],
        address: str,
    ) -> None:
        self._retry("delete", ch, ctx, lambda: handler.delete(ctx, id, dict(prior)))
        with self.committer.mutate():
            self.doc.remove(address)
        # Written moments later by the flusher: if mlrt dies first, the next refresh finds the
        # object gone and drops the entry.
        self.committer.commit_soon()

    def _depose(self, ch: ResourceChange) -> str:
        """create_before_destroy: keep the old object tracked under a deposed address meanwhile."""
        old = self.doc.get(ch.address)
        deposed = f"{ch.address}#deposed"
        with self.committer.mutate() as m:
            if old is not None:
                self.doc.move(ch.address, deposed)
        self.committer.commit(m.seq)
        return deposed

    def _record(
        self,
        ch: ResourceChange,
        id: str | None,
        attributes: dict[str, Any],
        sensitive: list[list[Any]],
        status: Status,
        created_at: str | None,
        durable: bool = True,
        wait: bool = False,
        private: dict[str, Any] | None = None,
    ) -> None:
        """Put the entry in the state; `wait` returns only once it is on disk (needed before a
        create starts), else the flusher writes it moments later."""
        with self.committer.mutate() as m:
            self.doc.set(self._entry(ch, id, attributes, sensitive, status, created_at, private or {}))
        if wait:
            self.committer.commit(m.seq, durable=durable)
        else:
            self.committer.commit_soon()

    @staticmethod
    def _entry(
        ch: ResourceChange,
        id: str | None,
        attributes: dict[str, Any],
        sensitive: list[list[Any]],
        status: Status,
        created_at: str | None,
        private: dict[str, Any],
    ) -> ResourceState:
        """The state entry for `ch` as it now is."""
        return ResourceState(
            address=ch.address,
            type=ch.type,
            name=ch.name,
            module=ch.module_address,
            index_key=ch.index_key,
            provider=ch.provider,
            id=id,
            attributes=attributes,
            sensitive_attributes=sensitive,
            dependencies=list(ch.dependencies),
            created_at=created_at or _now(),
            updated_at=_now(),
            status=status,
            comment=ch.comment or "",
            private=private,
        )

    def _retry(self, op: str, ch: ResourceChange, ctx: ProviderContext, call: Callable[[], T]) -> T:
        """Call, retrying RetryableError with exponential backoff and jitter until the deadline
        of the resource's `timeouts { }` for this operation (default 30 minutes), which is also
        handed to the handler as `ctx.deadline`. The engine is the only place that retries."""
        timeout = float(ch.timeouts.get(op) or DEFAULT_TIMEOUTS[op])
        deadline = time.monotonic() + timeout
        ctx.deadline = deadline
        attempt = 0
        while True:
            try:
                return call()
            except RetryableError as exc:
                attempt += 1
                delay = min(max(exc.delay, 0.05) * (2 ** (attempt - 1)), 30.0)
                delay *= 0.5 + random.random()
                if time.monotonic() + delay > deadline:
                    raise DeadlineExceeded(
                        f"{exc.summary} (gave up after {attempt} attempts within {timeout:.0f}s)", exc.detail
                    ) from exc
                self.opts.on_event(
                    ApplyEvent(
                        "retry", ch.address, ch.action, message=f"{exc.summary}; retrying in {delay:.1f}s"
                    )
                )
                if self.opts.stop.abandon.wait(delay):
                    raise PermanentError("interrupted while waiting to retry") from exc


_MODULE_NAME = re.compile(r"module\.([A-Za-z0-9_-]+)")


def _cancel_event(stop: StopSignal) -> threading.Event:
    """What handlers see as `ctx.cancel`: set by the first interrupt, as Terraform asks its
    providers to stop then. A training that runs for hours must not be waited for; each
    handler ends what it started and raises (create fails: nothing left behind)."""
    return stop.stop_requested


def _update_outputs(
    project: Project, doc: StateDocument, committer: StateCommitter, result: ApplyResult
) -> None:
    def resolver(inst: ResourceInstance) -> dict[str, Any]:
        r = doc.get(inst.address)
        if r is not None:
            return {**r.attributes, "id": r.id}
        return {**inst.attributes, **{c: UNKNOWN for c in computed_attributes(inst.type)}}

    with applying():
        ev, diags = project.evaluate(resolver=resolver)
    result.warnings.extend(failed_checks(ev.checks))
    outputs: dict[str, Any] = {}
    for name, ov in ev.outputs.items():
        plain, paths = unmark(ov.value)
        if not is_known(plain):
            continue
        outputs[name] = {"value": plain, "sensitive": bool(ov.sensitive or paths)}
    with committer.mutate():
        doc.set_outputs(outputs)
