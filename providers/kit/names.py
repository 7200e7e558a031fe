"""The provider-side name of an object, checked to be usable as a file or directory name.

The name is `mlrt_iac.provider.object_name` (the `name` argument, else the block label with its
instance key): providers never parse addresses themselves.
"""

from __future__ import annotations

import re

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import Attributes, ProviderContext, object_name

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")


def file_safe_name(ctx: ProviderContext, attrs: Attributes) -> str:
    """The object's name; a PermanentError when it could not name a file (`/`, `..`, empty)."""
    name = object_name(ctx.address, attrs) if (attrs.get("name") or ctx.address) else ""
    if not _SAFE.match(name) or name in (".", ".."):
        raise PermanentError(
            f'Invalid name "{name}" for {ctx.address or "a resource"}',
            "Use letters, digits, '-', '_' and '.', starting with a letter or digit "
            '(set name = "..."); the provider uses the name as a file name.',
        )
    return name


def name_as_id(ctx: ProviderContext, attrs: Attributes) -> str | None:
    """`planned_id` for objects whose id is their name: known before create; None when the
    name is invalid (create then reports it, and nothing is made)."""
    try:
        return file_safe_name(ctx, attrs)
    except PermanentError:
        return None
