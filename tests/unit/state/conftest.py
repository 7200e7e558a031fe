"""Fixtures for the state tests: a project directory and real worker processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).with_name("_worker.py")


class Worker:
    """A `_worker.py` subprocess: read its JSON lines, send it lines, kill it."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def event(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"worker exited (code {self.proc.wait()}) without reporting"
        data: dict[str, Any] = json.loads(line)
        return data

    def send(self, line: str = "go") -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL and reap (so the pid is really gone, not a zombie)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def finish(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)


class Workers:
    def __init__(self) -> None:
        self.started: list[Worker] = []

    def start(self, *args: str) -> Worker:
        w = Worker(*args)
        self.started.append(w)
        return w

    def stop_all(self) -> None:
        for w in self.started:
            w.kill()
            for stream in (w.proc.stdin, w.proc.stdout):
                if stream is not None:
                    stream.close()


@pytest.fixture
def workers() -> Iterator[Workers]:
    ws = Workers()
    try:
        yield ws
    finally:
        ws.stop_all()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path
