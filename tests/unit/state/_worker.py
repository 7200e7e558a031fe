"""A real process that uses the local backend, driven by the state tests.

Run as `python _worker.py COMMAND PROJECT_DIR [ARGS...]`. It talks through stdout lines (JSON)
and, for `hold`, waits for a line on stdin before unlocking. Kept free of pytest so it starts fast.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from mlrt_iac.errors import StateLockedError
from mlrt_iac.state import LockInfo, ResourceState, StateDocument
from state.local_backend import LocalBackend


def say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def hold(backend: LocalBackend, operation: str) -> None:
    """Take the lock, report its id, unlock when a line arrives on stdin."""
    lock_id = backend.lock(LockInfo(operation=operation))
    say(event="locked", lock_id=lock_id, pid=os.getpid())
    sys.stdin.readline()
    backend.unlock(lock_id)
    say(event="unlocked")


def fork_hold(backend: LocalBackend) -> None:
    """Take the lock, then fork a child that inherits the descriptor and outlives us."""
    lock_id = backend.lock(LockInfo(operation="apply"))
    child = os.fork()
    if child == 0:
        sys.stdin.readline()  # the inherited flock stays held until the test ends us
        os._exit(0)
    say(event="locked", lock_id=lock_id, pid=os.getpid(), child=child)
    sys.stdin.readline()


def try_lock(backend: LocalBackend, timeout: float, probe_first: bool) -> None:
    """Report how a lock attempt went and how long it took."""
    if probe_first:
        try:
            backend.unlock(backend.lock(LockInfo(operation="plan")))
            say(event="free")
        except StateLockedError:
            say(event="busy")
    start = time.monotonic()
    try:
        lock_id = backend.lock(LockInfo(operation="plan"), timeout=timeout)
    except StateLockedError as e:
        say(
            event="refused", elapsed=time.monotonic() - start, summary=e.summary, detail=e.detail, info=e.info
        )
        return
    say(event="acquired", elapsed=time.monotonic() - start, lock_id=lock_id)
    backend.unlock(lock_id)


def write_loop(backend: LocalBackend) -> None:
    """Write documents of changing size forever (until killed)."""
    doc = backend.read() or StateDocument.new()
    n = 0
    while True:
        n += 1
        for r in list(doc):
            doc.remove(r.address)
        for i in range(1 + n % 300):
            doc.set(
                ResourceState.new(
                    f"compute_pool.p[{i}]",
                    "local",
                    f"id-{n}-{i}",
                    {"payload": "x" * (n % 97) * 10, "round": n},
                )
            )
        backend.write(doc)
        if n == 1:
            say(event="started")


def increment(backend: LocalBackend, times: int, tag: str) -> None:
    """lock -> read -> modify -> write -> unlock, `times` times, waiting for the lock."""
    for i in range(times):
        lock_id = backend.lock(LockInfo(operation="apply"), timeout=120)
        try:
            doc = backend.read() or StateDocument.new()
            counter = doc.get("network_rule.counter")
            value = counter.attributes["value"] + 1 if counter else 1
            doc.set(ResourceState.new("network_rule.counter", "local", "counter", {"value": value}))
            doc.set(ResourceState.new(f'network_rule.w["{tag}-{i}"]', "local", f"{tag}-{i}", {}))
            backend.write(doc)
        finally:
            backend.unlock(lock_id)
    say(event="done")


def main() -> None:
    command, project = sys.argv[1], Path(sys.argv[2])
    args = sys.argv[3:]
    backend = LocalBackend(project, {})
    if command == "hold":
        hold(backend, args[0] if args else "apply")
    elif command == "fork-hold":
        fork_hold(backend)
    elif command == "try-lock":
        try_lock(backend, float(args[0]), len(args) > 1 and args[1] == "probe")
    elif command == "write-loop":
        write_loop(backend)
    elif command == "increment":
        increment(backend, int(args[0]), args[1])
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
