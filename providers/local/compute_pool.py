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
whole machine budget) fails at once. `auto_suspend_secs` is recorded only: nothing runs between
mlrt invocations to suspend an idle pool; `suspend()` / `resume()` are here for workloads.
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
    pool_inputs,
)
from providers.kit.records import atomic_write_json, read_json
from providers.kit.waiting import deadline_binds, exceeded, seconds_left

from .common import LocalHandler
from .ledger import Ledger, Node, fits, total


def _fmt(c: Capacity) -> str:
    def n(x: float, unit: str) -> str:
        return f"{x:g} {unit}" + ("" if x == 1 else "s")

    return f"{n(c.cpus, 'vCPU')}, {c.memory_gib:g} GiB, {n(c.gpus, 'GPU')}"


def _plural(n: int) -> str:
    return f"{n} node" if n == 1 else f"{n} nodes"


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
        return public(data["attributes"])

    def _save(self, ctx: ProviderContext, name: str, attrs: Attributes) -> None:
        atomic_write_json(
            self.record_path(ctx, name), {"type": "compute_pool", "id": name, "attributes": attrs}
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
            suspended = prior.get("state") == "SUSPENDED"
        else:
            suspended = bool(attrs["initially_suspended"])
        count = 0 if suspended else int(attrs["active_nodes"])
        return self._computed(attrs["name"], self._nodes(attrs["name"], template, count), suspended, capped)

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        result = drop_creation_only(super().diff(ctx, prior, desired))
        for key in result.requires_replace:
            result.reasons.setdefault(key, f"a local pool's {key} cannot change in place")
        return result

    def planned_id(self, ctx: ProviderContext, desired: Attributes) -> str | None:
        return name_as_id(ctx, desired)

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        return ReadResult(self._load(ctx, id))

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        """One scan of the pool records' folder; only the listed records are parsed."""
        return read_by_scan(self.read, requests, lambda req: self.record_path(req.ctx, req.id))

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        attrs = self._inputs(ctx, desired)
        name = attrs["name"]
        template, capped, family = self._node_template(attrs["instance_family"])
        for line in cap_lines(family, capped):
            ctx.log(line)
        suspended = bool(attrs["initially_suspended"])
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
        suspended = current.get("state") == "SUSPENDED"
        nodes: list[Node] = list(current.get("nodes") or [])
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
                on_fail=f"the pool was rolled back to its previous size of {_plural(len(nodes))}",
            )
        result = {**attrs, **self._computed(name, nodes, suspended, capped)}
        with self.ledger(ctx).locked() as book:
            book.set_nodes(name, nodes)
            book.save()
            self._save(ctx, name, result)
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

    # ----- suspend / resume (for workloads) ---------------------------------------------
    def suspend(self, ctx: ProviderContext, name: str) -> Attributes:
        """Release every node and mark the pool SUSPENDED (what ALTER COMPUTE POOL SUSPEND does)."""
        current = self._require(ctx, name)
        with self.ledger(ctx).locked() as book:
            book.set_nodes(name, [])
            book.save()
            current.update(nodes=[], state="SUSPENDED")
            self._save(ctx, name, current)
        return current

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
                            f'compute_pool "{name}" cannot have {_plural(target)} on this machine',
                            f"{_plural(target)} of {_fmt(want_each)} need {_fmt(need)}, more than the whole "
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
                        f'Scaling compute_pool "{name}" from {_plural(len(start))} to {target} did not '
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
