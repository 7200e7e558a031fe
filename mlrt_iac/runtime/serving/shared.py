"""State shared by the worker processes of one instance: admission slots and metrics.

It lives in shared memory created by the instance's supervisor and handed to each spawned worker.
Each worker writes only its own row (counters, latency histogram, in-flight and queued counts), so
the supervisor can zero a crashed worker's queue slots and the totals never go backwards. Taking a
queue slot is a claim in the worker's own row followed by a look at every row (``try_enqueue``), which
keeps "at most max_queue waiting per instance" without a cross-process lock.

The per-request writes go through a flat ``memoryview`` of the memory (a few plain float stores,
no numpy scalar indexing: they are on every request's path); the scrape sums the rows with numpy.
"""

from __future__ import annotations

import bisect
import logging
import multiprocessing
from dataclasses import dataclass
from functools import cached_property
from multiprocessing.context import SpawnContext
from typing import Any

import numpy as np

LOG = logging.getLogger("mlrt.serving")

CODES: tuple[int, ...] = (200, 400, 404, 405, 408, 413, 500, 503)
BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
EXTRA_ENDPOINTS: tuple[str, ...] = ("health", "metrics", "other")
_CODE_AT = {code: i for i, code in enumerate(CODES)}  # where each listed code is counted


@dataclass(frozen=True)
class Layout:
    """Where each figure sits in a worker's row of the shared array (offsets computed once: they
    are looked up on every request)."""

    endpoints: tuple[str, ...]
    functions: tuple[str, ...]

    @cached_property
    def n_codes(self) -> int:
        return len(CODES) + 1  # the last one counts codes not listed

    @cached_property
    def requests_at(self) -> int:
        return 0

    @cached_property
    def hist_at(self) -> int:
        return self.requests_at + len(self.endpoints) * self.n_codes

    @cached_property
    def hist_width(self) -> int:
        return len(BUCKETS) + 2  # finite buckets, +Inf, then the sum of seconds

    @cached_property
    def rejected_at(self) -> int:
        return self.hist_at + len(self.functions) * self.hist_width

    @cached_property
    def inflight_at(self) -> int:
        return self.rejected_at + len(self.functions)

    @cached_property
    def queued_at(self) -> int:
        return self.inflight_at + 1

    @cached_property
    def width(self) -> int:
        return self.queued_at + 1


class SharedState:
    """Shared counters of one instance; picklable to spawned workers (the memory travels by fd)."""

    def __init__(self, ctx: SpawnContext, workers: int, functions: tuple[str, ...], max_queue: int) -> None:
        self.layout = Layout(endpoints=tuple(functions) + EXTRA_ENDPOINTS, functions=tuple(functions))
        self.workers = workers
        self.max_queue = max_queue
        self._raw = ctx.RawArray("d", workers * self.layout.width)
        self._view: np.ndarray | None = None
        self._flat: memoryview[float] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_view"] = None
        state["_flat"] = None
        return state

    @property
    def flat(self) -> memoryview[float]:
        """The shared memory as one flat run of doubles (row ``w`` starts at ``w * width``)."""
        if self._flat is None:
            self._flat = memoryview(self._raw).cast("B").cast("d")
        return self._flat

    @property
    def table(self) -> np.ndarray:
        """A (workers x width) float64 view of the shared memory."""
        if self._view is None:
            self._view = np.frombuffer(self._raw, dtype=np.float64).reshape(self.workers, -1)
        return self._view

    # --- admission (each worker writes only its own row: no lock) ------------------------------
    def try_enqueue(self, worker: int) -> bool:
        """Take one of the instance's max_queue waiting slots for ``worker``; False when full.

        Claim first, then look: the worker counts the slot in its own row and keeps it only if
        the instance's total, its own claim included, is within max_queue. Of two workers that
        claim the last slot at once, the later one to look sees both claims and gives its slot
        back (both may, which refuses one request too many but never admits one too many); no
        lock is taken, so a worker that dies mid-claim blocks nobody (the supervisor zeroes its
        row).
        """
        lay = self.layout
        flat = self.flat
        col = lay.queued_at
        flat[worker * lay.width + col] += 1
        if sum(flat[w * lay.width + col] for w in range(self.workers)) > self.max_queue:
            flat[worker * lay.width + col] -= 1
            return False
        return True

    def dequeue(self, worker: int, count: int = 1) -> None:
        """Give back ``count`` waiting slots when their requests start running."""
        at = worker * self.layout.width + self.layout.queued_at
        flat = self.flat
        flat[at] = max(0.0, flat[at] - count)

    def reset_worker(self, worker: int) -> None:
        """Zero what a dead worker held (its queue slots and in-flight count), keep its counters."""
        self.table[worker, self.layout.queued_at] = 0.0
        self.table[worker, self.layout.inflight_at] = 0.0

    def queued(self) -> int:
        lay = self.layout
        flat = self.flat
        return int(sum(flat[w * lay.width + lay.queued_at] for w in range(self.workers)))

    # --- metrics (each worker writes only its own row) ----------------------------------------
    def set_inflight(self, worker: int, count: int) -> None:
        self.flat[worker * self.layout.width + self.layout.inflight_at] = count

    def record(
        self, worker: int, endpoint: int, code: int, seconds: float | None, function: int | None
    ) -> None:
        """Count one answer; ``function`` (an index into functions) also records its latency."""
        lay = self.layout
        flat = self.flat
        row = worker * lay.width
        flat[row + lay.requests_at + endpoint * lay.n_codes + _CODE_AT.get(code, len(CODES))] += 1
        if function is not None and seconds is not None:
            base = row + lay.hist_at + function * lay.hist_width
            # the first bucket whose bound is >= seconds (+Inf, after the last, if none)
            flat[base + bisect.bisect_left(BUCKETS, seconds)] += 1
            flat[base + lay.hist_width - 1] += seconds

    def record_rejection(self, worker: int, function: int) -> None:
        self.flat[worker * self.layout.width + self.layout.rejected_at + function] += 1


def spawn_context() -> SpawnContext:
    """Workers are spawned (fresh interpreters), never forked from a process with threads."""
    return multiprocessing.get_context("spawn")
