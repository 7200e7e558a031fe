"""`compute_pool` on the local provider: a budget of this machine's cpus, memory and GPUs.

A pool is a record `<data_dir>/pools/<name>.json` plus its nodes' reservations in the
machine-wide ledger (see `ledger.py`). A node is a slice of this machine sized by the instance
family and capped by the machine (the `capped` attribute says which resources were lowered).

Computed attributes: `nodes` ([{name, cpus, gpus, memory}], one per active node), `state`
(ACTIVE with nodes, SUSPENDED when suspended, IDLE when running with zero nodes), `address`
(`local://<name>`), `capped` ({resource: {family, machine}}; empty when nothing was lowered).

Scaling (create, or an `active_nodes` update) reserves nodes one at a time. When the budget held
by other pools leaves no room, it waits for capacity up to `scale_timeout_secs` (or until the
operation's deadline from `timeouts { }`, then a DeadlineExceeded); if the target
size is still not reached, the nodes added by this operation are released, the pool stays at its
previous size, and the operation fails saying so. A size that could never fit (more than the
whole machine budget) fails at once.

Suspend and resume (see `providers.kit.pools` for the shared rules): `suspended = true` on an
existing pool releases its nodes from the ledger (the budget is free for other pools) and stops
the services running on it (`pool_work.py`: they read as SUSPENDED, not gone);
`suspended = false` reserves `active_nodes` again and starts those services again, ready
before the apply goes on. `initially_suspended` only decides how a new pool starts.

Auto-resume: a training or service that starts on a suspended pool resumes it first when
`auto_resume = true` (a log line says so; the pool then stays running, so a `suspended = true`
in the configuration plans a suspend again); with `auto_resume = false` the plan already
refuses (`mlrt_iac.model.cross`), and the apply refuses too if the pool was suspended since.
A training whose `scaling.num_nodes` is above the pool's running nodes scales the pool up for
the run (within `max_nodes`, which the plan checks) and back to its size afterwards.

Auto-suspend: nothing of mlrt runs between commands on this machine, so `auto_suspend_secs` is
applied at the next command that reads the pool (plan, apply, refresh): a running pool with no
live service on it whose last use (create, resume, scale, a training start or end) is older
than `auto_suspend_secs` is suspended then, and reads as `state = SUSPENDED`.

`state` is ACTIVE (nodes reserved), SUSPENDED, or IDLE (running with no nodes reserved).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
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
from providers.kit.batch import read_by_scan
from providers.kit.handler import public
from providers.kit.machine import Capacity, FamilyFacts, node_size
from providers.kit.names import name_as_id
from providers.kit.pools import (
    POOL_COMPUTED,
    cap_lines,
    drop_creation_only,
    idle_expired,
    needs_scale_up,
    nodes_text,
    observed_switch,
    pool_inputs,
    resume_or_refuse,
    suspended_at_create,
    wants_suspended,
)
from providers.kit.records import atomic_write_json, read_json
from providers.kit.waiting import deadline_binds, exceeded, seconds_left

from .common import LocalHandler
from .ledger import Ledger, Node, fits, total
from .pool_work import services_on, stopped_by_pool


def _fmt(c: Capacity) -> str:
    def n(x: float, unit: str) -> str:
        return f"{x:g} {unit}" + ("" if x == 1 else "s")

    return f"{n(c.cpus, 'vCPU')}, {c.memory_gib:g} GiB, {n(c.gpus, 'GPU')}"


class ComputePoolHandler(LocalHandler):
    """Create, scale, suspend and delete local compute pools."""

    type_name: ClassVar[str] = "compute_pool"
    computed: ClassVar[tuple[str, ...]] = POOL_COMPUTED
    force_new: ClassVar[tuple[str, ...]] = ("name", "instance_family")

    # ----- paths and records -------------------------------------------------------------
    def ledger(self, ctx: ProviderContext) -> Ledger:
        return Ledger(ctx.data_dir / "pools", self.lp.lock_timeout)

    def record_path(self, ctx: ProviderContext, name: str) -> Path:
        return ctx.data_dir / "pools" / f"{name}.json"

    def _load(self, ctx: ProviderContext, name: str) -> Attributes | None:
        data = read_json(self.record_path(ctx, name))
        if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
            return None
        attrs = public(data["attributes"])
        if "suspended" in attrs:
            attrs["suspended"] = observed_switch(attrs["suspended"], attrs.get("state") == "SUSPENDED")
        return attrs

    def _last_active(self, ctx: ProviderContext, name: str) -> float | None:
        data = read_json(self.record_path(ctx, name))
        value = data.get("last_active") if isinstance(data, dict) else None
        return float(value) if isinstance(value, (int, float)) else None

    def _save(self, ctx: ProviderContext, name: str, attrs: Attributes, touch: bool = True) -> None:
        """Write the record; `touch` marks the pool as used now (the auto-suspend clock)."""
        last = time.time() if touch else self._last_active(ctx, name)
        atomic_write_json(
            self.record_path(ctx, name),
            {"type": "compute_pool", "id": name, "attributes": attrs, "last_active": last},
        )

    # ----- inputs ------------------------------------------------------------------------
    def _inputs(self, ctx: ProviderContext, desired: Attributes) -> Attributes:
        return pool_inputs(ctx, desired)

    def _node_template(self, family_name: str) -> tuple[Node, dict[str, Any], FamilyFacts]:
        family = self.lp.family(family_name)
        node, capped = node_size(family, self.lp.machine())
        return node, capped, family

    @staticmethod
    def _nodes(name: str, template: Node, count: int, start: int = 0) -> list[Node]:
        return [{"name": f"{name}-node-{i}", **template} for i in range(start, start + count)]

    @staticmethod
    def _state(suspended: bool, nodes: list[Node]) -> str:
        if suspended:
            return "SUSPENDED"
        return "ACTIVE" if nodes else "IDLE"

    def _computed(self, name: str, nodes: list[Node], suspended: bool, capped: dict[str, Any]) -> Attributes:
        return {
            "nodes": nodes,
            "state": self._state(suspended, nodes),
            "address": f"local://{name}",
            "capped": capped,
        }

    # ----- protocol ----------------------------------------------------------------------
    def validate(self, desired: Attributes) -> Diagnostics:
        diags = Diagnostics()
        fam = desired.get("instance_family")
        if isinstance(fam, str):
            try:
                self.lp.family(fam)
            except PermanentError as exc:
                diags.add_error(exc.summary, exc.detail)
        return diags

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        name = desired.get("name") or (prior or {}).get("name")
        needed = (
            desired.get("instance_family"),
            desired.get("active_nodes"),
            desired.get("min_nodes"),
            name,
        )
        if not all(is_known(v) for v in needed):
            return {}
        try:
            attrs = self._inputs(ctx, desired)
            template, capped, _ = self._node_template(attrs["instance_family"])
        except PermanentError:
            return {}
        if prior is not None:
            want = wants_suspended(attrs)
            suspended = prior.get("state") == "SUSPENDED" if want is None else want
        else:
            suspended = suspended_at_create(attrs)
        count = 0 if suspended else int(attrs["active_nodes"])
        return self._computed(attrs["name"], self._nodes(attrs["name"], template, count), suspended, capped)

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        result = drop_creation_only(super().diff(ctx, prior, desired), prior, desired)
        for key in result.requires_replace:
            result.reasons.setdefault(key, f"a local pool's {key} cannot change in place")
        return result

    def planned_id(self, ctx: ProviderContext, desired: Attributes) -> str | None:
        return name_as_id(ctx, desired)

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        """The pool as it is; a running pool idle past `auto_suspend_secs` is suspended first
        (the module docstring says why this happens at the next command)."""
        current = self._load(ctx, id)
        if current is None or current.get("state") == "SUSPENDED":
            return ReadResult(current)
        if idle_expired(current.get("auto_suspend_secs"), self._last_active(ctx, id), time.time()):
            if not self._busy(ctx, id):
                ctx.log(f"idle for more than auto_suspend_secs = {current['auto_suspend_secs']}s: suspended")
                current = self.suspend(ctx, id)
        return ReadResult(current)

    def _busy(self, ctx: ProviderContext, name: str) -> bool:
        """Whether a service with live processes runs on the pool."""
        for _, d, _ in services_on(ctx.data_dir, name):
            procs = read_json(d / "processes.json")
            if isinstance(procs, dict) and procs.get("pids") and not procs.get("pool_suspended"):
                return True
        return False

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        """One scan of the pool records' folder; only the listed records are parsed."""
        return read_by_scan(self.read, requests, lambda req: self.record_path(req.ctx, req.id))

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        attrs = self._inputs(ctx, desired)
        name = attrs["name"]
        template, capped, family = self._node_template(attrs["instance_family"])
        for line in cap_lines(family, capped):
            ctx.log(line)
        suspended = suspended_at_create(attrs)
        target = 0 if suspended else int(attrs["active_nodes"])
        ledger = self.ledger(ctx)
        # Any leftover record of this name (a crash between create and the state write) is adopted.
        nodes = self._scale(
            ctx,
            ledger,
            name,
            [],
            template,
            target,
            float(attrs["scale_timeout_secs"]),
            on_fail="nothing was created",
        )
        result = {**attrs, **self._computed(name, nodes, suspended, capped)}
        try:
            with ledger.locked() as book:
                book.set_nodes(name, nodes)
                book.save()
                self._save(ctx, name, result)
        except BaseException:
            self._release_quietly(ctx, name)
            raise
        return CreateResult(name, result)

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        attrs = self._inputs(ctx, desired)
        name = id
        current = self._load(ctx, name)
        if current is None:
            raise PermanentError(
                f'compute_pool "{name}" no longer exists',
                f"Its record {self.record_path(ctx, name)} is gone. Run `mlrt plan` "
                "to see the drift; `mlrt apply` will create it again.",
            )
        if attrs["name"] != name or attrs["instance_family"] != current.get("instance_family"):
            raise PermanentError(
                f'compute_pool "{name}" cannot change name or instance_family in place',
                "These arguments force a replacement; the plan should have replaced it.",
            )
        template, capped, family = self._node_template(attrs["instance_family"])
        was_suspended = current.get("state") == "SUSPENDED"
        want = wants_suspended(attrs)
        if want is True and not was_suspended:
            ctx.progress("stopping the services on the pool")
            self._stop_services(ctx, name)
        suspended = was_suspended if want is None else want
        nodes: list[Node] = [] if suspended else list(current.get("nodes") or [])
        if not suspended and int(attrs["active_nodes"]) != len(nodes):
            for line in cap_lines(family, capped):
                ctx.log(line)
            nodes = self._scale(
                ctx,
                self.ledger(ctx),
                name,
                nodes,
                template,
                int(attrs["active_nodes"]),
                float(attrs["scale_timeout_secs"]),
                on_fail=(
                    "the pool stays suspended"
                    if was_suspended
                    else f"the pool was rolled back to its previous size of {nodes_text(len(nodes))}"
                ),
            )
        result = {**attrs, **self._computed(name, nodes, suspended, capped)}
        with self.ledger(ctx).locked() as book:
            book.set_nodes(name, nodes)
            book.save()
            self._save(ctx, name, result)
        if was_suspended and not suspended:
            self._start_services(ctx, name)
        return UpdateResult(result)

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        with self.ledger(ctx).locked() as book:
            book.set_nodes(id, [])
            book.save()
            try:
                self.record_path(ctx, id).unlink()
            except FileNotFoundError:
                pass

    def import_(self, ctx: ProviderContext, id: str) -> ReadResult:
        return self.read(ctx, id, {})

    # ----- suspend / resume -------------------------------------------------------------
    def suspend(self, ctx: ProviderContext, name: str) -> Attributes:
        """Stop the pool's services, release every node and mark the pool SUSPENDED (what ALTER
        COMPUTE POOL SUSPEND does)."""
        current = self._require(ctx, name)
        self._stop_services(ctx, name)
        with self.ledger(ctx).locked() as book:
            book.set_nodes(name, [])
            book.save()
            current.update(nodes=[], state="SUSPENDED")
            self._save(ctx, name, current)
        return current

    def claim(self, ctx: ProviderContext, name: str | None, num_nodes: int | None = None) -> int | None:
        """What a training or service does before it starts work on pool `name`: resume it when
        suspended (auto_resume = true; otherwise a PermanentError naming the workload), and for a
        training scale it up to `num_nodes` running nodes (within max_nodes). Returns the node
        count to give back with `release` when it scaled up, else None. A pool this provider
        has no record of (another provider's) is left alone."""
        if name is None:
            return None
        current = self._load(ctx, name)
        if current is None:
            return None
        if current.get("state") == "SUSPENDED":
            resume_or_refuse(ctx, name, bool(current.get("auto_resume", True)))
            current = self.resume(ctx, name)
        running = len(current.get("nodes") or [])
        if not needs_scale_up(ctx, name, running, num_nodes, int(current.get("max_nodes") or running)):
            self._save(ctx, name, current)
            return None
        assert num_nodes is not None
        self._resize(ctx, name, current, num_nodes)
        return running

    def release(self, ctx: ProviderContext, name: str | None, nodes: int | None) -> None:
        """After a run: back to `nodes` running nodes when `claim` scaled up; marks the pool used."""
        if name is None:
            return
        current = self._load(ctx, name)
        if current is None:
            return
        if nodes is not None and current.get("state") != "SUSPENDED":
            self._resize(ctx, name, current, nodes)
        else:
            self._save(ctx, name, current)

    def _resize(self, ctx: ProviderContext, name: str, current: Attributes, target: int) -> None:
        template, capped, _ = self._node_template(current["instance_family"])
        nodes = self._scale(
            ctx,
            self.ledger(ctx),
            name,
            list(current.get("nodes") or []),
            template,
            target,
            float(current["scale_timeout_secs"]),
            on_fail=f"the pool stays at {nodes_text(len(current.get('nodes') or []))}",
        )
        with self.ledger(ctx).locked() as book:
            book.set_nodes(name, nodes)
            book.save()
            current.update(self._computed(name, nodes, False, capped))
            self._save(ctx, name, current)

    def _stop_services(self, ctx: ProviderContext, name: str) -> None:
        from .service import ServiceHandler

        svc = self.lp.handler("service")
        assert isinstance(svc, ServiceHandler)
        for service, _, _ in services_on(ctx.data_dir, name):
            svc.stop_for_pool(ctx, service)
            ctx.log(f'stopped service "{service}" (its pool is suspended)')

    def _start_services(self, ctx: ProviderContext, name: str) -> None:
        from .service import ServiceHandler

        svc = self.lp.handler("service")
        assert isinstance(svc, ServiceHandler)
        for service, d, attrs in services_on(ctx.data_dir, name):
            if stopped_by_pool(d):
                ctx.progress(f'starting service "{service}" again')
                svc.start_for_pool(ctx, service, attrs)
                ctx.log(f'started service "{service}" again (its pool resumed)')

    def resume(self, ctx: ProviderContext, name: str) -> Attributes:
        """Bring a suspended pool back to `active_nodes` nodes (waits like a scale; fails cleanly)."""
        current = self._require(ctx, name)
        if current.get("state") != "SUSPENDED":
            return current
        template, capped, _ = self._node_template(current["instance_family"])
        nodes = self._scale(
            ctx,
            self.ledger(ctx),
            name,
            [],
            template,
            int(current["active_nodes"]),
            float(current["scale_timeout_secs"]),
            on_fail="the pool stays suspended",
        )
        with self.ledger(ctx).locked() as book:
            book.set_nodes(name, nodes)
            book.save()
            current.update(self._computed(name, nodes, False, capped))
            self._save(ctx, name, current)
        self._start_services(ctx, name)
        return current

    def _require(self, ctx: ProviderContext, name: str) -> Attributes:
        current = self._load(ctx, name)
        if current is None:
            raise PermanentError(
                f'compute_pool "{name}" does not exist', "Create it with `mlrt apply` first."
            )
        return current

    # ----- scaling -----------------------------------------------------------------------
    def _scale(
        self,
        ctx: ProviderContext,
        ledger: Ledger,
        name: str,
        start: list[Node],
        template: Node,
        target: int,
        timeout: float,
        on_fail: str,
    ) -> list[Node]:
        """Reserve or release nodes until the pool has `target`; on failure restore `start`."""
        if target <= len(start):
            return start[:target]
        want_each = total([template])
        binds = deadline_binds(ctx, timeout)
        deadline = time.monotonic() + seconds_left(ctx, timeout)
        nodes = list(start)
        delay = 0.02
        try:
            while True:
                with ledger.locked() as book:
                    budget = self.lp.budget()
                    others = book.used_by_others(name)
                    need = total(self._nodes(name, template, target))
                    if not fits(Capacity(0, 0, 0), need, budget):
                        raise PermanentError(
                            f'compute_pool "{name}" cannot have {nodes_text(target)} on this machine',
                            f"{nodes_text(target)} of {_fmt(want_each)} need {_fmt(need)}, more than the whole "
                            f"local budget of {_fmt(budget)}; {on_fail}. Lower active_nodes, or raise "
                            'max_cpus / max_memory_gib / overcommit in the `provider "local"` block.',
                        )
                    added = False
                    while len(nodes) < target and fits(others, total(nodes) + want_each, budget):
                        nodes.extend(self._nodes(name, template, 1, start=len(nodes)))
                        added = True
                    if added:
                        book.set_nodes(name, nodes)
                        book.save()
                    holders = book.holders(exclude=name)
                if len(nodes) >= target:
                    return nodes
                ctx.progress(f"{len(nodes)}/{target} nodes, waiting for capacity")
                if ctx.cancel.is_set():
                    raise PermanentError(
                        f'Scaling compute_pool "{name}" was cancelled',
                        f"Stopped at {len(nodes)} of {target} nodes; {on_fail}.",
                    )
                if time.monotonic() >= deadline:
                    users = ", ".join(f"{n} ({_fmt(c)})" for n, c in holders.items()) or "none"
                    if binds:
                        raise exceeded(
                            ctx,
                            f'capacity for compute_pool "{name}"',
                            f"Only {len(nodes)} of {target} nodes could be reserved (the budget is "
                            f"held by: {users}); {on_fail}.",
                        )
                    raise PermanentError(
                        f'Scaling compute_pool "{name}" from {nodes_text(len(start))} to {target} did not '
                        f"complete within {timeout:g}s",
                        f"Only {len(nodes)} of {target} nodes could be reserved: the local budget of "
                        f"{_fmt(budget)} is held by other pools: {users}; {on_fail}. Free capacity "
                        '(shrink or suspend another pool), raise the budget in the `provider "local"` '
                        "block, or raise scale_timeout_secs.",
                    )
                time.sleep(min(delay, max(deadline - time.monotonic(), 0.0)))
                delay = min(delay * 1.5, 0.25)
        except BaseException:
            try:
                self._restore(ledger, name, start)
            except Exception:  # keep the original error; a dead writer's entry is reconciled later
                pass
            raise

    @staticmethod
    def _restore(ledger: Ledger, name: str, nodes: list[Node]) -> None:
        """Put the pool's reservation back to `nodes` (the rollback of a failed scale)."""
        with ledger.locked() as book:
            book.set_nodes(name, nodes)
            book.save()

    def _release_quietly(self, ctx: ProviderContext, name: str) -> None:
        try:
            self._restore(self.ledger(ctx), name, [])
            self.record_path(ctx, name).unlink(missing_ok=True)
        except Exception:
            pass


__all__ = ["ComputePoolHandler"]
