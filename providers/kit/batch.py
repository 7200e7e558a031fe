"""Batch reads (`read_many`) for providers whose objects are files and processes on this machine.

A refresh of N local objects used to stat N record files and signal every recorded process one
by one; here each record directory is scanned once (an object whose file is not listed is gone,
as `read` would find) and the process table is read once. The per-object `read` still does
what needs the object itself (parsing its record, validating an image layout, a health check),
so the results are `read`'s by construction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from mlrt_iac.provider import Attributes, BatchReadResult, ProviderContext, ReadRequest, ReadResult


def scan(folder: Path) -> frozenset[str]:
    """The names in `folder` (one directory read); empty when it is missing or not a folder."""
    try:
        with os.scandir(folder) as entries:
            return frozenset(e.name for e in entries)
    except (FileNotFoundError, NotADirectoryError):
        return frozenset()


Read = Callable[[ProviderContext, str, Attributes], ReadResult]


def read_by_scan(
    read: Read,
    requests: Sequence[ReadRequest],
    path_of: Callable[[ReadRequest], Path | None],
) -> BatchReadResult:
    """`read` (a handler's) of each request whose `path_of` file is listed in its folder (one scan per
    folder), None for those whose file is not: `read` finds nothing where no file is. A None
    path (nothing to look for) is `read` as it is."""
    folders: dict[Path, frozenset[str]] = {}
    results: list[ReadResult | Exception] = []
    for req in requests:
        try:
            path = path_of(req)
            if path is not None:
                if path.parent not in folders:
                    folders[path.parent] = scan(path.parent)
                if path.name not in folders[path.parent]:
                    results.append(ReadResult(None))
                    continue
            results.append(read(req.ctx, req.id, req.prior))
        except Exception as exc:  # that object could not tell; the others still count
            results.append(exc)
    return BatchReadResult(results)


def process_table() -> frozenset[int]:
    """The pids that exist now, from one read of /proc."""
    return frozenset(int(name) for name in scan(Path("/proc")) if name.isdigit())
