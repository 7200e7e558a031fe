"""Group commit of the state: every completed resource is durable before its dependents start.

Many workers finish at once under `-parallelism`; each asks for a commit, and one write covers
every mutation made before it, so the number of writes stays far below the number of changes.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any


class StateCommitter:
    def __init__(self, backend: Any, doc: Any) -> None:
        self.backend = backend
        self.doc = doc
        self.doc_lock = threading.Lock()  # guards every mutation of `doc`
        self._write_lock = threading.Lock()
        self._seq = 0  # mutations made
        self._written = 0  # mutations covered by the last write
        self.writes = 0
        try:
            self._can_defer = "durable" in inspect.signature(backend.write).parameters
        except (TypeError, ValueError):
            self._can_defer = False

    def mutate(self) -> "_Mutation":
        """`with committer.mutate(): doc.set(...)` then `committer.commit(token)`."""
        return _Mutation(self)

    def commit(self, upto: int | None = None, durable: bool = True) -> None:
        """Write every mutation up to `upto` (default: all). `durable=False` lets backends that
        support it skip fsync: still atomic and safe against the process being killed."""
        target = self._seq if upto is None else upto
        with self._write_lock:
            if self._written >= target:
                return
            with self.doc_lock:
                seq = self._seq
                if self._can_defer and not durable:
                    self.backend.write(self.doc, durable=False)
                else:
                    self.backend.write(self.doc)
            self._written = seq
            self.writes += 1


class _Mutation:
    def __init__(self, committer: StateCommitter) -> None:
        self.c = committer
        self.seq = 0

    def __enter__(self) -> "_Mutation":
        self.c.doc_lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.c._seq += 1
        self.seq = self.c._seq
        self.c.doc_lock.release()
