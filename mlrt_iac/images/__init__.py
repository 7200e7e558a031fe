"""Image builds for workloads, engine-side and provider-neutral: providers ask for an image and
get a digest. Daemonless and reproducible (same inputs, same digest); see build.py.

`inputs_digest` / `input_parts` decide at plan time, without building, whether an image must be
rebuilt and why; `build_image` builds and pushes it; `index_hosts` tells which hosts a build's pip
must reach (for the EAI check); `validate_requirements` checks requirement strings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlrt_iac.images.digest import PARTS, changed_inputs, input_parts, inputs_digest
from mlrt_iac.images.pipconfig import index_hosts
from mlrt_iac.images.requirements import validate_requirements
from mlrt_iac.images.types import (
    BuiltImage,
    ImageInputs,
    LayerInfo,
    OciLayoutTarget,
    RegistryAuth,
    RegistryTarget,
    Target,
)

if TYPE_CHECKING:
    from mlrt_iac.images.build import build_image


def __getattr__(name: str) -> Any:
    # The builder (and httpx under it) is imported on first use: a plan only needs the digests.
    if name == "build_image":
        from mlrt_iac.images.build import build_image

        return build_image
    raise AttributeError(f"module 'mlrt_iac.images' has no attribute {name!r}")


__all__ = [
    "PARTS",
    "BuiltImage",
    "ImageInputs",
    "LayerInfo",
    "OciLayoutTarget",
    "RegistryAuth",
    "RegistryTarget",
    "Target",
    "build_image",
    "changed_inputs",
    "index_hosts",
    "input_parts",
    "inputs_digest",
    "validate_requirements",
]
