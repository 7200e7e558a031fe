"""The terminal: one rich Console for people, plain JSON for machines."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


class Out:
    def __init__(self, no_color: bool = False, json_mode: bool = False) -> None:
        self.json_mode = json_mode
        self.console = Console(no_color=no_color, highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, no_color=no_color, highlight=False, soft_wrap=True)

    def print(self, *args: Any, **kwargs: Any) -> None:
        self.console.print(*args, **kwargs)

    def json(self, obj: Any) -> None:
        sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
        sys.stdout.flush()

    def raw(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
