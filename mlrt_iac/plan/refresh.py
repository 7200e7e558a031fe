"""Refresh: read every object in state through its provider, in parallel, and find drift."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

from ..diagnostics import Diagnostics
from ..errors import MlrtError
from ..provider import Provider
from .model import Drift


def refresh_resources(resources: Iterable[Any], provider_for: Callable[[str], Provider], ctx_base: Any,
                      parallelism: int) -> tuple[dict[str, dict[str, Any] | None], list[Drift], Diagnostics]:
    """Return address -> observed attributes (None when gone), the drift found, and errors.

    A resource whose read fails keeps its prior attributes and adds an error: a plan must not
    guess that an object is gone when it merely could not be reached.
    """
    resources = list(resources)
    by_address = {r.address: r for r in resources}
    diags = Diagnostics()
    observed: dict[str, dict[str, Any] | None] = {}
    drift: list[Drift] = []

    def read_one(r: Any) -> tuple[Any, dict[str, Any] | None, Exception | None]:
        try:
            provider = provider_for(r.provider)
            handler = provider.handler(r.type)
            if handler is None:
                return r, dict(r.attributes), None
            related = {d: dict(by_address[d].attributes) for d in (r.dependencies or []) if d in by_address}
            res = handler.read(ctx_base.for_resource(r.address, related), r.id, dict(r.attributes))
            return r, res.attributes, None
        except Exception as exc:  # noqa: BLE001 - reported as a diagnostic below
            return r, dict(r.attributes), exc

    if len(resources) > 1 and parallelism > 1:
        with ThreadPoolExecutor(max_workers=min(parallelism, len(resources))) as pool:
            results = list(pool.map(read_one, resources))
    else:
        results = [read_one(r) for r in resources]

    for r, attrs, exc in results:
        if exc is not None:
            summary = exc.summary if isinstance(exc, MlrtError) else str(exc)
            diags.add_error(f"Failed to refresh {r.address}", f"{summary}. The object may still exist; "
                            "fix the problem (or use -refresh=false) and plan again.")
            observed[r.address] = attrs
            continue
        observed[r.address] = attrs
        prior = r.attributes
        if attrs is None:
            drift.append(Drift(r.address, r.type, dict(prior), None))
        else:
            changed = sorted(k for k in set(prior) | set(attrs) if prior.get(k) != attrs.get(k))
            if changed:
                drift.append(Drift(r.address, r.type, dict(prior), dict(attrs), changed))
    return observed, drift, diags
