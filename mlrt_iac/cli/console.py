"""The terminal: one rich Console for people, plain JSON for machines."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich exits 1 when the reader closes the pipe (`mlrt show | head -1`); raise instead, so
        the CLI decides (it ends quietly with 0)."""
        raise BrokenPipeError


class Out:
    def __init__(self, no_color: bool = False, json_mode: bool = False) -> None:
        self.json_mode = json_mode
        self.console = _Console(no_color=no_color, highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, no_color=no_color, highlight=False, soft_wrap=True)

    def print(self, *args: Any, **kwargs: Any) -> None:
        self.console.print(*args, **kwargs)

    def json(self, obj: Any) -> None:
        sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
        sys.stdout.flush()

    def raw(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
