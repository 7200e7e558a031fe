"""What every local handler shares: typed access to its provider's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.kit.handler import KitHandler

if TYPE_CHECKING:
    from . import LocalProvider


class LocalHandler(KitHandler):
    """A handler of the local provider (typed access to the provider's configuration)."""

    @property
    def lp(self) -> LocalProvider:
        return self.provider  # type: ignore[return-value]
