"""`image_repository` on the ray provider: an OCI layout directory as on the local provider, or a
recorded registry.

Ray workloads carry their code in `runtime_env` (see `runtime_env.py`), so a repository is where
images for Ray's container support (`image_uri`) live, not something every run needs. Which
one `registry` means follows Docker's rule for the first part of an image reference:

- unset, or a directory path (`./images`, `/srv/oci`, `oci:/srv/oci`, or a first path part with
  no `.` or `:` that is not `localhost`): an OCI image layout directory, exactly the local
  provider's (`providers.kit.oci_layout`), under `.mlrt/ray/registry/` when unset;
- a registry host (`127.0.0.1:5000`, `ghcr.io/acme`, `localhost/team`): recorded only, no
  directory and no call to the registry; `repository_url` is `<registry>/<name>` and the id is
  that URL. Pushing there is the image builder's job; a cluster pulls from it by that URL.

A URL with a scheme (`https://...`) is neither, and a validation error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.provider import (
    Attributes,
    BatchReadResult,
    CreateResult,
    ProviderContext,
    ReadRequest,
    ReadResult,
    UpdateResult,
)
from mlrt_iac.values import is_known
from providers.kit.batch import read_by_scan
from providers.kit.names import file_safe_name
from providers.kit.oci_layout import OciLayoutRepositoryHandler
from providers.kit.records import plain


def is_registry(registry: Any) -> bool:
    """Whether `registry` names a registry host (Docker's rule) rather than a directory."""
    if not isinstance(registry, str) or not registry or "://" in registry:
        return False
    if registry.startswith(("oci:", "/", "~")):
        return False
    first = registry.split("/", 1)[0]
    if first in (".", ".."):
        return False
    return "." in first or ":" in first or first == "localhost"


class ImageRepositoryHandler(OciLayoutRepositoryHandler):
    """A layout directory under `.mlrt/ray/registry/` (or `registry`), or a recorded registry URL."""

    provider_label: ClassVar[str] = "ray"

    def storage_root(self, ctx: ProviderContext) -> Path:
        return ctx.data_dir / "ray"

    @staticmethod
    def registry_url(ctx: ProviderContext, attrs: Attributes) -> str:
        return f"{str(attrs['registry']).rstrip('/')}/{file_safe_name(ctx, attrs)}"

    registry_help: ClassVar[str] = (
        'Write a registry as host[:port][/path] (e.g. "127.0.0.1:5000" or "ghcr.io/acme"), '
        "or a directory path for an OCI layout directory, or leave it unset."
    )

    def plan_computed(
        self, ctx: ProviderContext, desired: Attributes, prior: Attributes | None
    ) -> Attributes:
        reg = desired.get("registry")
        if is_known(reg) and is_registry(reg) and is_known(desired.get("name")):
            return {"repository_url": self.registry_url(ctx, plain(desired))}
        return super().plan_computed(ctx, desired, prior)

    def planned_id(self, ctx: ProviderContext, desired: Attributes) -> str | None:
        reg = desired.get("registry")
        if is_known(reg) and is_registry(reg) and is_known(desired.get("name")):
            return self.registry_url(ctx, plain(desired))
        return super().planned_id(ctx, desired)

    def read_many(self, ctx: ProviderContext, requests: Sequence[ReadRequest]) -> BatchReadResult:
        """As the layout handler's (one scan per folder); recorded registries read as recorded."""
        return read_by_scan(
            self.read,
            requests,
            lambda req: None if is_registry(req.prior.get("registry")) or not req.id else Path(req.id),
        )

    def read(self, ctx: ProviderContext, id: str, prior: Attributes) -> ReadResult:
        if is_registry(prior.get("registry")):
            return ReadResult({**prior, "repository_url": id})  # recorded: nothing to look at
        return super().read(ctx, id, prior)

    def create(self, ctx: ProviderContext, desired: Attributes) -> CreateResult:
        attrs = plain(desired)
        if is_registry(attrs.get("registry")):
            url = self.registry_url(ctx, attrs)
            out = {**attrs, "name": file_safe_name(ctx, attrs), "repository_url": url}
            ctx.log(f"image_repository {out['name']}: recorded registry repository {url}")
            return CreateResult(url, out)
        return super().create(ctx, desired)

    def update(self, ctx: ProviderContext, id: str, prior: Attributes, desired: Attributes) -> UpdateResult:
        if is_registry(prior.get("registry")):
            return UpdateResult({**plain(desired), "repository_url": id})
        return super().update(ctx, id, prior, desired)

    def delete(self, ctx: ProviderContext, id: str, prior: Attributes) -> None:
        if is_registry(prior.get("registry")):
            return  # recorded only: the registry's images are not mlrt's to remove
        super().delete(ctx, id, prior)
