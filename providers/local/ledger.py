"""The machine-wide ledger of local compute-pool nodes: who holds which slice of this machine.

`<data_dir>/pools/ledger.json` maps a pool name to its reserved nodes, guarded by an exclusive
file lock (`ledger.lock`) so concurrent mlrt processes and threads never over-commit. Each entry
also records the pid that wrote it. An entry whose writer is dead is trusted only as far as the
pool's own record (`<name>.json`) confirms it: a process killed in the middle of a scale leaves
no phantom reservation behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers.kit.machine import Capacity
from providers.kit.records import FileLock, atomic_write_json, read_json

Node = dict[str, Any]


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def total(nodes: list[Node]) -> Capacity:
    return Capacity(
        sum(float(n.get("cpus", 0)) for n in nodes),
        sum(float(n.get("memory", 0)) for n in nodes),
        sum(int(n.get("gpus", 0)) for n in nodes),
    )


def fits(used: Capacity, extra: Capacity, budget: Capacity) -> bool:
    eps = 1e-9
    return (
        used.cpus + extra.cpus <= budget.cpus + eps
        and used.memory_gib + extra.memory_gib <= budget.memory_gib + eps
        and used.gpus + extra.gpus <= budget.gpus
    )


@dataclass
class Ledger:
    """Reservations under `pools_dir`; use `with ledger.locked() as book:` to read or change them."""

    pools_dir: Path
    lock_timeout: float = 10.0

    @property
    def path(self) -> Path:
        return self.pools_dir / "ledger.json"

    def pool_record_path(self, name: str) -> Path:
        return self.pools_dir / f"{name}.json"

    def locked(self) -> LedgerSession:
        return LedgerSession(self)


class LedgerSession:
    """The ledger loaded under its lock; `save()` writes it back before the lock is released."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._lock = FileLock(
            ledger.pools_dir / "ledger.lock", ledger.lock_timeout, what="local compute-pool ledger"
        )
        self.pools: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> LedgerSession:
        self._lock.__enter__()
        try:
            data = read_json(self.ledger.path) or {}
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self.pools = dict(data.get("pools", {}))
        self._reconcile()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.__exit__(None, None, None)

    def _reconcile(self, record_reader: Callable[[Path], Any] = read_json) -> None:
        """Replace entries of dead writers by what the pool's record says (or drop them)."""
        for name in list(self.pools):
            entry = self.pools[name]
            if _pid_alive(entry.get("pid")):
                continue
            try:
                record = record_reader(self.ledger.pool_record_path(name))
            except Exception:
                record = None
            nodes = (record or {}).get("attributes", {}).get("nodes") if isinstance(record, dict) else None
            if nodes:
                self.pools[name] = {"nodes": list(nodes), "pid": entry.get("pid")}
            else:
                del self.pools[name]

    def nodes_of(self, name: str) -> list[Node]:
        return list(self.pools.get(name, {}).get("nodes", []))

    def used_by_others(self, name: str) -> Capacity:
        nodes: list[Node] = []
        for other, entry in self.pools.items():
            if other != name:
                nodes.extend(entry.get("nodes", []))
        return total(nodes)

    def holders(self, exclude: str) -> dict[str, Capacity]:
        return {n: total(e.get("nodes", [])) for n, e in sorted(self.pools.items()) if n != exclude}

    def set_nodes(self, name: str, nodes: list[Node]) -> None:
        if nodes:
            self.pools[name] = {"nodes": list(nodes), "pid": os.getpid()}
        else:
            self.pools.pop(name, None)

    def save(self) -> None:
        atomic_write_json(self.ledger.path, {"version": 1, "pools": self.pools})
