"""`image_repository` on the local provider: an OCI image-layout directory (the handler lives in
`providers.kit.oci_layout`, shared with the ray provider); repositories without a `registry` go
under the provider's `root`, else the project's `.mlrt/`."""

from __future__ import annotations

from pathlib import Path

from mlrt_iac.provider import ProviderContext
from providers.kit.oci_layout import MARKER, OciLayoutRepositoryHandler, is_valid_layout, write_layout

from .common import LocalHandler

__all__ = ["MARKER", "ImageRepositoryHandler", "is_valid_layout", "write_layout"]


class ImageRepositoryHandler(OciLayoutRepositoryHandler, LocalHandler):
    """OCI layout directories under the local provider's storage root."""

    def storage_root(self, ctx: ProviderContext) -> Path:
        return self.lp.storage_root(ctx)
