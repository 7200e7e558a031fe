"""`KubernetesProvider`: the provider object the engine loads through the entry point."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from clients.kubernetes import KubeClient
from mlrt_iac.diagnostics import Diagnostics
from mlrt_iac.provider import (
    Attributes,
    Provider,
    ProviderContext,
    RenderItem,
    RenderOutput,
    ResourceHandler,
)
from mlrt_iac.version import mlrt_version

from .config import KubernetesConfig, parse_config
from .handlers import HANDLERS
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
