"""`compute_pool` on the ray provider: a Ray cluster, attached or managed on this machine.

Attached (the provider block sets `address`): the pool *is* that cluster. `create` checks that
it answers and runs our Ray version; `nodes` are its alive nodes; `active_nodes` is recorded
(an attached cluster is sized by its own autoscaler, and the log says so).

Managed (no `address`): `create` starts a head (`ray start --head`, node 0) sized by the instance
family capped by this machine (the `capped` attribute and a log line say so, as in the local
provider), then worker nodes up to `active_nodes`, each one more `ray start --address` raylet.
Changing `active_nodes` adds or removes worker nodes; a scale that does not reach its size within
`scale_timeout_secs` stops the nodes it added (rollback). `read` of a cluster whose processes are
gone, or whose dashboard no longer answers, is None (drift: the next apply starts it again).
`delete` stops exactly the processes of this cluster. The record lives in
`.mlrt/ray/pools/<name>.json`; the pool's `private` says whether mlrt manages the cluster and
which port Serve uses on it (trainings and services read it through `Related.private`). Every
wait (the head, the nodes) ends at the operation's deadline from `timeouts { }` at the latest.

Capacity (managed): the nodes of every cluster mlrt manages on this machine share one budget,
the machine (lowered by `max_*`) times the provider's `overcommit` (default 1), as the local
provider's pools do. A create, scale or resume that would go over it fails before starting
anything, naming the clusters that hold the budget.

Suspend and resume (managed; shared rules in `providers.kit.pools`): `suspended = true` stops
every process of the cluster (head and workers; Serve applications and job history go with
them) and keeps its record: name, ports, dashboard address. `suspended = false` starts the head
on the same ports and the workers up to `active_nodes`. A suspended pool reads as
`state = SUSPENDED` with no nodes, not as drift. An attached cluster is not mlrt's to suspend:
`suspended = true` on one is an error. Trainings and services claim their pool first
(`claim`): a suspended pool is resumed when `auto_resume = true` (else the apply fails, and the
plan already did), and a training whose `scaling.num_nodes` is above the running nodes scales
the cluster up for the run (within max_nodes) and back afterwards.

Auto-suspend (managed): at every read (plan, apply, refresh), a running cluster with no job
RUNNING or PENDING, no Serve application and no use (create, resume, scale, a training start or
end) for `auto_suspend_secs` is suspended. Nothing of mlrt runs between commands, so that is
when it happens, as on the local provider.

Computed: `nodes` ([{name, cpus, gpus, memory}] from the live cluster; none when suspended),
`state` (ACTIVE or SUSPENDED; an attached cluster is always ACTIVE), `address` (the dashboard
URL trainings and services use), `capped`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError
from mlrt_iac.packages import missing_message, package
from mlrt_iac.provider import (
    Attributes,
    CreateResult,
    DiffResult,
    Private,
    ProviderContext,
    ReadResult,
    Related,
    UpdateResult,
)
from providers.kit.handler import public
from providers.kit.machine import Capacity, FamilyFacts, node_size
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
from providers.kit.waiting import deadline_binds, exceeded, seconds_left, wait_for

from . import cluster
from .client import Dashboard, wait_until
from .common import RayHandler

COMPUTED = POOL_COMPUTED


class ComputePoolHandler(RayHandler):
    type_name: ClassVar[str] = "compute_pool"
    computed: ClassVar[tuple[str, ...]] = COMPUTED
    force_new: ClassVar[tuple[str, ...]] = ("name", "instance_family")

    # -- records ---------------------------------------------------------------------------
    def _path(self, ctx: ProviderContext, name: str) -> Path:
        return ctx.data_dir / "ray" / "pools" / f"{name}.json"

    def _load(self, ctx: ProviderContext, name: str) -> cluster.ClusterRecord | None:
        data = read_json(self._path(ctx, name))
        if not isinstance(data, dict):
            return None
        try:
            return cluster.ClusterRecord.from_json(data)
        except TypeError:
            return None

    def _save(self, ctx: ProviderContext, rec: cluster.ClusterRecord) -> None:
        atomic_write_json(self._path(ctx, rec.name), rec.to_json())

    def _log(self, ctx: ProviderContext, name: str) -> Path:
        return ctx.data_dir / "ray" / "pools" / f"{name}.log"

    # -- inputs ----------------------------------------------------------------------------
    def _inputs(self, ctx: ProviderContext, desired: Attributes) -> Attributes:
        return pool_inputs(ctx, desired)

    def _size(self, family_name: str) -> tuple[cluster.NodeSize, dict[str, Any], FamilyFacts]:
        family = self.rp.family(family_name)
        node, capped = node_size(family, self.rp.machine())
        return (
            cluster.NodeSize(float(node["cpus"]), int(node["gpus"]), float(node["memory"])),
            capped,
            family,
        )

    def validate(self, desired: Attributes) -> Diagnostics:
        diags = Diagnostics()
        if not self.rp.attached:  # `ray start` runs from this Python environment
            pkg = package(
                "ray", "ray", 'A compute_pool of provider "ray" without an address (a cluster mlrt starts)'
            )
            if not pkg.ok:
                diags.add_error(*missing_message(pkg))
        fam = desired.get("instance_family")
        if isinstance(fam, str) and not self.rp.attached:
            try:
                self.rp.family(fam)
            except PermanentError as exc:
                diags.add_error(exc.summary, exc.detail)
        return diags

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        return drop_creation_only(super().diff(ctx, prior, desired), prior, desired)

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        """Managed pools: the node sizes and caps are known at plan time (and logged when capped)."""
        if self.rp.attached:
            return {"address": self.rp.dashboard().url, "capped": {}, "state": "ACTIVE"}
        fam = desired.get("instance_family")
        if not isinstance(fam, str):
            return {}
        try:
            size, capped, family = self._size(fam)
        except PermanentError:
            return {}
        for line in cap_lines(family, capped):
            ctx.log(line)
        want = wants_suspended(desired)
        if prior is None:
            suspended = suspended_at_create(desired)
        else:
            suspended = prior.get("state") == "SUSPENDED" if want is None else want
        out: Attributes = {"capped": capped, "state": "SUSPENDED" if suspended else "ACTIVE"}
        if suspended:
            out["nodes"] = []
        if prior is not None and prior.get("address"):
            out["address"] = prior["address"]
        return out

    # -- attached ----------------------------------------------------------------------------
    def _nodes_of(self, dash: Dashboard, rec: cluster.ClusterRecord | None) -> list[dict[str, Any]]:
        names = {v: k for k, v in (rec.workers if rec else {}).items()}
        out = []
        for n in dash.nodes():
            if rec is not None:
                name = (
                    f"{rec.name}-node-0" if n["_head"] else names.get(n["_id"], f"{rec.name}-{n['_id'][:8]}")
                )
            else:
                name = f"{n['name']}-{n['_id'][:8]}"
            out.append({"name": name, "cpus": n["cpus"], "gpus": n["gpus"], "memory": n["memory"]})
        return out

    def _attached_attrs(self, ctx: ProviderContext, attrs: Attributes) -> Attributes:
        dash = self.rp.dashboard()
        dash.check()
        nodes = self._nodes_of(dash, None)
        if int(attrs["active_nodes"]) != len(nodes):
            ctx.log(
                f"{ctx.address}: the attached cluster at {dash.url} has {len(nodes)} alive nodes; "
                f"active_nodes = {attrs['active_nodes']} is recorded, its autoscaler decides its size"
            )
        if attrs.get("suspended"):
            raise PermanentError(
                f"{ctx.address} is an attached Ray cluster; mlrt cannot suspend it",
                f"The cluster at {dash.url} is not started by mlrt. Remove suspended = true, or "
                'let mlrt manage the cluster (no address in the provider "ray" block).',
            )
        return {
            **attrs,
            "nodes": nodes,
            "state": "ACTIVE",
            "address": dash.url,
            "capped": {},
        }

    # -- managed -----------------------------------------------------------------------------
    def _managed_attrs(
        self, rec: cluster.ClusterRecord, attrs: Attributes, capped: dict[str, Any]
    ) -> Attributes:
        dash = Dashboard(rec.dashboard_url)
        return {
            **attrs,
            "suspended": observed_switch(attrs.get("suspended"), rec.suspended),
            "nodes": [] if rec.suspended else self._nodes_of(dash, rec),
            "state": "SUSPENDED" if rec.suspended else "ACTIVE",
            "address": dash.url,
            "capped": capped,
        }

    @staticmethod
    def _private(rec: cluster.ClusterRecord | None) -> Private:
        if rec is None:
            return {"managed": False, "serve_port": None}
        return {"managed": True, "serve_port": rec.serve_port}

    def _scale(self, ctx: ProviderContext, rec: cluster.ClusterRecord, target: int, timeout: float) -> None:
        """Add or remove worker nodes until the cluster has `target` nodes (the head included);
        on failure the nodes added by this call are stopped again."""
        want_workers = max(target, 1) - 1
        dash = Dashboard(rec.dashboard_url)
        current = sorted(rec.workers, key=lambda n: int(n.rsplit("-", 1)[1]))
        while len(current) > want_workers:
            gone = current.pop()
            ctx.progress(f"stopping node {gone}")
            cluster.remove_worker(rec, gone)
            self._save(ctx, rec)
        if len(current) == want_workers:
            wait_until(lambda: len(dash.nodes()) == want_workers + 1, seconds_left(ctx, 30.0))
            return
        self._check_capacity(ctx, rec, target)
        binds = deadline_binds(ctx, timeout)
        deadline = time.monotonic() + seconds_left(ctx, timeout)
        added: list[str] = []
        try:
            index = 1 + max([int(n.rsplit("-", 1)[1]) for n in current] or [0])
            while len(current) + len(added) < want_workers:
                if ctx.cancel.is_set():
                    raise PermanentError(
                        f"Scaling {ctx.address} was cancelled", "The nodes it added were stopped."
                    )
                if time.monotonic() >= deadline:
                    raise TimeoutError
                name = f"{rec.name}-node-{index}"
                index += 1
                ctx.progress(f"starting node {name} ({len(current) + len(added) + 2}/{want_workers + 1})")
                cluster.add_worker(rec, name, self._log(ctx, rec.name))
                added.append(name)
                self._save(ctx, rec)
            left = max(deadline - time.monotonic(), 0.0)
            if not wait_until(lambda: len(dash.nodes()) >= want_workers + 1, left):
                raise TimeoutError
        except TimeoutError:
            self._rollback(ctx, rec, added)
            if binds:
                raise exceeded(  # noqa: B904 - the deadline is the whole story
                    ctx,
                    f"{ctx.address} to scale to {target} nodes",
                    f"The {len(added)} node(s) it started were stopped; the pool stays at "
                    f"{len(current) + 1} node(s).",
                )
            raise PermanentError(  # noqa: B904 - the timeout is the whole story
                f"Scaling {ctx.address} to {target} nodes did not complete within {timeout:g}s",
                f"The {len(added)} node(s) it started were stopped; the pool stays at "
                f"{len(current) + 1} node(s). Raise scale_timeout_secs or free this machine.",
            )
        except BaseException:
            self._rollback(ctx, rec, added)
            raise

    def held_by_others(self, ctx: ProviderContext, exclude: set[str]) -> dict[str, Capacity]:
        """What the running clusters mlrt manages here hold, by name, but those in `exclude`."""
        others: dict[str, Capacity] = {}
        folder = ctx.data_dir / "ray" / "pools"
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            other = self._load(ctx, path.stem)
            if other is None or other.name in exclude or other.suspended:
                continue
            others[other.name] = _times(other.size, 1 + len(other.workers))
        return others

    def _check_capacity(self, ctx: ProviderContext, rec: cluster.ClusterRecord, target: int) -> None:
        """Fail before starting anything when `target` nodes of this cluster, with the running
        nodes of every other cluster mlrt manages here, would go over the provider's budget."""
        budget = self.rp.budget()
        others = self.held_by_others(ctx, {rec.name})
        used = Capacity(
            sum(c.cpus for c in others.values()),
            sum(c.memory_gib for c in others.values()),
            sum(c.gpus for c in others.values()),
        )
        need = _times(rec.size, max(target, 1))
        eps = 1e-9
        if (
            used.cpus + need.cpus <= budget.cpus + eps
            and used.memory_gib + need.memory_gib <= budget.memory_gib + eps
            and used.gpus + need.gpus <= budget.gpus
        ):
            return
        holders = ", ".join(f"{n} ({_fmt(c)})" for n, c in others.items()) or "none"
        raise PermanentError(
            f'compute_pool "{rec.name}" cannot have {nodes_text(max(target, 1))} on this machine',
            f"{nodes_text(max(target, 1))} of {_fmt(_times(rec.size, 1))} need {_fmt(need)}; the budget "
            f"for Ray clusters mlrt starts here is {_fmt(budget)}, and other clusters hold "
            f"{_fmt(used)} ({holders}). Lower active_nodes, suspend or shrink another pool, or "
            'raise overcommit (or max_cpus / max_memory_gib) in the `provider "ray"` block.',
        )

    def _rollback(self, ctx: ProviderContext, rec: cluster.ClusterRecord, added: list[str]) -> None:
        for name in added:
            try:
                cluster.remove_worker(rec, name)
            except PermanentError:
                pass
        self._save(ctx, rec)

    # -- protocol ----------------------------------------------------------------------------
    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        attrs = self._inputs(ctx, desired)
        name = attrs["name"]
        if self.rp.attached:
            return CreateResult(name, self._attached_attrs(ctx, attrs), self._private(None))
        leftover = self._load(ctx, name)
        if leftover is not None:  # a crash between `ray start` and the state write
            cluster.stop(leftover)
        size, capped, family = self._size(attrs["instance_family"])
        for line in cap_lines(family, capped):
            ctx.log(line)
        rec = cluster.new_record(name, ctx.project_dir, size)
        rec.last_active = time.time()
        if suspended_at_create(attrs):
            rec.suspended = True
            self._save(ctx, rec)
            return CreateResult(name, self._managed_attrs(rec, attrs, capped), self._private(rec))
        self._check_capacity(ctx, rec, int(attrs["active_nodes"]))
        self._save(ctx, rec)
        try:
            ctx.progress(f"starting the Ray head of {name}")
            cluster.start_head(rec, self._log(ctx, name))
            dash = Dashboard(rec.dashboard_url)
            if not wait_for(ctx, dash.reachable, f"the Ray dashboard of {name}", 60.0):
                raise PermanentError(
                    f"The dashboard of {name} did not come up", f"See {self._log(ctx, name)}."
                )
            self._scale(ctx, rec, int(attrs["active_nodes"]), float(attrs["scale_timeout_secs"]))
            result = self._managed_attrs(rec, attrs, capped)
        except BaseException:
            try:
                cluster.stop(rec)
            finally:
                self._path(ctx, name).unlink(missing_ok=True)
            raise
        return CreateResult(name, result, self._private(rec))

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        if not ctx.private.get("managed", not self.rp.attached):
            dash = self.rp.dashboard()
            return ReadResult({**public(prior), "nodes": self._nodes_of(dash, None)})
        rec = self._load(ctx, id)
        if rec is None:
            return ReadResult(None)
        if rec.suspended:
            return ReadResult(self._read_suspended(prior))
        dash = Dashboard(rec.dashboard_url)
        if not cluster.cluster_pids(rec) or not dash.reachable():
            return ReadResult(None)
        if idle_expired(prior.get("auto_suspend_secs"), rec.last_active, time.time()) and self._idle(dash):
            ctx.log(f"idle for more than auto_suspend_secs = {prior['auto_suspend_secs']}s: suspended")
            self._suspend(ctx, rec)
            return ReadResult(self._read_suspended(prior))
        return ReadResult(
            {
                **public(prior),
                "suspended": observed_switch(prior.get("suspended"), False),
                "nodes": self._nodes_of(dash, rec),
                "state": "ACTIVE",
            }
        )

    @staticmethod
    def _read_suspended(prior: Attributes) -> Attributes:
        return {
            **public(prior),
            "suspended": observed_switch(prior.get("suspended"), True),
            "nodes": [],
            "state": "SUSPENDED",
        }

    @staticmethod
    def _idle(dash: Dashboard) -> bool:
        """No job running or waiting and no Serve application on the cluster."""
        try:
            jobs = dash.list_jobs()
            serve = dash.serve_status()
        except Exception:  # cannot tell: not idle
            return False
        if any(str(j.get("status")) in ("RUNNING", "PENDING") for j in jobs.values()):
            return False
        return not (serve.get("applications") or {})

    # -- suspend / resume --------------------------------------------------------------------
    def _suspend(self, ctx: ProviderContext, rec: cluster.ClusterRecord) -> None:
        """Stop every process of the cluster; keep its record (ports, address) for resume."""
        ctx.progress(f"stopping the Ray cluster of {rec.name}")
        cluster.stop(rec)
        rec.workers = {}
        rec.suspended = True
        self._save(ctx, rec)

    def _resume(self, ctx: ProviderContext, rec: cluster.ClusterRecord, target: int, timeout: float) -> None:
        """Start the head on the record's ports, then workers up to `target` nodes."""
        self._check_capacity(ctx, rec, target)
        ctx.progress(f"starting the Ray head of {rec.name}")
        rec.workers = {}
        try:
            cluster.start_head(rec, self._log(ctx, rec.name))
            dash = Dashboard(rec.dashboard_url)
            if not wait_for(ctx, dash.reachable, f"the Ray dashboard of {rec.name}", 60.0):
                raise PermanentError(
                    f"The dashboard of {rec.name} did not come up", f"See {self._log(ctx, rec.name)}."
                )
            rec.suspended = False
            rec.last_active = rec.resumed_at = time.time()
            self._save(ctx, rec)
            self._scale(ctx, rec, target, timeout)
        except BaseException:
            cluster.stop(rec)
            rec.workers = {}
            rec.suspended = True
            self._save(ctx, rec)
            raise

    def claim(self, ctx: ProviderContext, pool: Related, num_nodes: int | None = None) -> int | None:
        """What a training or service does first (managed pools; others are left alone): resume
        a suspended pool when auto_resume is true (else a PermanentError naming the workload),
        and for a training scale up to `num_nodes` within max_nodes. Returns the node count to
        give back with `release` when it scaled up."""
        if not pool.private.get("managed", not self.rp.attached):
            return None
        rec = self._load(ctx, pool.name)
        if rec is None:
            return None
        attrs = pool.attributes
        timeout = float(attrs.get("scale_timeout_secs") or 720)
        if rec.suspended:
            resume_or_refuse(ctx, pool.name, attrs.get("auto_resume") is not False)
            self._resume(ctx, rec, int(attrs.get("active_nodes") or 1), timeout)
        running = 1 + len(rec.workers)
        rec.last_active = time.time()
        self._save(ctx, rec)
        if not needs_scale_up(ctx, pool.name, running, num_nodes, int(attrs.get("max_nodes") or running)):
            return None
        assert num_nodes is not None
        self._scale(ctx, rec, num_nodes, timeout)
        return running

    def release(self, ctx: ProviderContext, pool: Related, nodes: int | None) -> None:
        """After a run: back to `nodes` when `claim` scaled up; the pool counts as used now."""
        rec = self._load(ctx, pool.name)
        if rec is None:
            return
        if nodes is not None and not rec.suspended:
            self._scale(ctx, rec, nodes, float(pool.attributes.get("scale_timeout_secs") or 720))
        rec.last_active = time.time()
        self._save(ctx, rec)

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        attrs = self._inputs(ctx, desired)
        if not ctx.private.get("managed", not self.rp.attached):
            return UpdateResult(self._attached_attrs(ctx, attrs), self._private(None))
        rec = self._load(ctx, id)
        if rec is None:
            raise PermanentError(
                f'compute_pool "{id}" no longer exists',
                "Its cluster record is gone. Run `mlrt plan` to see the drift; `mlrt apply` "
                "will start it again.",
            )
        want = wants_suspended(attrs)
        timeout = float(attrs["scale_timeout_secs"])
        if want is True and not rec.suspended:
            self._suspend(ctx, rec)
        elif want is False and rec.suspended:
            self._resume(ctx, rec, int(attrs["active_nodes"]), timeout)
        elif not rec.suspended:
            self._scale(ctx, rec, int(attrs["active_nodes"]), timeout)
            rec.last_active = time.time()
            self._save(ctx, rec)
        return UpdateResult(
            self._managed_attrs(rec, attrs, dict(prior.get("capped") or {})), self._private(rec)
        )

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        rec = self._load(ctx, id)
        if rec is None:
            return
        cluster.stop(rec)
        self._path(ctx, id).unlink(missing_ok=True)


def suspend_history(data_dir: Path, dashboard_url: str) -> tuple[bool, bool]:
    """(suspended now, suspended and resumed before) for the managed cluster at `dashboard_url`:
    a suspend stops the head, so job history and Serve applications from before it are gone."""
    folder = data_dir / "ray" / "pools"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = read_json(path)
        if isinstance(data, dict) and data.get("dashboard_port") is not None:
            if f"http://127.0.0.1:{data['dashboard_port']}" == dashboard_url.rstrip("/"):
                return bool(data.get("suspended")), data.get("resumed_at") is not None
    return False, False


def _times(size: dict[str, Any], n: int) -> Capacity:
    return Capacity(float(size["cpus"]) * n, float(size["memory_gib"]) * n, int(size["gpus"]) * n)


def _fmt(c: Capacity) -> str:
    return f"{c.cpus:g} vCPUs, {c.memory_gib:g} GiB, {c.gpus} GPUs"
