"""`KubernetesProvider`: the provider object the engine loads through the entry point."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from clients.kubernetes import KubeClient
from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.errors import MlrtError
from mlrt_iac.provider import (
    Attributes,
    Finding,
    PlannedResource,
    Provider,
    ProviderContext,
    RenderItem,
    RenderOutput,
    ResourceHandler,
)
from mlrt_iac.version import mlrt_version

from . import quota
from .config import KubernetesConfig, parse_config
from .handlers import HANDLERS
from .naming import ADDRESS_ANNOTATION
from .render import render_items
from .write import write_render


class KubernetesProvider(Provider):
    """KubeRay RayClusters/RayJobs, Deployments and NetworkPolicies through the official client.

    The cluster connection is opened on first use, so `validate`, `plan` without refresh and
    `render` work with no cluster at all. It is a `Renderer`: `render` returns the very objects
    the handlers apply (both call `render.render_resource`).
    """

    name: ClassVar[str] = "kubernetes"
    version: ClassVar[str] = mlrt_version()
    handler_classes: ClassVar[tuple[type[ResourceHandler], ...]] = HANDLERS

    def __init__(self) -> None:
        super().__init__()
        self.settings = KubernetesConfig()
        self._client: KubeClient | None = None
        self._lock = threading.Lock()

    def configure(self, config: Attributes, ctx: ProviderContext) -> Diagnostics:
        self.config = dict(config)
        self.settings, diags = parse_config(dict(config))
        return diags

    def client(self) -> KubeClient:
        with self._lock:
            if self._client is None:
                self._client = KubeClient(self.settings.kubeconfig, self.settings.context)
            return self._client

    def check_plan(self, ctx: ProviderContext, planned: Sequence[PlannedResource]) -> list[Finding]:
        """What each pool's ResourceQuota reserves, for the pools whose share changes in this
        plan (quota.py): the plan says how much the namespace may use, and for whom."""
        items = [
            RenderItem(p.address, p.type, dict(p.attributes))
            for p in planned
            if p.action != "delete" and p.type in ("compute_pool", "service", "training")
        ]
        try:
            manifests = render_items(items, self.settings).manifests
        except MlrtError:
            return []  # a resource that cannot render yet: its own checks report it
        actions = {p.address: p.action for p in planned}
        changing: set[str] = set()  # namespaces where something is created or changed
        for obj in manifests:
            meta = obj.get("metadata") or {}
            if actions.get((meta.get("annotations") or {}).get(ADDRESS_ANNOTATION, "")) not in (
                None,
                "no-op",
            ):
                changing.add(str(meta.get("namespace") or ""))
        out: list[Finding] = []
        for obj in manifests:
            meta = obj["metadata"]
            if obj["kind"] != "ResourceQuota" or meta.get("namespace") not in changing:
                continue
            shares = quota.reservations_of(obj)
            out.append(
                Finding(
                    "warning",
                    f"ResourceQuota {meta['namespace']}/{meta['name']} reserves {quota.total(shares)}",
                    "The pool's namespace may run at most this at once: its RayCluster and the "
                    f"services and trainings on it ({quota.describe(shares)}).",
                    address=str(meta["annotations"].get(ADDRESS_ANNOTATION, "")),
                )
            )
        return out

    def render(self, resources: list[RenderItem]) -> RenderOutput:
        """Every manifest of `resources` and the warnings about what they cannot express."""
        return render_items(resources, self.settings)

    def write_render(self, manifests: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        """`mlrt render -out DIR`: one file per object plus kustomization.yaml (see write.py)."""
        return write_render(manifests, Path(out_dir))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
