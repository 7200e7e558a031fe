"""The `provider "kubernetes" { ... }` block, validated.

Namespaces: without `namespace`, every compute_pool gets its own Namespace `mlrt-<pool>` with a
ResourceQuota, and the pool's trainings and services run there. With `namespace = "team-a"`
everything goes into that existing namespace and no Namespace or ResourceQuota is rendered
(several quotas in one namespace would all apply, so per-pool quotas cannot be expressed).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlrt_iac.config.instances import ProviderConfig
from mlrt_iac.diagnostics import Diagnostics, SourceRange
from mlrt_iac.model import FamilyCatalog, build_catalog

DEFAULT_IMAGE = "rayproject/ray-ml:2.60.0-py311"
_BLOCK = SourceRange.at("<provider kubernetes>", 1)  # positions are the engine's to report
DEFAULT_GPU_TOLERATIONS: list[dict[str, str]] = [
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
]


class KubernetesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    fqdn_policies: Literal["none", "cilium"] = "none"
    gpu_node_selector: dict[str, str] = Field(default_factory=dict)
    gpu_tolerations: list[dict[str, Any]] = Field(default_factory=lambda: list(DEFAULT_GPU_TOLERATIONS))
    image: str = DEFAULT_IMAGE  # the runtime image (Ray + ML libraries + mlrt_iac.runtime)
    # Server-side apply takes back the fields mlrt declares when another field manager
    # (kubectl edit, scale, label, patch) took them: the plan shows such drift and promises
    # to repair it. `false` makes apply fail with the conflict instead (the plan says so),
    # for clusters where others are meant to own some of mlrt's fields.
    force_conflicts: bool = True
    registry: str = "registry.local:5000"  # default registry for image_repository
    image_pull_secret: str | None = None  # an existing docker-registry Secret name
    # The base of the images built for services that name an image_repository (a service's own
    # `base_image` wins). Unset: `scratch`, mlrt's layers alone, which have no Python
    # interpreter, so such a pod cannot start on a real cluster: set a base with Python (the
    # version of the Python mlrt runs with, e.g. "python:3.11-slim" in your registry). The
    # default stays unset so that a plan and the tests need no external base image.
    base_image: str | None = None
    ingress_class: str | None = None
    artifact_root: str = "/mlrt/artifacts"  # where trainings write models (use s3://, gs://)
    ray_version: str = "2.60.0"
    # `instance_family "NAME" { cpus = ... }` blocks, as evaluated; parsed by `families`.
    instance_family: dict[str, Any] | list[Any] = Field(default_factory=dict)
    # The readiness wait when no deadline is given (handlers called outside the engine, which
    # always sets one from the resource's `timeouts { }` or its own default).
    ready_timeout_secs: float = 900.0
    poll_interval_secs: float = 2.0
    # Objects per LIST page when refresh reads every object of a kind at once (kubectl's
    # default chunk size); larger pages mean fewer requests and bigger responses.
    list_page_size: int = Field(default=500, ge=1)

    @cached_property
    def families(self) -> FamilyCatalog:
        """Built-in families plus this block's custom ones, parsed by the model's catalogue: the
        same facts (and the same rules) the engine validated the configuration with."""
        block = ProviderConfig("kubernetes", None, {"instance_family": self.instance_family}, _BLOCK)
        return build_catalog([block])


def parse_config(raw: dict[str, Any]) -> tuple[KubernetesConfig, Diagnostics]:
    """Validate the provider block; problems become diagnostics, never exceptions."""
    diags = Diagnostics()
    try:
        return KubernetesConfig.model_validate(raw), diags
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "provider"
            diags.add_error(
                f'Invalid kubernetes provider argument "{where}"',
                f'{err["msg"]}. Fix the provider "kubernetes" block.',
            )
        return KubernetesConfig(), diags
