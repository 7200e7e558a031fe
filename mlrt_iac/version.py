"""The one version number of mlrt: the installed distribution's (pyproject.toml sets it)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def mlrt_version() -> str:
    """The installed mlrt-iac version; "0.0.0+source" when running from a tree that was never
    installed (e.g. the runtime shipped to a Ray worker as a plain module)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlrt-iac")
    except PackageNotFoundError:
        return "0.0.0+source"
