"""Log files as `mlrt logs` shows them: each source's lines in order, filtered, then followed.

Used for what the local provider (and a managed Ray head) writes to files. A source is a
(label, path) pair; `discover()` is asked again while following, so files that appear later (a
rolled service's new instances, a training's next worker) join in. Lines are cut at newlines; a
line still being written is held back until its newline arrives.

`since`: a line that starts with a timestamp (``2026-11-29 09:10:00,123`` as Python's logging
writes it, or ISO 8601 with a ``T``, after an optional level word as Ray Serve writes it) is dated by it, and undated lines take the date of the line
before; a file without dated lines is left out whole when it was last written before `since`.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from mlrt_iac.provider import LogLine, LogQuery, ProviderContext

Source = tuple[str, Path]

POLL_S = 0.2  # how often a followed file is checked for new lines
_STAMP = re.compile(rb"^(?:[A-Z]+ )?(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})")


def _stamp(line: bytes) -> float | None:
    m = _STAMP.match(line)
    if m is None:
        return None
    try:
        return datetime.strptime(
            f"{m.group(1).decode()} {m.group(2).decode()}", "%Y-%m-%d %H:%M:%S"
        ).timestamp()
    except ValueError:
        return None


def line_time(line: str) -> float | None:
    """The time a log line starts with, if it starts with one (see the module docstring)."""
    return _stamp(line.encode("utf-8", errors="replace")[:32])


def _decode(line: bytes) -> str:
    return line.rstrip(b"\r\n").decode("utf-8", errors="replace")


def read_source(label: str, path: Path, query: LogQuery) -> tuple[list[LogLine], int]:
    """The lines of one file the query asks for, and the offset after the last whole line."""
    try:
        data = path.read_bytes()
        mtime = path.stat().st_mtime
    except OSError:
        return [], 0
    end = data.rfind(b"\n") + 1
    lines = data[:end].splitlines()
    if query.since is not None:
        dated = any(_stamp(line) is not None for line in lines[:50])
        if not dated:
            lines = lines if mtime >= query.since else []
        else:
            kept, when = [], None
            for line in lines:
                when = _stamp(line) or when
                if when is not None and when >= query.since:
                    kept.append(line)
            lines = kept
    if query.tail is not None:
        lines = list(deque(lines, maxlen=query.tail))
    return [LogLine(label, _decode(line)) for line in lines], end


def file_logs(
    ctx: ProviderContext,
    discover: Callable[[], list[Source]],
    query: LogQuery,
    running: Callable[[], bool],
) -> Iterator[LogLine]:
    """Each source's lines, one source after another; with `query.follow`, then new lines from
    every source as they are written, until `running()` is False (after a last read) or
    `ctx.cancel` is set."""
    offsets: dict[Path, int] = {}
    for label, path in discover():
        lines, offsets[path] = read_source(label, path, query)
        yield from lines
    if not query.follow:
        return
    while True:
        still = running()
        for label, path in discover():
            if path not in offsets:  # a new source: from its start (within since)
                lines, offsets[path] = read_source(label, path, LogQuery(since=query.since))
                yield from lines
                continue
            yield from _new_lines(label, path, offsets)
        if not still or ctx.cancel.wait(POLL_S):
            return


def _new_lines(label: str, path: Path, offsets: dict[Path, int]) -> Iterator[LogLine]:
    start = offsets[path]
    try:
        size = os.path.getsize(path)
        if size < start:  # truncated or replaced: from the start again
            start = 0
        if size == start:
            return
        with open(path, "rb") as handle:
            handle.seek(start)
            chunk = handle.read(size - start)
    except OSError:
        return
    end = chunk.rfind(b"\n") + 1
    offsets[path] = start + end
    for line in chunk[:end].splitlines():
        yield LogLine(label, _decode(line))
