"""State shared by the worker processes of one instance: admission slots and metrics.

It lives in shared memory created by the instance's supervisor and handed to each spawned worker.
Each worker writes only its own row (counters, latency histogram, in-flight and queued counts), so
the supervisor can zero a crashed worker's queue slots and the totals never go backwards. Taking a
queue slot is a claim in the worker's own row followed by a look at every row (``try_enqueue``), which
keeps "at most max_queue waiting per instance" without a cross-process lock.
"""

from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass
from multiprocessing.context import SpawnContext
from typing import Any

import numpy as np

LOG = logging.getLogger("mlrt.serving")

CODES: tuple[int, ...] = (200, 400, 404, 405, 408, 413, 500, 503)
BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
EXTRA_ENDPOINTS: tuple[str, ...] = ("health", "metrics", "other")


@dataclass(frozen=True)
class Layout:
    """Where each figure sits in a worker's row of the shared array."""

    endpoints: tuple[str, ...]
    functions: tuple[str, ...]

    @property
    def n_codes(self) -> int:
        return len(CODES) + 1  # the last one counts codes not listed

    @property
    def requests_at(self) -> int:
        return 0

    @property
    def hist_at(self) -> int:
        return self.requests_at + len(self.endpoints) * self.n_codes

    @property
    def hist_width(self) -> int:
        return len(BUCKETS) + 2  # finite buckets, +Inf, then the sum of seconds

    @property
    def rejected_at(self) -> int:
        return self.hist_at + len(self.functions) * self.hist_width

    @property
    def inflight_at(self) -> int:
        return self.rejected_at + len(self.functions)

    @property
    def queued_at(self) -> int:
        return self.inflight_at + 1

    @property
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

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_view"] = None
        return state

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
        col = self.layout.queued_at
        table = self.table
        table[worker, col] += 1
        if float(table[:, col].sum()) > self.max_queue:
            table[worker, col] -= 1
            return False
        return True

    def dequeue(self, worker: int, count: int = 1) -> None:
        """Give back ``count`` waiting slots when their requests start running."""
        col = self.layout.queued_at
        self.table[worker, col] = max(0.0, self.table[worker, col] - count)

    def reset_worker(self, worker: int) -> None:
        """Zero what a dead worker held (its queue slots and in-flight count), keep its counters."""
        self.table[worker, self.layout.queued_at] = 0.0
        self.table[worker, self.layout.inflight_at] = 0.0

    def queued(self) -> int:
        return int(self.table[:, self.layout.queued_at].sum())

    # --- metrics (each worker writes only its own row) ----------------------------------------
    def set_inflight(self, worker: int, count: int) -> None:
        self.table[worker, self.layout.inflight_at] = count

    def record(
        self, worker: int, endpoint: int, code: int, seconds: float | None, function: int | None
    ) -> None:
        """Count one answer; ``function`` (an index into functions) also records its latency."""
        lay = self.layout
        try:
            code_at = CODES.index(code)
        except ValueError:
            code_at = len(CODES)
        row = self.table[worker]
        row[lay.requests_at + endpoint * lay.n_codes + code_at] += 1
        if function is not None and seconds is not None:
            base = lay.hist_at + function * lay.hist_width
            bucket = len(BUCKETS)
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    bucket = i
                    break
            row[base + bucket] += 1
            row[base + lay.hist_width - 1] += seconds

    def record_rejection(self, worker: int, function: int) -> None:
        self.table[worker, self.layout.rejected_at + function] += 1


def spawn_context() -> SpawnContext:
    """Workers are spawned (fresh interpreters), never forked from a process with threads."""
    return multiprocessing.get_context("spawn")
