"""Writing the state while an apply runs: group commits, and a flusher for finished resources.

Two kinds of writes matter. Before a create starts, its `creating` entry must be on disk (a
blocking commit, so a crash mid-create is never lost). After a resource completes, its entry is
written by a background flusher moments later: the worker is free to start the next resource,
and a crash in between still leaves the `creating` entry, which the next refresh resolves.
One write always covers every mutation made before it, so under `-parallelism` the number of
writes stays below the number of changes.
"""

from __future__ import annotations

import threading
import time

from ..state import Backend, StateDocument

COALESCE_SECS = 0.02  # how long the flusher gathers finished resources into one write


class StateCommitter:
    def __init__(self, backend: Backend, doc: StateDocument) -> None:
        self.backend = backend
        self.doc = doc
        self.doc_lock = threading.Lock()  # guards every mutation of `doc`
        self._write_lock = threading.Lock()
        self._seq = 0  # mutations made
        self._written = 0  # mutations covered by the last write
        self._durable = 0  # mutations covered by the last fsynced write
        self.writes = 0
        self._can_defer = backend.defers_fsync
        self._wake = threading.Event()
        self._closing = False
        self._error: BaseException | None = None
        self._flusher: threading.Thread | None = None

    def mutate(self) -> _Mutation:
        """`with committer.mutate() as m: doc.set(...)` then `committer.commit(m.seq)`."""
        return _Mutation(self)

    def commit(self, upto: int | None = None, durable: bool = True) -> None:
        """Write every mutation up to `upto` (default: all) before returning. `durable=False`
        lets backends that support it skip fsync: still atomic, and safe when the process is
        killed (not when the machine loses power)."""
        target = self._seq if upto is None else upto
        with self._write_lock:
            if (self._durable if durable else self._written) >= target:
                return
            with self.doc_lock:
                seq = self._seq
                self.backend.write(self.doc, durable=durable or not self._can_defer)
            self._written = seq
            if durable or not self._can_defer:
                self._durable = seq
            self.writes += 1

    def commit_soon(self) -> None:
        """Ask the flusher to write (durably) everything mutated so far; returns at once."""
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, name="mlrt-state-flusher", daemon=True)
            self._flusher.start()
        self._wake.set()

    def _flush_loop(self) -> None:
        while True:
            self._wake.wait()
            if not self._closing:
                # Let the resources finishing around now join this write: one write instead of
                # many, and less time holding the interpreter that the workers need.
                time.sleep(COALESCE_SECS)
            self._wake.clear()
            try:
                self.commit()
            except BaseException as exc:  # reported by close()
                self._error = exc
            if self._closing:
                return

    def close(self) -> None:
        """Stop the flusher and write everything durably; re-raise a flusher failure."""
        if self._flusher is not None:
            self._closing = True
            self._wake.set()
            self._flusher.join()
            self._flusher = None
        self.commit()
        if self._error is not None:
            raise self._error


class _Mutation:
    def __init__(self, committer: StateCommitter) -> None:
        self.c = committer
        self.seq = 0

    def __enter__(self) -> _Mutation:
        self.c.doc_lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.c._seq += 1
        self.seq = self.c._seq
        self.c.doc_lock.release()
