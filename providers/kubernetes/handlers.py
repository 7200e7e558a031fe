"""Resource handlers: render, server-side apply, wait for readiness, read drift, delete.

Every handler renders its objects with `render.render_resource` (the same code as
`mlrt render`), applies them in order with field manager `mlrt`, waits for the primary object to
be ready, and deletes them in reverse order with foreground propagation, waiting until each is
gone. Every wait ends at `ctx.deadline` (see waits.py). API errors are not retried here: a
RetryableError (429, 5xx, a conflict that may clear, an unreachable server) goes up to the
engine, which retries the whole operation within the same deadline. A create stays all or
nothing: whatever makes it fail, it first removes what it applied.

Drift: `read` GETs every object, compares the managed fields with the intent re-rendered from the
prior attributes, and reports differences in the computed attribute `drift` (a list of
`Kind ns/name .field: wanted -> live` lines); `diff` turns a non-empty `drift` into a change, so
the plan shows it and apply re-applies. A missing primary object means the resource is gone.

`read_many` (what refresh uses) reaches the same results with one LIST per kind and namespace
(label selector `app.kubernetes.io/managed-by=mlrt`, pages of `list_page_size`), matching
listed objects to the rendered ones by name: the request count depends on the kinds and
namespaces in use, not on the number of objects. A listed object of this handler's type (by
its `mlrt.dev/address` annotation) that no state entry renders is reported as unmanaged; the
plan warns and never deletes it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from clients.kubernetes import KubeClient, ObjRef
from mlrt_iac.addrs import Address
from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import DeadlineExceeded, MlrtError, ProviderError
from mlrt_iac.model import computed_attributes
from mlrt_iac.provider import (
    Attributes,
    BatchReadResult,
    CreateResult,
    DiffResult,
    Finding,
    LogLine,
    LogQuery,
    Private,
    ProviderContext,
    ReadRequest,
    ReadResult,
    ResourceHandler,
    UpdateResult,
    filled,
    object_name,
)
from mlrt_iac.provider import RenderOutput as Rendered
from mlrt_iac.values import is_known
from providers.kit import service_image
from providers.kit.build_checks import egress_findings, requirement_findings
from providers.kit.models import model_path
from providers.kit.service_status import FAILED, restart_failed

from . import logs
from . import quota as rq
from . import render as r
from .config import KubernetesConfig
from .drift import field_drift
from .naming import ADDRESS_ANNOTATION, MANAGED_BY, dns_name
from .waits import deadline_of, wait_gone, wait_ready

if TYPE_CHECKING:
    from .provider import KubernetesProvider

Obj = dict[str, Any]
_NOT_ARGS = ("drift", "timeouts")
# Removing what a failed create applied gets a budget of its own: the create's deadline may be
# the very thing that ran out, and leaving objects behind would break "all or nothing".
CLEANUP_SECS = 120.0
PRIOR_SENSITIVE = "sensitive_paths"  # in private: which prior values live in a Secret


class KubeHandler(ResourceHandler):
    """Shared machinery; subclasses say which object is primary and when it is ready."""

    primary_kind: ClassVar[str] = ""
    # Whether the resource's pods run in its pool's namespace and so take a share of the
    # pool's ResourceQuota (quota.py): services and trainings.
    reserves_quota: ClassVar[bool] = False

    @property
    def kp(self) -> KubernetesProvider:
        return cast("KubernetesProvider", self.provider)

    @property
    def cfg(self) -> KubernetesConfig:
        return self.kp.settings

    @property
    def client(self) -> KubeClient:
        return self.kp.client()

    def validate(self, desired: Attributes) -> Diagnostics:
        """A name Kubernetes cannot take as it is (`ml_cpu`) is renamed (`ml-cpu`): say so in the
        plan, so nobody looks for the wrong object in the cluster."""
        diags = Diagnostics()
        name = desired.get("name")
        if isinstance(name, str) and name and dns_name(name) != name:
            diags.add_warning(
                "Name changed for Kubernetes",
                f'"{name}" is not a valid Kubernetes object name (lowercase letters, digits and "-", '
                f'starting with a letter, at most 63 characters); its objects are named "{dns_name(name)}".',
            )
        return diags

    # --- helpers ----------------------------------------------------------------------------

    def render(
        self, ctx: ProviderContext, attrs: Attributes, sensitive: Sequence[Sequence[str | int]] | None = None
    ) -> Rendered:
        """The objects of `attrs`; their sensitive values go into a Secret (render.py). The paths
        are ctx's (the attributes the call is about) unless given."""
        index = r.RenderIndex.from_related(ctx.related)
        paths = ctx.sensitive_paths if sensitive is None else tuple(tuple(p) for p in sensitive)
        if ctx.timeouts and "timeouts" not in attrs:  # as `mlrt render` passes them (a RayJob's deadline)
            attrs = {**attrs, "timeouts": dict(ctx.timeouts)}
        return r.render_resource(self.type_name, ctx.address, attrs, index, self.cfg, paths)

    @staticmethod
    def _private(ctx: ProviderContext) -> Private:
        """What update needs to render the prior objects again: which of their values were
        sensitive (those live in a Secret the prior rendering names)."""
        return {**ctx.private, PRIOR_SENSITIVE: [list(p) for p in ctx.sensitive_paths]}

    def deadline(self, ctx: ProviderContext, attrs: Attributes, op: str = "create") -> float:
        """When a create or update (`op`) must be done, waits included."""
        return deadline_of(ctx, self.cfg.ready_timeout_secs)

    def apply_objects(self, objs: list[Obj]) -> list[Obj]:
        return [self.apply_one(obj) for obj in objs]

    def apply_one(self, obj: Obj) -> Obj:
        """Server-side apply of one rendered object (forcing the fields mlrt declares unless
        force_conflicts = false)."""
        return self.client.apply(self.intent(obj, None), self.cfg.force_conflicts)

    def intent(self, obj: Obj, live: Obj | None) -> Obj:
        """What mlrt means `obj` to be, given its live version (fetched when None and needed):
        the rendering, except where others' shares are kept on it (a pool's quota)."""
        return obj

    def share_quota(self, ctx: ProviderContext, manifests: list[Obj]) -> None:
        """Record this workload's reservation on its pool's ResourceQuota (none: remove it)
        and resize the quota, before its pods exist or after they are gone (quota.py). The
        write is conditional on the quota's resourceVersion: a concurrent share makes it a
        retryable conflict, never a lost reservation."""
        pools = ctx.related_of("compute_pool")
        if not self.reserves_quota or self.cfg.namespace is not None or not pools:
            return
        rendered = r.render_pool(pools[0].address, r.known(pools[0].attributes), self.cfg).manifests
        quota = next((o for o in rendered if o["kind"] == "ResourceQuota"), None)
        live = self.client.get(ObjRef.of(quota)) if quota is not None else None
        if quota is None or live is None:
            return  # the pool is not (yet) applied: its own apply sizes the quota
        shares = {**rq.reservations_of(live), **rq.reservations_of(quota)}
        charge = rq.encode(rq.reservation(manifests))
        if charge:
            shares[rq.key_of(ctx.address)] = charge
        else:
            shares.pop(rq.key_of(ctx.address), None)
        if shares == rq.reservations_of(live):
            return
        obj = rq.with_reservations(quota, shares)
        obj["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        self.client.apply(obj, self.cfg.force_conflicts)

    def delete_objects(self, ctx: ProviderContext, refs: list[ObjRef], deadline: float) -> None:
        """Foreground deletion in reverse order, waiting for each object to be gone (404)."""
        for ref in reversed(refs):
            if self.client.delete(ref):  # False: it was not there
                wait_gone(ctx, self.client, ref, deadline, self.cfg.poll_interval_secs)

    def wait_until(
        self,
        ctx: ProviderContext,
        ref: ObjRef,
        deadline: float,
        check: Callable[[Obj], str | None],
        describe: Callable[[Obj], str],
    ) -> Obj:
        """Poll `ref` until `check` says done ("") or failed (a message); progress meanwhile."""
        return wait_ready(ctx, self.client, ref, deadline, self.cfg.poll_interval_secs, check, describe)

    def primary(self, objs: list[Obj]) -> Obj:
        return next(o for o in objs if o["kind"] == self.primary_kind)

    def ready(self, ctx: ProviderContext, obj: Obj, attrs: Attributes, deadline: float) -> Obj:
        """Wait for readiness of the primary object; default: applied is ready."""
        return obj

    def computed_from(self, ctx: ProviderContext, attrs: Attributes, live: Obj) -> Attributes:
        return {}

    @staticmethod
    def object_id(obj: Obj) -> str:
        ref = ObjRef.of(obj)
        return f"{ref.kind}/{ref.namespace}/{ref.name}" if ref.namespace else f"{ref.kind}/{ref.name}"

    def _warn(self, ctx: ProviderContext, out: Rendered) -> None:
        for w in out.warnings:
            ctx.log(f"Warning: {w}")

    def _remove_applied(self, ctx: ProviderContext, applied: list[Obj]) -> None:
        """Undo a failed create (best effort: what cannot be removed is reported)."""
        try:
            self.delete_objects(ctx, [ObjRef.of(o) for o in applied], time.monotonic() + CLEANUP_SECS)
            self.share_quota(ctx, [])
        except ProviderError as cleanup:
            ctx.log(f"Warning: could not remove objects after a failed create: {cleanup.summary}")

    # --- protocol ---------------------------------------------------------------------------

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        result = super().diff(ctx, prior, {k: v for k, v in desired.items() if k not in _NOT_ARGS})
        drift = prior.get("drift")
        if drift:
            result.changed.append("drift")
            result.reasons["drift"] = "; ".join(drift[:3]) + (" ..." if len(drift) > 3 else "")
        return result

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        attrs = self.prepare(desired)
        out = self.render(ctx, attrs)
        self._warn(ctx, out)
        deadline = self.deadline(ctx, attrs)
        applied: list[Obj] = []
        try:
            self.share_quota(ctx, out.manifests)
            for obj in out.manifests:
                applied.append(obj)  # before the call: a failed apply may still have stored it
                # As rendered: nothing else can have recorded a share on what is created now.
                self.client.apply(obj, self.cfg.force_conflicts)
            live = self.ready(ctx, self.primary(out.manifests), attrs, deadline)
        except Exception:
            self._remove_applied(ctx, applied)
            raise
        result = dict(attrs)
        result.pop("drift", None)
        result.update(self.computed_from(ctx, attrs, live))
        return CreateResult(self.object_id(self.primary(out.manifests)), result, self._private(ctx))

    def prepare(self, desired: Attributes) -> Attributes:
        """Attributes known before rendering (e.g. a fresh run_id)."""
        return dict(desired)

    def planned_id(self, ctx: ProviderContext, desired: Attributes) -> str | None:
        """The primary object's id, from the same rendering create applies: recorded by the
        engine before create, so a killed apply still finds what it may have stored. None when
        the id depends on values only create knows (a training's fresh run id)."""
        if self.prepare(desired) != desired:
            return None
        try:
            manifests = self.render(ctx, dict(desired)).manifests
        except MlrtError:
            return None  # create will report the problem
        primary = [o for o in manifests if o["kind"] == self.primary_kind]
        return self.object_id(primary[0]) if primary else None

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        attrs = dict(desired)
        for k in self.computed:
            if k in prior and k not in attrs:
                attrs[k] = prior[k]
        out = self.render(ctx, attrs)
        self._warn(ctx, out)
        deadline = self.deadline(ctx, attrs, "update")
        self.share_quota(ctx, out.manifests)
        self.apply_objects(out.manifests)
        wanted = {ObjRef.of(o) for o in out.manifests}
        before = self.render(ctx, prior, ctx.private.get(PRIOR_SENSITIVE, ()))
        stale = [ObjRef.of(o) for o in before.manifests if ObjRef.of(o) not in wanted]
        self.delete_objects(ctx, stale, deadline)
        live = self.ready(ctx, self.primary(out.manifests), attrs, deadline)
        result = dict(attrs)
        result.pop("drift", None)
        result.update(self.computed_from(ctx, attrs, live))
        return UpdateResult(result, self._private(ctx))

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        out = self.render(ctx, prior)
        return self._observe(prior, out.manifests, lambda obj: self.client.get(ObjRef.of(obj)))

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        """`read` for many resources from one LIST per (kind, namespace) their objects live in."""
        rendered: list[list[Obj] | Exception] = []
        for req in requests:
            try:
                rendered.append(self.render(req.ctx, req.prior).manifests)
            except Exception as exc:  # that resource alone could not tell
                rendered.append(exc)
        listed: dict[tuple[str, str], dict[str, Obj] | Exception] = {}
        for manifests in rendered:
            for obj in manifests if isinstance(manifests, list) else []:
                ref = ObjRef.of(obj)
                if (ref.kind, ref.namespace) in listed:
                    continue
                try:
                    found = self.client.list(
                        ref.api_version,
                        ref.kind,
                        ref.namespace or None,
                        f"{MANAGED_BY}=mlrt",
                        self.cfg.list_page_size,
                    )
                    listed[(ref.kind, ref.namespace)] = {o["metadata"]["name"]: o for o in found.items}
                except Exception as exc:
                    listed[(ref.kind, ref.namespace)] = exc
        # Every rendered object is accounted for, even where `_observe` stops early (a gone
        # primary): a plan that recreates the resource re-applies them.
        claimed = {
            (ref.kind, ref.namespace, ref.name)
            for manifests in rendered
            if isinstance(manifests, list)
            for ref in map(ObjRef.of, manifests)
        }

        def lookup(obj: Obj) -> Obj | None:
            ref = ObjRef.of(obj)
            found = listed[(ref.kind, ref.namespace)]
            if isinstance(found, Exception):
                raise found
            return found.get(ref.name)

        results: list[ReadResult | Exception] = []
        for req, manifests in zip(requests, rendered):
            if isinstance(manifests, Exception):
                results.append(manifests)
                continue
            try:
                results.append(self._observe(req.prior, manifests, lookup))
            except Exception as exc:
                results.append(exc)
        return BatchReadResult(results, self._unmanaged(listed, claimed))

    def _unmanaged(
        self, listed: dict[tuple[str, str], dict[str, Obj] | Exception], claimed: set[tuple[str, str, str]]
    ) -> list[str]:
        """Listed objects of this handler's type that no request rendered."""
        out: list[str] = []
        for (kind, ns), found in listed.items():
            if isinstance(found, Exception):
                continue
            for name, live in found.items():
                if (kind, ns, name) in claimed:
                    continue
                address = ((live.get("metadata") or {}).get("annotations") or {}).get(ADDRESS_ANNOTATION)
                parsed = Address.try_parse(address) if isinstance(address, str) else None
                owner = parsed.type if parsed is not None else None
                if owner == self.type_name or (owner is None and kind == self.primary_kind):
                    where = f"{ns}/" if ns else ""
                    out.append(f"{kind} {where}{name}" + (f" ({address})" if address else ""))
        return out

    def _observe(
        self, prior: Attributes, manifests: list[Obj], live_of: Callable[[Obj], Obj | None]
    ) -> ReadResult:
        """Attributes from the live objects of `manifests` (found by `live_of`): drift on
        managed fields, computed attributes from the primary; None when the primary is gone."""
        if not manifests:
            return ReadResult(dict(prior))
        drift: list[str] = []
        primary_live: Obj | None = None
        for obj in manifests:
            live = live_of(obj)
            if obj["kind"] == self.primary_kind:
                if live is None or (live.get("metadata") or {}).get("deletionTimestamp"):
                    return ReadResult(None)
                primary_live = live
            if live is None:
                drift.append(f"{ObjRef.of(obj)} is missing")
            else:
                drift.extend(field_drift(self.intent(obj, live), live, self.cfg.force_conflicts))
        attrs = dict(prior)
        attrs.pop("drift", None)
        if drift:
            attrs["drift"] = drift
        if primary_live is not None:
            attrs.update(self.observed(attrs, primary_live))
        return ReadResult(attrs)

    def observed(self, attrs: Attributes, live: Obj) -> Attributes:
        """Computed attributes refreshed from the live primary object."""
        return {}

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        out = self.render(ctx, prior)
        deadline = deadline_of(ctx, self.cfg.ready_timeout_secs)
        self.delete_objects(ctx, [ObjRef.of(o) for o in out.manifests], deadline)
        self.share_quota(ctx, [])


class ComputePoolHandler(KubeHandler):
    type_name = "compute_pool"
    primary_kind = "RayCluster"
    computed = ("nodes", "state", "address", "drift")
    force_new = ("instance_family", "name")

    def intent(self, obj: Obj, live: Obj | None) -> Obj:
        """The quota keeps the shares its workloads recorded on it (quota.py): the pool's
        rendering knows only its own."""
        if obj["kind"] != "ResourceQuota":
            return obj
        if live is None:
            live = self.client.get(ObjRef.of(obj))
        return rq.with_reservations(obj, {**rq.reservations_of(live), **rq.reservations_of(obj)})

    def deadline(self, ctx: ProviderContext, attrs: Attributes, op: str = "create") -> float:
        """The operation's deadline; a scale (an update) may also not take longer than the
        pool's `scale_timeout_secs`, after which it rolls back. A create waits for its own
        deadline (`timeouts { create }`), whatever the pool's scale timeout."""
        own = super().deadline(ctx, attrs, op)
        if op != "update":
            return own
        scale = attrs.get("scale_timeout_secs")
        if isinstance(scale, (int, float)) and not isinstance(scale, bool):
            return min(own, time.monotonic() + float(scale))
        return own

    def ready(self, ctx: ProviderContext, obj: Obj, attrs: Attributes, deadline: float) -> Obj:
        ref = ObjRef.of(obj)
        if obj["spec"].get("suspend"):
            return self.client.get(ref) or obj
        gen = None

        def check(live: Obj) -> str | None:
            st = live.get("status") or {}
            nonlocal gen
            gen = live["metadata"].get("generation")
            if st.get("state") == "ready" and st.get("observedGeneration", gen) == gen:
                return ""
            if st.get("state") == "failed":
                return str(st.get("reason") or st.get("message") or "the RayCluster failed")
            return None

        return self.wait_until(
            ctx,
            ref,
            deadline,
            check,
            lambda live: f"state={(live.get('status') or {}).get('state', 'pending')}",
        )

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        try:
            return super().update(ctx, id, prior, desired)
        except DeadlineExceeded as exc:
            # A scale that does not complete rolls back to the previous size (one apply, no wait).
            try:
                self.apply_objects(self.render(ctx, prior).manifests)
            except ProviderError as failed:
                raise DeadlineExceeded(
                    f"Scaling {ctx.address or id} did not complete and could not be rolled back",
                    f"{exc.summary}. Rolling back failed: {failed.summary}. Run apply again.",
                ) from exc
            raise DeadlineExceeded(
                f"Scaling {ctx.address or id} did not complete; rolled back",
                f"{exc.summary}. The pool was returned to its previous size.",
            ) from exc

    def computed_from(self, ctx: ProviderContext, attrs: Attributes, live: Obj) -> Attributes:
        return self.observed(attrs, live)

    def observed(self, attrs: Attributes, live: Obj) -> Attributes:
        fam = r.pool_family(self.cfg, attrs)
        meta, spec = live["metadata"], live.get("spec") or {}
        groups = spec.get("workerGroupSpecs") or [{}]
        count = int(
            (live.get("status") or {}).get("availableWorkerReplicas", groups[0].get("replicas", 0)) or 0
        )
        nodes = [
            {
                "name": f"{meta['name']}-workers-{i}",
                "cpus": fam.cpus,
                "gpus": fam.gpus,
                "memory": f"{fam.memory_gib:g}Gi",
            }
            for i in range(count)
        ]
        return {
            "nodes": nodes,
            "state": "SUSPENDED" if spec.get("suspend") else ("ACTIVE" if count else "IDLE"),
            "address": f"http://{meta['name']}-head-svc.{meta['namespace']}.svc.cluster.local:8265",
        }


class TrainingHandler(KubeHandler):
    type_name = "training"
    primary_kind = "RayJob"
    reserves_quota = True
    computed = (*computed_attributes("training"), "drift")
    force_new = (
        "compute_pool",
        "framework",
        "dataset",
        "params",
        "num_boost_round",
        "n_estimators",
        "entrypoint",
        "hyper_params",
        "scaling",
        "image",
        "artifact_location",
        "name",
    )

    def prepare(self, desired: Attributes) -> Attributes:
        attrs = dict(desired)
        attrs["run_id"] = uuid.uuid4().hex[:12]
        return attrs

    def ready(self, ctx: ProviderContext, obj: Obj, attrs: Attributes, deadline: float) -> Obj:
        def check(live: Obj) -> str | None:
            st = live.get("status") or {}
            if st.get("jobStatus") == "SUCCEEDED":
                return ""
            if st.get("jobStatus") in ("FAILED", "STOPPED") or st.get("jobDeploymentStatus") == "Failed":
                return (
                    f"The training's RayJob ended {st.get('jobStatus')}: {st.get('message') or st.get('reason') or 'no message'}. "
                    "See `kubectl logs` of the job's submitter pod or the Ray dashboard for the job logs."
                )
            return None

        return self.wait_until(
            ctx,
            ObjRef.of(obj),
            deadline,
            check,
            lambda live: f"job {(live.get('status') or {}).get('jobStatus', 'PENDING')}",
        )

    def computed_from(self, ctx: ProviderContext, attrs: Attributes, live: Obj) -> Attributes:
        st = live.get("status") or {}
        spec = r.job_spec(ctx.address, attrs, self.cfg, [])
        return {
            "run_id": attrs["run_id"],
            "status": st.get("jobStatus", "SUCCEEDED"),
            "model_uri": spec["model_dir"],
            "metrics": {},
            "input_fingerprint": None,  # inputs live in remote storage mlrt does not read
            "started_at": st.get("startTime"),
            "finished_at": st.get("endTime"),
        }

    def observed(self, attrs: Attributes, live: Obj) -> Attributes:
        st = live.get("status") or {}
        return {"status": st.get("jobStatus", attrs.get("status"))}

    def logs(
        self, ctx: ProviderContext, id: str, attributes: Attributes, query: LogQuery
    ) -> Iterator[LogLine]:
        """`mlrt logs` (see providers/kubernetes/logs.py)."""
        return logs.training_logs(ctx, self.client, id, query)


class ServiceHandler(KubeHandler):
    """A Deployment. A refresh that finds it not ready looks at its pods: a container stuck in
    CrashLoopBackOff (or another state it cannot leave by itself: image pull back-off, a config
    error) makes the service FAILED with `status_message` naming the pod, the container and its
    last exit, as the local and ray providers report a crash loop; the plan then shows the cause
    next to `status` (`providers.kit.service_status`).

    A service that names an `image_repository` gets its own image (`providers.kit.service_image`,
    as on local and ray): apply builds it from the base (the service's `base_image`, else the
    provider's, else `scratch`), the runtime, the model's framework, `pip_requirements`, the
    project's code and the model, pushes it to the repository's `repository_url`
    (`<registry>/<name>`, with the credentials of the usual Docker config file) before the
    Deployment is applied, and the Deployment runs it pinned by digest with the repository's
    pull secret, serving the model baked in at /mlrt/model (no fetch). The plan builds nothing:
    it hashes the inputs and plans a new image only when they changed, naming which."""

    type_name = "service"
    primary_kind = "Deployment"
    reserves_quota = True
    computed = ("endpoint", "functions_urls", "status", "status_message", "image", "drift")
    force_new = ("compute_pool", "name")

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        result = restart_failed(super().diff(ctx, prior, desired), prior, desired)
        return service_image.image_diff(ctx, result, prior, desired, self.cfg.base_image)

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        """The image: known after apply until built, kept while its inputs stand. A service
        without an image_repository keeps today's computed values (none known at plan)."""
        if service_image.repository(ctx, desired) is None:
            return {}
        return service_image.planned_image(ctx, prior, desired, self.cfg.base_image)

    def plan_checks(self, ctx: ProviderContext, desired: Attributes) -> list[Finding]:
        """pip_requirements parse; an image build reaches the package index only through the
        service's build_external_access_integration; an image on scratch cannot run."""
        out = requirement_findings(desired)
        if service_image.repository(ctx, desired) is None:
            return out
        if not out:
            out.extend(
                egress_findings(
                    ctx, desired, "build_external_access_integration", f"The image build of {ctx.address}"
                )
            )
        model = desired.get("model")
        if isinstance(model, str) and model and is_known(model):
            path = model_path(ctx.project_dir, model)
            if path is None or not (Path(path) / "metadata.json").is_file():
                out.append(
                    Finding(
                        "error",
                        f"The image of {ctx.address} cannot carry its model",
                        f"A service that names an image_repository has its model built into its image "
                        f"(at /mlrt/model), so model must be a folder on this machine with metadata.json "
                        f"(a local training's model_uri, or a directory); {model!r} is not. Remove "
                        "image_repository to have the pods fetch it at start instead.",
                        ("model",),
                    )
                )
        if not (desired.get("base_image") or self.cfg.base_image) and is_known(desired.get("base_image")):
            out.append(Finding("warning", "Image built on scratch", r.scratch_warning(ctx.address)))
        return out

    def _with_image(self, ctx: ProviderContext, attrs: Attributes) -> tuple[Attributes, Private]:
        """`attrs` with the image built (and pushed) for them, and what to keep in private: the
        build runs before any object is applied, so a failed build leaves the cluster as it was."""
        image, built = service_image.build(ctx, attrs, self.cfg.base_image)
        if image is None:
            return attrs, {}
        return {**attrs, "image": image}, built

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        attrs, built = self._with_image(ctx, dict(desired))
        result = super().create(ctx, attrs)
        return CreateResult(result.id, result.attributes, {**(result.private or {}), **built})

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        attrs, built = self._with_image(ctx, dict(desired))
        result = super().update(ctx, id, prior, attrs)
        return UpdateResult(result.attributes, {**(result.private or {}), **built})

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        return self._with_failure(ctx, prior, super().read(ctx, id, prior))

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        out = super().read_many(ctx, requests)
        results: list[ReadResult | Exception] = []
        for req, res in zip(requests, out.results):
            if isinstance(res, Exception):
                results.append(res)
                continue
            try:
                results.append(self._with_failure(req.ctx, req.prior, res))
            except Exception as exc:
                results.append(exc)
        return BatchReadResult(results, out.unmanaged)

    def _with_failure(self, ctx: ProviderContext, prior: Attributes, res: ReadResult) -> ReadResult:
        """`res`, FAILED with the cause when the not-ready Deployment's pods cannot run."""
        attrs = res.attributes
        if attrs is None or attrs.get("status") != "PENDING":
            return res
        deployment = next((o for o in self.render(ctx, prior).manifests if o["kind"] == "Deployment"), None)
        if deployment is None:
            return res
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        namespace = str(deployment["metadata"].get("namespace") or "")
        pods = self.client.list("v1", "Pod", namespace, selector, limit=0).items
        causes = [
            c for pod in sorted(pods, key=lambda p: str(p["metadata"]["name"])) for c in pod_failures(pod)
        ]
        if not causes:
            return res
        return ReadResult({**attrs, "status": FAILED, "status_message": "\n".join(causes[:5])})

    def ready(self, ctx: ProviderContext, obj: Obj, attrs: Attributes, deadline: float) -> Obj:
        want = int(obj["spec"].get("replicas", 1))

        def check(live: Obj) -> str | None:
            st = live.get("status") or {}
            gen = live["metadata"].get("generation")
            if want == 0 or (
                st.get("observedGeneration") == gen
                and int(st.get("availableReplicas") or 0) >= want
                and int(st.get("updatedReplicas") or want) >= want
            ):
                return ""
            return None

        return self.wait_until(
            ctx,
            ObjRef.of(obj),
            deadline,
            check,
            lambda live: f"{int((live.get('status') or {}).get('availableReplicas') or 0)}/{want} available",
        )

    def computed_from(self, ctx: ProviderContext, attrs: Attributes, live: Obj) -> Attributes:
        endpoint = r.service_endpoint(attrs, self.cfg, ctx.address)
        image, _ = r.service_image(attrs, r.RenderIndex.from_related(ctx.related), self.cfg)
        functions = [str(f) for f in filled(attrs, "functions", ctx.address)]
        return {
            "endpoint": endpoint,
            "functions_urls": {f: f"{endpoint}/{f}" for f in functions},
            "image": image,
            **self.observed(attrs, live),
        }

    def observed(self, attrs: Attributes, live: Obj) -> Attributes:
        want = int((live.get("spec") or {}).get("replicas", 1))
        avail = int((live.get("status") or {}).get("availableReplicas") or 0)
        status = "SUSPENDED" if want == 0 else ("READY" if avail >= want else "PENDING")
        return {"status": status, "status_message": None}

    def logs(
        self, ctx: ProviderContext, id: str, attributes: Attributes, query: LogQuery
    ) -> Iterator[LogLine]:
        """`mlrt logs` (see providers/kubernetes/logs.py)."""
        return logs.service_logs(ctx, self.client, id, query)


# Waiting reasons a container does not leave by itself (the kubelet only backs off and retries).
STUCK = (
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
)


def pod_failures(pod: Obj) -> list[str]:
    """One line per container of `pod` stuck in a state it cannot leave by itself, with its last
    exit (`pod api-7d9 container server: CrashLoopBackOff, last exit 1: model not found`)."""
    name = str((pod.get("metadata") or {}).get("name") or "")
    status = pod.get("status") or {}
    out: list[str] = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        if reason not in STUCK:
            continue
        line = f"pod {name} container {cs.get('name')}: {reason}"
        last = (cs.get("lastState") or {}).get("terminated") or {}
        if last:
            said = str(last.get("message") or last.get("reason") or "").strip().splitlines()
            line += f", last exit {last.get('exitCode')}" + (f": {said[-1][:300]}" if said else "")
        elif waiting.get("message"):
            line += f": {str(waiting['message'])[:300]}"
        out.append(line)
    return out


class ImageRepositoryHandler(KubeHandler):
    """No objects: a registry URL and the name of the image pull Secret workloads reference."""

    type_name = "image_repository"
    computed = ("repository_url",)
    force_new = ("name", "registry")

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        url = r.repository_url(desired, self.cfg, ctx.address)
        return CreateResult(url, {**desired, "repository_url": url})

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        return UpdateResult({**desired, "repository_url": r.repository_url(desired, self.cfg, ctx.address)})

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        return None


class NetworkRuleHandler(KubeHandler):
    """Recorded only: rules take effect through the NetworkPolicies of the workloads that use them."""

    type_name = "network_rule"
    force_new = ("name",)

    def validate(self, desired: Attributes) -> Diagnostics:
        from .egress import parse_entry

        diags = Diagnostics()
        if str(desired.get("type", "")).upper() == "IPV4":
            for v in desired.get("value_list") or []:
                if not parse_entry(str(v)).is_ip:
                    diags.add_error(
                        f"Invalid IPV4 network rule value {v!r}",
                        "IPV4 rules take an address or CIDR such as 10.0.0.0/8 (optionally :port).",
                    )
        return diags

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        return CreateResult(object_name(ctx.address, desired), dict(desired))

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        return UpdateResult(dict(desired))

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        return None


class ExternalAccessIntegrationHandler(NetworkRuleHandler):
    type_name = "external_access_integration"
    computed = ("effective_egress",)

    def validate(self, desired: Attributes) -> Diagnostics:
        return Diagnostics()

    def _effective(self, ctx: ProviderContext, desired: Attributes) -> list[str]:
        rules = {rule.name: rule.attributes for rule in ctx.related_of("network_rule")}
        return r.eai_entries(desired, rules)

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        return CreateResult(
            object_name(ctx.address, desired),
            {**desired, "effective_egress": self._effective(ctx, desired)},
        )

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        return UpdateResult({**desired, "effective_egress": self._effective(ctx, desired)})


HANDLERS: tuple[type[ResourceHandler], ...] = (
    ComputePoolHandler,
    ImageRepositoryHandler,
    NetworkRuleHandler,
    ExternalAccessIntegrationHandler,
    TrainingHandler,
    ServiceHandler,
)
