"""`KitHandler`: the base of local and ray handlers (names filled as create records them, and a
reason on every replacement)."""

from __future__ import annotations

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import Attributes, DiffResult, ProviderContext, ResourceHandler

from .names import file_safe_name


class KitHandler(ResourceHandler):
    """A handler whose objects are named by `file_safe_name`."""

    def normalise(self, ctx: ProviderContext, desired: Attributes) -> Attributes:
        """Desired attributes as create records them (the name filled in), so that a caller that
        leaves `name` unset does not see a change. The engine always sets it."""
        out = dict(desired)
        if out.get("name") is None:
            try:
                out["name"] = file_safe_name(ctx, out)
            except PermanentError:
                pass
        return out

    def diff(self, ctx: ProviderContext, prior: Attributes, desired: Attributes) -> DiffResult:
        result = super().diff(ctx, prior, self.normalise(ctx, desired))
        for key in result.requires_replace:
            result.reasons.setdefault(key, f"{key} cannot change in place")
        return result


def public(attrs: Attributes) -> Attributes:
    """Attributes without `_`-prefixed keys, which older versions kept there instead of in
    `private` (a refresh drops them from state)."""
    return {k: v for k, v in attrs.items() if not k.startswith("_")}
