"""Refresh: read every object in state through its provider, in parallel, and find drift."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..diagnostics import Diagnostics
from ..errors import MlrtError
from ..provider import Provider, ProviderContext, Related, object_name
from ..state import ResourceState
from .model import Drift

FAST_PROBE_SECS = 0.05  # read serially at least this long before judging read speed
FAST_READ_SECS = 0.002  # below this per read, threads cost more than they overlap


def refresh_resources(
    resources: Iterable[ResourceState],
    provider_for: Callable[[str], Provider],
    ctx_base: ProviderContext,
    parallelism: int,
) -> tuple[dict[str, dict[str, Any] | None], list[Drift], Diagnostics]:
    """Return address -> observed attributes (None when gone), the drift found, and errors.

    A resource whose read fails keeps its prior attributes and adds an error: a plan must not
    guess that an object is gone when it merely could not be reached.
    """
    resources = list(resources)
    by_address = {r.address: r for r in resources}
    diags = Diagnostics()
    observed: dict[str, dict[str, Any] | None] = {}
    drift: list[Drift] = []

    def read_one(r: ResourceState) -> tuple[ResourceState, dict[str, Any] | None, Exception | None]:
        try:
            provider = provider_for(r.provider)
            handler = provider.handler(r.type)
            if handler is None:
                return r, dict(r.attributes), None
            related = {d: _related(by_address[d]) for d in r.dependencies if d in by_address}
            ctx = ctx_base.for_resource(r.address, related, r.private)
            res = handler.read(ctx, r.id or "", dict(r.attributes))
            return r, res.attributes, None
        except Exception as exc:
            return r, dict(r.attributes), exc

    # Reads that answer at once (files, a local API) gain nothing from threads and lose to their
    # switching: read serially while reads stay fast, and hand the rest to `parallelism`
    # workers as soon as they turn out slow enough to overlap.
    results: list[Any] = [read_one(r) for r in resources[:1]]  # the first read also sets the provider up
    started = time.perf_counter()
    for r in resources[1:]:
        results.append(read_one(r))
        elapsed = time.perf_counter() - started
        if elapsed > FAST_PROBE_SECS and elapsed / (len(results) - 1) > FAST_READ_SECS and parallelism > 1:
            break
    results.extend(_read_parallel(resources[len(results) :], read_one, parallelism))

    for r, attrs, exc in results:
        if exc is not None:
            summary = exc.summary if isinstance(exc, MlrtError) else str(exc)
            diags.add_error(
                f"Failed to refresh {r.address}",
                f"{summary}. The object may still exist; "
                "fix the problem (or use -refresh=false) and plan again.",
            )
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


def _read_parallel(rest: list[Any], read_one: Callable[[Any], Any], parallelism: int) -> list[Any]:
    """`parallelism` workers pull from one queue (no task object per resource)."""
    if not rest:
        return []
    queue = iter(range(len(rest)))
    lock = threading.Lock()
    slots: list[Any] = [None] * len(rest)

    def work() -> None:
        while True:
            with lock:
                i = next(queue, None)
            if i is None:
                return
            slots[i] = read_one(rest[i])

    n = min(parallelism, len(rest))
    with ThreadPoolExecutor(max_workers=n) as pool:
        for f in [pool.submit(work) for _ in range(n)]:
            f.result()
    return slots


def _related(r: ResourceState) -> Related:
    return Related(r.address, r.type, object_name(r.address, r.attributes), dict(r.attributes), r.private)
