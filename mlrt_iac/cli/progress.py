"""Which apply events reach the terminal, so a wait reads like Terraform's.

A provider repeats a wait's line (`waiting for http://.../health [3s]`, `0/1 nodes, waiting for
capacity`) every second or so; the engine adds `Still creating... [10s elapsed]` every 10 s.
Printed side by side they interleaved (issue 14). Here a wait's line is printed once, and from
then on only the engine's `Still ...` line speaks for the resource, every 10 s, naming what it
still waits for. New news (a training's step lines) is printed at most every 2 s.

Log lines a runtime's C++ core writes in glog's format (Ray's `core_worker.cc`, `raylet`,
`gcs_server`: `[2026-01-02 10:00:00,123 E 4242 4250] core_worker.cc:2465: ...`) are internal
diagnostics, not news about the resource: they are left out of apply's output (issue 14) and
stay in the run's log (`mlrt logs ADDRESS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..apply.events import ApplyEvent

PROGRESS_EVERY = 2.0  # seconds between two progress lines of one resource
_ELAPSED = re.compile(r"\s*\[\d+(\.\d+)?s\]\s*$")
# glog's prefix: [date time,ms LEVEL pid tid] source.cc:line:  (after Ray's "(Actor pid=N) ")
_GLOG = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [IWEF] \d+ \d+\] \S+\.(cc|h):\d+:")


@dataclass
class ProgressFilter:
    """Per-resource memory of the last progress line printed and the wait it announced."""

    _last: dict[str, tuple[float, str]] = field(default_factory=dict)
    _waiting: dict[str, str] = field(default_factory=dict)

    def admit(self, e: ApplyEvent, now: float) -> ApplyEvent | None:
        """The event to print (a `still` event carries the wait in `message`), or None."""
        if e.kind == "progress":
            text = _ELAPSED.sub("", e.message)
            when, said = self._last.get(e.address, (float("-inf"), ""))
            if text == said:  # the same wait again: the next `Still ...` line says it
                self._waiting[e.address] = text
                return None
            self._waiting.pop(e.address, None)
            if now - when < PROGRESS_EVERY:
                return None
            self._last[e.address] = (now, text)
            return e
        if e.kind == "still":
            return replace(e, message=self._waiting.get(e.address, ""))
        if e.kind == "log" and _GLOG.search(e.message):
            return None
        if e.kind in ("done", "error"):
            self._last.pop(e.address, None)
            self._waiting.pop(e.address, None)
        return e
