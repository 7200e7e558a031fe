"""Refresh: read every object in state through its provider, in parallel, and find drift.

Handlers that implement `read_many` (the `BatchReader` protocol) get all their resources in one
call, so a provider can answer with one listing per kind instead of one request per object;
the others are read one by one. `MLRT_READ_MANY=0` in the environment (or `batch=False`)
forces the per-object `read` for every handler: the old path, kept for comparison
(bench/refresh_scale.py) and as an escape hatch should a provider's listing misbehave.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..diagnostics import Diagnostics
from ..errors import MlrtError
from ..provider import (
    BatchReader,
    Provider,
    ProviderContext,
    ReadRequest,
    Related,
    ResourceHandler,
    object_name,
)
from ..state import ResourceState
from .model import Drift

FAST_PROBE_SECS = 0.05  # read serially at least this long before judging read speed
FAST_READ_SECS = 0.002  # below this per read, threads cost more than they overlap
READ_MANY_ENV = "MLRT_READ_MANY"  # "0": per-object reads only (see the module docstring)

Outcome = tuple[ResourceState, dict[str, Any] | None, Exception | None]


def batch_reads_enabled() -> bool:
    """Whether refresh uses `read_many` where handlers have it (the default)."""
    return os.environ.get(READ_MANY_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def refresh_resources(
    resources: Iterable[ResourceState],
    provider_for: Callable[[str], Provider],
    ctx_base: ProviderContext,
    parallelism: int,
    batch: bool | None = None,
) -> tuple[dict[str, dict[str, Any] | None], list[Drift], Diagnostics]:
    """Return address -> observed attributes (None when gone), the drift found, and errors.

    A resource whose read fails keeps its prior attributes and adds an error: a plan must not
    guess that an object is gone when it merely could not be reached. Objects a batch read
    found under mlrt's mark but in no state entry become one warning (never a deletion).
    `batch` None follows `MLRT_READ_MANY`.
    """
    resources = list(resources)
    by_address = {r.address: r for r in resources}
    diags = Diagnostics()
    observed: dict[str, dict[str, Any] | None] = {}
    drift: list[Drift] = []

    def context(r: ResourceState) -> ProviderContext:
        related = {d: _related(by_address[d]) for d in r.dependencies if d in by_address}
        return ctx_base.for_resource(r.address, related, r.private, sensitive_paths=r.sensitive_attributes)

    def handler_of(r: ResourceState) -> ResourceHandler | None:
        return provider_for(r.provider).handler(r.type)

    def read_one(r: ResourceState) -> Outcome:
        try:
            handler = handler_of(r)
            if handler is None:
                return r, dict(r.attributes), None
            res = handler.read(context(r), r.id or "", dict(r.attributes))
            return r, res.attributes, None
        except Exception as exc:
            return r, dict(r.attributes), exc

    groups: dict[int, tuple[BatchReader, list[ResourceState]]] = {}
    single: list[ResourceState] = []
    use_batch = batch if batch is not None else batch_reads_enabled()
    for r in resources:
        try:
            handler = handler_of(r) if use_batch else None
        except Exception:
            handler = None  # read_one reports the same failure for this resource
        if isinstance(handler, BatchReader):
            groups.setdefault(id(handler), (handler, []))[1].append(r)
        else:
            single.append(r)

    outcomes: dict[str, Outcome] = {}
    unmanaged: list[str] = []
    for reader, group in groups.values():
        found, extra = _read_group(reader, group, context, ctx_base)
        outcomes.update((o[0].address, o) for o in found)
        unmanaged.extend(extra)

    # Reads that answer at once (files, a local API) gain nothing from threads and lose to their
    # switching: read serially while reads stay fast, and hand the rest to `parallelism`
    # workers as soon as they turn out slow enough to overlap.
    results: list[Outcome] = [read_one(r) for r in single[:1]]  # the first read also sets the provider up
    started = time.perf_counter()
    for r in single[1:]:
        results.append(read_one(r))
        elapsed = time.perf_counter() - started
        if elapsed > FAST_PROBE_SECS and elapsed / (len(results) - 1) > FAST_READ_SECS and parallelism > 1:
            break
    results.extend(_read_parallel(single[len(results) :], read_one, parallelism))
    outcomes.update((o[0].address, o) for o in results)

    for r in resources:
        _, attrs, exc = outcomes[r.address]
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
    if unmanaged:
        names = sorted(set(unmanaged))
        diags.add_warning(
            f"{len(names)} object{'s' if len(names) != 1 else ''} managed by mlrt but not in this state",
            "These carry mlrt's managed-by mark, but no resource in this state owns them (an "
            "interrupted apply, another workspace, or made by hand). mlrt leaves them alone: adopt "
            "one with an `import` block or `mlrt import`, or delete it yourself.\n  " + "\n  ".join(names),
        )
    return observed, drift, diags


def _read_group(
    handler: BatchReader,
    group: list[ResourceState],
    context: Callable[[ResourceState], ProviderContext],
    ctx_base: ProviderContext,
) -> tuple[list[Outcome], list[str]]:
    """One `read_many` call for every resource of one handler; a failure of the whole call is
    every resource's failure (each keeps its prior attributes)."""
    requests: list[ReadRequest] = []
    failed: list[Outcome] = []
    kept: list[ResourceState] = []
    for r in group:
        try:
            requests.append(ReadRequest(context(r), r.id or "", dict(r.attributes)))
            kept.append(r)
        except Exception as exc:
            failed.append((r, dict(r.attributes), exc))
    try:
        batch = handler.read_many(ctx_base, requests)
    except Exception as exc:
        return failed + [(r, dict(r.attributes), exc) for r in kept], []
    if len(batch.results) != len(kept):
        error = MlrtError(
            f"read_many of {type(handler).__name__} returned {len(batch.results)} results "
            f"for {len(kept)} objects",
            "This is a bug in the provider.",
        )
        return failed + [(r, dict(r.attributes), error) for r in kept], []
    out = list(failed)
    for r, res in zip(kept, batch.results):
        if isinstance(res, Exception):
            out.append((r, dict(r.attributes), res))
        else:
            out.append((r, res.attributes, None))
    return out, list(batch.unmanaged)


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
