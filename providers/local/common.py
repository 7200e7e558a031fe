"""What every local handler shares: access to its provider's settings and safe object names."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import Attributes, DiffResult, ProviderContext, ResourceHandler

if TYPE_CHECKING:
    from . import LocalProvider

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")
_ADDRESS_TAIL = re.compile(r'([A-Za-z0-9_-]+)(?:\[(?:"([^"]*)"|(\d+))\])?$')


class LocalHandler(ResourceHandler):
    """A handler of the local provider (typed access to the provider's configuration)."""

    @property
    def lp(self) -> LocalProvider:
        return self.provider  # type: ignore[return-value]

    def normalise(self, ctx: ProviderContext, desired: Attributes) -> Attributes:
        """Desired attributes as create would record them (the name filled in), so that a
        default left unset in the configuration never shows up as a change."""
        out = dict(desired)
        if out.get("name") is None:
            try:
                out["name"] = resource_name(ctx, out)
            except PermanentError:
                pass
        return out

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        result = super().diff(ctx, prior, self.normalise(ctx, desired))
        for key in result.requires_replace:
            result.reasons.setdefault(key, f"{key} cannot change in place")
        return result


def resource_name(ctx: ProviderContext, attrs: Attributes) -> str:
    """The object's name: the `name` attribute, else the block label (+ its count/for_each key).

    Names become file and directory names, so they must be plain (no `/`, no `..`).
    """
    name: Any = attrs.get("name")
    if not isinstance(name, str) or not name:
        m = _ADDRESS_TAIL.search(ctx.address or "")
        if m is None:
            raise PermanentError(
                "A local resource needs a name",
                f'Could not derive a name from address "{ctx.address}"; set `name = "..."`.',
            )
        key = m.group(2) if m.group(2) is not None else m.group(3)
        name = m.group(1) if key is None else f"{m.group(1)}-{key}"
    if not _SAFE.match(name) or name in (".", ".."):
        raise PermanentError(
            f'Invalid name "{name}" for a local resource',
            "Use letters, digits, '-', '_' and '.', starting with a letter or digit; the "
            "local provider uses the name as a file name.",
        )
    return name
