"""What the apply walk reports as it goes; the CLI turns these into lines on a terminal."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

EventKind = Literal["start", "done", "error", "skipped", "still", "log", "progress", "retry"]


@dataclass(frozen=True)
class ApplyEvent:
    kind: EventKind
    address: str
    action: str = ""
    elapsed: float = 0.0
    message: str = ""
    id: str | None = None


EventSink = Callable[[ApplyEvent], None]


class StopSignal:
    """Ctrl-C handling: the first request stops new work; the second abandons work in flight."""

    def __init__(self) -> None:
        self.stop_requested = threading.Event()
        self.abandon = threading.Event()

    def request(self) -> None:
        if self.stop_requested.is_set():
            self.abandon.set()
        self.stop_requested.set()
