"""Run events: JSON lines on stdout and in run_dir/events.jsonl (the launcher's contract),
and the marker lines workers use to send metrics up to the launcher through their stdout.
"""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

MARKER = "@@mlrt-event@@ "


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def clean_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metric values as JSON-safe floats (numpy scalars, tensors with .item(); NaN -> None)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[str(key)] = value
    return out


def encode_marker(payload: dict[str, Any]) -> str:
    return MARKER + json.dumps(payload, default=str) + "\n"


def decode_marker(line: str) -> dict[str, Any] | None:
    if not line.startswith(MARKER):
        return None
    try:
        payload = json.loads(line[len(MARKER) :])
    except json.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def describe_marker(payload: dict[str, Any]) -> str:
    """The human line a marker becomes in the worker's log."""
    kind = payload.get("kind")
    metrics = payload.get("metrics") or {}
    text = " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
    if kind == "progress":
        total = payload.get("total")
        step = f"{payload.get('step')}/{total}" if total else str(payload.get("step"))
        return f"[mlrt] step {step} {text}".rstrip()
    if kind == "failed":
        return "[mlrt] worker failed"
    if kind == "final":
        return f"[mlrt] final metrics {json.dumps(metrics, default=str)}"
    return f"[mlrt] {json.dumps(payload, default=str)}"


class EventWriter:
    """Writes each event to the stream and to events.jsonl, one JSON line, thread-safe.

    "log" events are streamed but not kept in events.jsonl: each line is already in its
    worker's log file, and a chatty run would otherwise store its output twice."""

    def __init__(self, run_dir: Path, stream: IO[str]) -> None:
        self._stream = stream
        self._file = open(run_dir / "events.jsonl", "a", buffering=1, encoding="utf-8")
        self._lock = threading.Lock()
        self.t0 = time.monotonic()

    def elapsed(self) -> float:
        return round(time.monotonic() - self.t0, 3)

    def emit(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, default=str) + "\n"
        with self._lock:
            if event.get("event") != "log":
                self._file.write(line)
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                pass  # nobody reads stdout any more; events.jsonl still has everything

    def close(self) -> None:
        with self._lock:
            self._file.close()
