"""`service` on the ray provider: one Ray Serve application per service, via the Serve REST API.

The application (name = the service's name, route prefix `/<name>`) is built by
`mlrt_iac.runtime.ray_entry:build_app` from the application's `runtime_env`: mlrt's runtime
(`py_modules`), the project (`working_dir`) and the service's `pip_requirements` (`pip`),
uploaded to the cluster first since the Serve REST API takes only URIs (`runtime_env.py`). It
answers like the local inference server (`GET /health`, `POST /<function>` with `{"data": [[i, ...]]}`). Its one deployment gets
`num_replicas = max_instances`, `max_queued_requests = max_queue` (Serve's router answers 503
past it), `ray_actor_options` with the provider's `replica_cpus` and `gpu_requests` GPUs, and
`max_ongoing_requests` from `replica_limit`: `num_workers + ceil(max_queue / num_replicas)`, at
least 32. The queue lives in the replicas: a replica answers one request at a time on its event
loop, and a request admitted early waits there at no cost, while Serve's router, once every
replica is at `max_ongoing_requests`, retries with an exponential back-off (25 ms doubling up to
0.5 s), which idles the replica. With 32 clients and one replica, `max_ongoing_requests = 8`
served 21–23 requests/s where 32 served 68–94 (bench/ray_overhead.py), as fast as a hand-written
minimal deployment at its best settings. The app's `batch_size` is BATCH_SIZE: the requests
waiting in a replica are answered up to that many at a time through `@serve.batch` (one model
call for their rows, no waiting for a batch to fill), as the hand-written deployment's best
settings do; it saves a little replica CPU per request under load and costs nothing otherwise.

The REST API is declarative over *all* applications of the cluster, so every change reads the
deployed configs, replaces this service's entry and puts the whole list back (under a lock, for
parallel applies in one process). Serve rolls replicas over when a deployment's config changes,
so a new model or replica count is an in-place update with no failed request. `read` returns None
when the application is gone (drift); an application Serve reports DEPLOY_FAILED or UNHEALTHY
reads as status FAILED with Serve's message in `status_message` (`observed`), which the plan
restarts in place (`providers.kit.service_status`): the update removes the failed application
and deploys it afresh. `suspended = true` removes the application, keeps the service. The cluster used is kept in `private`; every wait ends at the operation's deadline
(`timeouts { }`) at the latest, with DeadlineExceeded.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import (
    Attributes,
    BatchReadResult,
    CreateResult,
    DiffResult,
    Finding,
    LogLine,
    LogQuery,
    ProviderContext,
    ReadRequest,
    ReadResult,
    UpdateResult,
    filled,
)
from providers.kit import models, service_image
from providers.kit.build_checks import egress_findings, requirement_findings
from providers.kit.handler import public
from providers.kit.names import file_safe_name, name_as_id
from providers.kit.service_status import FAILED, planned_status, service_diff
from providers.kit.waiting import deadline_binds, exceeded, seconds_left

from .client import Dashboard
from .common import RayHandler, Target, by_cluster
from .compute_pool import suspend_history
from .logs import service_logs
from .runtime_env import upload, workload_env

COMPUTED = ("endpoint", "functions_urls", "status", "status_message", "image")
REPLACE = ("name", "compute_pool", "ingress_enabled", "image_repository")
READY_TIMEOUT = 300.0
DEPLOYMENT = "MlrtModel"
MIN_ONGOING = 32
BATCH_SIZE = 8
FAILED_STATES = ("DEPLOY_FAILED", "UNHEALTHY")  # Serve application statuses read as FAILED
MESSAGE_LINES = 5  # of Serve's message in status_message
MESSAGE_LINE_CHARS = 300
_LOCK = threading.Lock()


def replica_limit(workers: int, max_queue: int, replicas: int) -> int:
    """`max_ongoing_requests` of one replica: its share of the service's queue plus the requests
    its workers are answering, at least MIN_ONGOING (see the module docstring for why)."""
    return max(MIN_ONGOING, workers + math.ceil(max_queue / max(replicas, 1)))


def observed(app: dict[str, Any] | None, prior: Attributes) -> Attributes | None:
    """What a refresh reads from the Serve application of a (not suspended) service: None when
    it is gone or going, FAILED with Serve's last message lines when it failed, READY when it
    runs, else (deploying) the prior attributes."""
    if app is None or app.get("status") == "DELETING":
        return None
    attrs = public(prior)
    status = app.get("status")
    if status in FAILED_STATES:
        dep = (app.get("deployments") or {}).get(DEPLOYMENT) or {}
        text = str(app.get("message") or "").strip() or str(dep.get("message") or "").strip()
        lines = [
            t if len(t) <= MESSAGE_LINE_CHARS else t[: MESSAGE_LINE_CHARS - 3] + "..."
            for t in text.splitlines()
            if t.strip()
        ]
        cause = "\n".join(lines[-MESSAGE_LINES:]) or "no message from Serve"
        return {
            **attrs,
            "status": FAILED,
            "status_message": f"Ray Serve reports the application {status}:\n{cause}",
        }
    if status == "RUNNING":
        return {**attrs, "status": "READY", "status_message": None}
    return attrs


class ServiceHandler(RayHandler):
    type_name: ClassVar[str] = "service"
    computed: ClassVar[tuple[str, ...]] = COMPUTED

    def planned_id(self, ctx: ProviderContext, desired: Attributes) -> str | None:
        return name_as_id(ctx, desired)

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        result = service_diff(prior, desired, COMPUTED, REPLACE)
        return service_image.image_diff(ctx, result, prior, desired, self.rp.base_image)

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        return {
            **planned_status(desired, prior),
            **service_image.planned_image(ctx, prior, desired, self.rp.base_image),
        }

    def plan_checks(self, ctx: ProviderContext, desired: Attributes) -> list[Finding]:
        """pip_requirements parse and are fetched (into the Serve app's runtime_env, and into
        the image when the service names an image_repository) only through the service's
        build_external_access_integration."""
        out = requirement_findings(desired)
        if not out and (
            desired.get("pip_requirements") or service_image.repository(ctx, desired) is not None
        ):
            out.extend(
                egress_findings(
                    ctx, desired, "build_external_access_integration", f"The package install of {ctx.address}"
                )
            )
        return out

    # -- the application config ------------------------------------------------------------
    def _app(self, ctx: ProviderContext, name: str, desired: Attributes) -> dict[str, Any]:
        model = str(desired["model"])
        if not os.path.isabs(model):
            model = str((ctx.project_dir / model).resolve())
        if not (Path(model) / "metadata.json").exists():
            raise PermanentError(
                f"No model at {model}",
                "The service's model must be a training's model_uri "
                "or a directory with metadata.json and the model file.",
            )
        workers = int(filled(desired, "num_workers", ctx.address))
        actor: dict[str, Any] = {"num_cpus": self.rp.replica_cpus}
        if int(filled(desired, "gpu_requests", ctx.address)):
            actor["num_gpus"] = int(desired["gpu_requests"])
        args: dict[str, Any] = {
            "model_uri": model,
            "functions": list(filled(desired, "functions", ctx.address)),
            "batch_size": BATCH_SIZE,
        }
        if desired.get("max_batch_rows"):  # rows per model call: a larger request is cut
            args["max_batch_rows"] = int(desired["max_batch_rows"])
        if desired.get("max_request_bytes"):  # bytes per request body: 413 beyond
            args["max_body_bytes"] = int(desired["max_request_bytes"])
        if desired.get("model_class"):
            # imported in the replicas from the project directory (shared with a local cluster)
            args["model_class"] = str(desired["model_class"])
            args["project_dir"] = str(ctx.project_dir)
        replicas = int(filled(desired, "max_instances", ctx.address))
        queue = int(filled(desired, "max_queue", ctx.address))
        return {
            "name": name,
            "route_prefix": f"/{name}",
            "import_path": "mlrt_iac.runtime.ray_entry:build_app",
            "args": args,
            "deployments": [
                {
                    "name": DEPLOYMENT,
                    "num_replicas": replicas,
                    "max_ongoing_requests": replica_limit(workers, queue, replicas),
                    "max_queued_requests": queue,
                    "ray_actor_options": actor,
                }
            ],
        }

    def _runtime_env(self, ctx: ProviderContext, desired: Attributes) -> dict[str, Any]:
        """What the replicas carry (`runtime_env.workload_env`): mlrt's runtime, the project (a
        model class's module) and the service's pip_requirements."""
        return workload_env(
            data_dir=ctx.data_dir,
            project_dir=ctx.project_dir,
            provider_env=self.rp.runtime_env,
            env_vars={},
            pip_requirements=list(desired.get("pip_requirements") or []),
        )

    def _put(self, dash: Dashboard, target: Target, name: str, app: dict[str, Any] | None) -> dict[str, Any]:
        """Replace (or with None remove) one application, keeping every other one as deployed."""
        with _LOCK:
            current = dash.serve_status()
            apps = []
            for other, details in (current.get("applications") or {}).items():
                if other == name:
                    continue
                cfg = details.get("deployed_app_config")
                if cfg:
                    apps.append(cfg)
            if app is not None:
                apps.append(app)
            http = dict(current.get("http_options") or {})
            port = int(http.get("port") or target.serve_port or self.rp.serve_port)
            body: dict[str, Any] = {
                "http_options": {"host": http.get("host") or "127.0.0.1", "port": port},
                "applications": apps,
            }
            if not current.get("controller_info"):
                body["proxy_location"] = "HeadOnly"
            dash.serve_put(body)
            return {"port": port, "before": (current.get("applications") or {}).get(name, {})}

    def _endpoint(self, dash: Dashboard, port: int, name: str) -> str:
        host = httpx.URL(dash.url).host or "127.0.0.1"
        return f"http://{host}:{port}/{name}"

    def _wait_ready(
        self,
        ctx: ProviderContext,
        dash: Dashboard,
        name: str,
        before: dict[str, Any],
        endpoint: str,
        model: str,
    ) -> None:
        started = time.monotonic()
        binds = deadline_binds(ctx, READY_TIMEOUT)
        limit = seconds_left(ctx, READY_TIMEOUT)
        old_time = before.get("last_deployed_time_s")
        while time.monotonic() - started < limit:
            app = (dash.serve_status().get("applications") or {}).get(name) or {}
            status = app.get("status")
            fresh = old_time is None or app.get("last_deployed_time_s") != old_time
            if status == "DEPLOY_FAILED" and fresh:
                raise PermanentError(
                    f"Ray Serve could not deploy {ctx.address}", str(app.get("message") or "")[:3000]
                )
            dep = (app.get("deployments") or {}).get(DEPLOYMENT) or {}
            if (
                fresh
                and status == "RUNNING"
                and dep.get("status") == "HEALTHY"
                and self._serves(endpoint, model)
            ):
                return
            if ctx.cancel.is_set():
                raise PermanentError("cancelled while waiting for the Serve application to become ready")
            ctx.progress(
                f"waiting for {endpoint}/health ({status or 'PENDING'}) [{time.monotonic() - started:.0f}s]"
            )
            time.sleep(0.5)
        if binds:
            raise exceeded(ctx, f"the Serve application of {ctx.address}", "See `serve status`.")
        raise PermanentError(
            f"{ctx.address} did not become ready within {READY_TIMEOUT:.0f}s",
            "See the Serve page of the Ray dashboard or `serve status` for the replicas' errors.",
        )

    @staticmethod
    def _serves(endpoint: str, model: str) -> bool:
        try:
            resp = httpx.get(endpoint + "/health", timeout=2.0)
            return resp.status_code == 200 and resp.json().get("model") == model
        except (httpx.HTTPError, ValueError):
            return False

    def _attrs(
        self, desired: Attributes, endpoint: str | None, status: str, image: str | None = None
    ) -> Attributes:
        urls = {f: f"{endpoint}/{f}" for f in desired.get("functions") or []} if endpoint else {}
        return {
            "endpoint": endpoint,
            "functions_urls": urls,
            "status": status,
            "status_message": None,
            "image": image,
        }

    def _deploy(self, ctx: ProviderContext, name: str, desired: Attributes, target: Target) -> Attributes:
        dash = target.dashboard
        dash.check()
        if desired.get("suspended"):
            self._put(dash, target, name, None)
            return self._attrs(desired, None, "SUSPENDED")
        app = self._app(ctx, name, desired)
        app["runtime_env"] = upload(dash, self._runtime_env(ctx, desired))
        got = self._put(dash, target, name, app)
        endpoint = self._endpoint(dash, got["port"], name)
        self._wait_ready(ctx, dash, name, got["before"], endpoint, app["args"]["model_uri"])
        return self._attrs(desired, endpoint, "READY")

    # -- protocol ----------------------------------------------------------------------------
    @staticmethod
    def _use(ctx: ProviderContext, name: str, *attrs: Attributes) -> None:
        """Record the models of `attrs` as served by this service (none: release them), so a
        training never prunes a model version in use (`providers.kit.models`)."""
        models.record_use(
            ctx.data_dir, f"ray-{name}", [models.model_path(ctx.project_dir, a.get("model")) for a in attrs]
        )

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        name = file_safe_name(ctx, desired)
        # The image first (when the service names an image_repository): a failed build deploys nothing.
        image, built = service_image.build(ctx, desired, self.rp.base_image)
        if not desired.get("suspended"):
            self.claim_pool(ctx)()  # a suspended pool resumes (auto_resume); see compute_pool.py
        target = self.target(ctx)
        self._use(ctx, name, desired)
        try:
            attrs = {**self._deploy(ctx, name, desired, target), "image": image}
            return CreateResult(name, attrs, {**target.private(), **built})
        except BaseException:
            try:
                self._put(target.dashboard, target, name, None)
            except Exception:
                pass
            self._use(ctx, name)
            raise

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        image, built = service_image.build(ctx, desired, self.rp.base_image)
        if not desired.get("suspended"):
            self.claim_pool(ctx)()  # a suspended pool resumes (auto_resume); see compute_pool.py
        target = self.target(ctx, ctx.private)
        self._use(ctx, id, prior, desired)  # both while Serve rolls
        try:
            if prior.get("status") == FAILED and not desired.get("suspended"):
                # Serve does not deploy an unchanged config again: remove the failed one first
                self._remove(ctx, target, id)
            attrs = self._deploy(ctx, id, desired, target)
        except BaseException:
            self._use(ctx, id, prior)
            raise
        self._use(ctx, id, desired)
        kept = {k: ctx.private[k] for k in ("image", service_image.PARTS_KEY) if k in ctx.private}
        return UpdateResult({**attrs, "image": image}, {**target.private(), **kept, **built})

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        target = self.target(ctx, ctx.private)
        dash = target.dashboard
        if target.managed and suspend_history(ctx.data_dir, dash.url)[0]:
            return ReadResult({**public(prior), "status": "SUSPENDED"})  # its pool is suspended
        if target.managed and not dash.reachable():
            return ReadResult(None)
        apps = dash.serve_status().get("applications") or {}
        if prior.get("suspended"):
            return ReadResult(public(prior))
        return ReadResult(observed(apps.get(id), prior))

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        """`read` for many services with one Serve applications GET per cluster."""
        results: list[ReadResult | Exception | None] = [None] * len(requests)
        for target, indexes in by_cluster(self, requests, results).values():
            if target.managed and suspend_history(requests[indexes[0]].ctx.data_dir, target.dashboard.url)[0]:
                for i in indexes:  # its pool is suspended (see `read`)
                    results[i] = ReadResult({**public(requests[i].prior), "status": "SUSPENDED"})
                continue
            try:
                if target.managed and not target.dashboard.reachable():
                    apps = None
                else:
                    apps = target.dashboard.serve_status().get("applications") or {}
            except Exception as exc:
                for i in indexes:
                    results[i] = exc
                continue
            for i in indexes:
                prior = requests[i].prior
                if apps is None:
                    results[i] = ReadResult(None)
                elif prior.get("suspended"):
                    results[i] = ReadResult(public(prior))
                else:
                    results[i] = ReadResult(observed(apps.get(requests[i].id), prior))
        return BatchReadResult([r if r is not None else ReadResult(None) for r in results])

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        target = self.target(ctx, ctx.private)
        dash = target.dashboard
        if target.managed and not dash.reachable():
            self._use(ctx, id)
            return
        self._remove(ctx, target, id)
        self._use(ctx, id)

    def _remove(self, ctx: ProviderContext, target: Target, id: str) -> None:
        """Remove the application and wait until Serve has deleted it."""
        dash = target.dashboard
        if id not in (dash.serve_status().get("applications") or {}):
            return
        self._put(dash, target, id, None)
        deadline = time.monotonic() + seconds_left(ctx, 60.0)
        while time.monotonic() < deadline:
            if id not in (dash.serve_status().get("applications") or {}):
                return
            time.sleep(0.3)
        raise PermanentError(
            f"The Serve application {id} is still being deleted", "Run `mlrt destroy` again in a moment."
        )

    def logs(
        self, ctx: ProviderContext, id: str, attributes: Attributes, query: LogQuery
    ) -> Iterator[LogLine]:
        """`mlrt logs`: the Serve replicas' logs (see providers/ray/logs.py)."""
        return service_logs(ctx, self.target(ctx, ctx.private).dashboard, id, DEPLOYMENT, query)
