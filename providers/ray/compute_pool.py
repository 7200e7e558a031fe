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
`.mlrt/ray/pools/<name>.json`.

Computed: `nodes` ([{name, cpus, gpus, memory}] from the live cluster), `state` (ACTIVE),
`address` (the dashboard URL trainings and services use), `capped`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import Attributes, CreateResult, DiffResult, ProviderContext, ReadResult, UpdateResult
from mlrt_iac.values import is_known
from providers.local._files import atomic_write_json, plain, read_json
from providers.local.compute_pool import DEFAULTS, _range_problems, default_active_nodes, drop_creation_only
from providers.local.machine import node_size

from . import cluster
from .client import Dashboard, wait_until
from .common import RayHandler, resource_name

COMPUTED = ("nodes", "state", "address", "capped")


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
        attrs = {**DEFAULTS, **plain(desired)}
        attrs["name"] = resource_name(ctx, attrs)
        if attrs.get("active_nodes") is None:
            attrs["active_nodes"] = attrs["min_nodes"]
        problems = _range_problems(attrs)
        if problems:
            raise PermanentError(f'Invalid node counts for compute_pool "{attrs["name"]}"', problems[0])
        for key in COMPUTED:
            attrs.pop(key, None)
        return attrs

    def _size(self, family_name: str) -> tuple[cluster.NodeSize, dict[str, Any], str]:
        family = self.rp.family(family_name)
        node, capped = node_size(family, self.rp.machine())
        return (
            cluster.NodeSize(float(node["cpus"]), int(node["gpus"]), float(node["memory"])),
            capped,
            family.name,
        )

    def validate(self, desired: Attributes) -> Diagnostics:
        diags = Diagnostics()
        attrs = {**DEFAULTS, **{k: v for k, v in desired.items() if v is not None}}
        if all(is_known(attrs.get(k)) for k in ("min_nodes", "max_nodes", "active_nodes")):
            if attrs.get("active_nodes") is None:
                attrs["active_nodes"] = attrs["min_nodes"]
            for p in _range_problems(attrs):
                diags.add_error("Invalid node counts for a Ray compute pool", p)
        fam = attrs.get("instance_family")
        if isinstance(fam, str) and not self.rp.attached:
            try:
                self.rp.family(fam)
            except PermanentError as exc:
                diags.add_error(exc.summary, exc.detail)
        return diags

    def normalise(self, ctx: ProviderContext, desired: Attributes) -> Attributes:
        return default_active_nodes(super().normalise(ctx, desired))

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
            size, capped, fname = self._size(fam)
        except PermanentError:
            return {}
        for res, info in capped.items():
            ctx.log(
                f"{ctx.address}: {fname} nodes have {info['family']} {res}; this machine gives "
                f"{info['machine']} (capped)"
            )
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
            "_managed": False,
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
            "_managed": True,
            "_serve_port": rec.serve_port,
        }

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
            wait_until(lambda: len(dash.nodes()) == want_workers + 1, 30.0)
            return
        deadline = time.monotonic() + timeout
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
            return CreateResult(name, self._attached_attrs(ctx, attrs))
        leftover = self._load(ctx, name)
        if leftover is not None:  # a crash between `ray start` and the state write
            cluster.stop(leftover)
        size, capped, fname = self._size(attrs["instance_family"])
        for res, info in capped.items():
            ctx.log(
                f'compute_pool "{name}": {fname} nodes have {info["family"]} {res}; this machine '
                f"gives {info['machine']} (capped)"
            )
        rec = cluster.new_record(name, ctx.project_dir, size)
        self._save(ctx, rec)
        try:
            ctx.progress(f"starting the Ray head of {name}")
            cluster.start_head(rec, self._log(ctx, name))
            dash = Dashboard(rec.dashboard_url)
            if not wait_until(dash.reachable, 60.0):
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
        return CreateResult(name, result)

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        if not prior.get("_managed", not self.rp.attached):
            dash = self.rp.dashboard()
            return ReadResult({**prior, "nodes": self._nodes_of(dash, None)})
        rec = self._load(ctx, id)
        if rec is None:
            return ReadResult(None)
        dash = Dashboard(rec.dashboard_url)
        if not cluster.cluster_pids(rec) or not dash.reachable():
            return ReadResult(None)
        return ReadResult({**prior, "nodes": self._nodes_of(dash, rec)})

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        attrs = self._inputs(ctx, desired)
        if not prior.get("_managed", not self.rp.attached):
            return UpdateResult(self._attached_attrs(ctx, attrs))
        rec = self._load(ctx, id)
        if rec is None:
            raise PermanentError(
                f'compute_pool "{id}" no longer exists',
                "Its cluster record is gone. Run `mlrt plan` to see the drift; `mlrt apply` "
                "will start it again.",
            )
        self._scale(ctx, rec, int(attrs["active_nodes"]), float(attrs["scale_timeout_secs"]))
        return UpdateResult(self._managed_attrs(rec, attrs, dict(prior.get("capped") or {})))

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        rec = self._load(ctx, id)
        if rec is None:
            return
        cluster.stop(rec)
        self._path(ctx, id).unlink(missing_ok=True)
