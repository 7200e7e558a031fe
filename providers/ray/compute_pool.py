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

Computed: `nodes` ([{name, cpus, gpus, memory}] from the live cluster), `state` (ACTIVE),
`address` (the dashboard URL trainings and services use), `capped`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import (
    Attributes,
    CreateResult,
    DiffResult,
    Private,
    ProviderContext,
    ReadResult,
    UpdateResult,
)
from providers.kit.handler import public
from providers.kit.machine import FamilyFacts, node_size
from providers.kit.pools import (
    POOL_COMPUTED,
    cap_lines,
    drop_creation_only,
    pool_inputs,
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
        fam = desired.get("instance_family")
        if isinstance(fam, str) and not self.rp.attached:
            try:
                self.rp.family(fam)
            except PermanentError as exc:
                diags.add_error(exc.summary, exc.detail)
        return diags

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        return drop_creation_only(super().diff(ctx, prior, desired))

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
        out: Attributes = {"capped": capped, "state": "ACTIVE"}
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
            "nodes": self._nodes_of(dash, rec),
            "state": "ACTIVE",
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
        dash = Dashboard(rec.dashboard_url)
        if not cluster.cluster_pids(rec) or not dash.reachable():
            return ReadResult(None)
        return ReadResult({**public(prior), "nodes": self._nodes_of(dash, rec)})

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
        self._scale(ctx, rec, int(attrs["active_nodes"]), float(attrs["scale_timeout_secs"]))
        return UpdateResult(
            self._managed_attrs(rec, attrs, dict(prior.get("capped") or {})), self._private(rec)
        )

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        rec = self._load(ctx, id)
        if rec is None:
            return
        cluster.stop(rec)
        self._path(ctx, id).unlink(missing_ok=True)
