"""Worker processes and their output: each worker's raw output goes to
run_dir/worker-<rank>.log and becomes "log" events; marker lines become progress and
results. When one worker fails the others are stopped, so a collective never hangs."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mlrt_iac.runtime.events import EventWriter, decode_marker, describe_marker

TAIL_LINES = 20
# Bytes one worker's log file may hold; past it only the tail (kept in memory) and a notice
# remain, so a run printing in a loop cannot fill the disk.
MAX_LOG_BYTES = 100 * 1024 * 1024


def free_ports(count: int) -> list[int]:
    """Ports the OS reports free on 127.0.0.1 (held open together so they are distinct)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class WorkerOutput:
    """One worker's log file and the last lines kept for the error message."""

    def __init__(self, rank: int, path: Path, max_bytes: int | None = None) -> None:
        self.rank = rank
        self.file = open(path, "a", buffering=1, encoding="utf-8", errors="replace")
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.max_bytes = MAX_LOG_BYTES if max_bytes is None else max_bytes
        self.written = self.file.tell()
        self.capped = False

    def write(self, line: str) -> None:
        self.tail.append(line)
        if self.capped:
            return
        size = len(line.encode("utf-8", errors="replace")) + 1
        if self.written + size > self.max_bytes:
            self.capped = True
            self.file.write(f"[mlrt: log capped at {self.max_bytes:,} bytes; later lines are not kept]\n")
            return
        self.file.write(line + "\n")
        self.written += size


class Supervisor:
    """Pumps worker output into logs and events; starts, waits for and stops workers."""

    def __init__(self, events: EventWriter, run_dir: Path) -> None:
        self.events = events
        self.run_dir = run_dir
        self.outputs: dict[int, WorkerOutput] = {}
        self.finals: dict[int, dict[str, Any]] = {}
        self.failed_at: dict[int, float] = {}
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self._pumps: list[threading.Thread] = []
        self._exits: queue.Queue[tuple[int, int]] = queue.Queue()
        self.on_progress: Callable[[dict[str, Any]], None] | None = None

    def output(self, rank: int) -> WorkerOutput:
        if rank not in self.outputs:
            self.outputs[rank] = WorkerOutput(rank, self.run_dir / f"worker-{rank}.log")
        return self.outputs[rank]

    def _handle(self, rank: int, line: str) -> None:
        out = self.output(rank)
        payload = decode_marker(line)
        if payload is None:
            out.write(line)
            self.events.emit({"event": "log", "rank": rank, "line": line})
            return
        out.file.write(describe_marker(payload) + "\n")
        kind = payload.get("kind")
        if kind == "final":
            self.finals[rank] = payload.get("metrics") or {}
        elif kind == "failed":
            self.failed_at[rank] = float(payload.get("ts") or 0.0)
        elif kind == "progress" and rank == 0:
            self.events.emit(
                {
                    "event": "progress",
                    "step": payload.get("step"),
                    "total": payload.get("total"),
                    "metrics": payload.get("metrics") or {},
                    "elapsed": self.events.elapsed(),
                }
            )

    def pump(self, rank: int, stream: IO[bytes]) -> threading.Thread:
        """Read a worker's output stream in a thread until it closes."""

        def run() -> None:
            with stream:
                for raw in iter(stream.readline, b""):
                    self._handle(rank, raw.decode("utf-8", errors="replace").rstrip("\r\n"))

        thread = threading.Thread(target=run, name=f"mlrt-pump-{rank}", daemon=True)
        thread.start()
        self._pumps.append(thread)
        return thread

    def spawn(self, rank: int, cmd: list[str], env: dict[str, str], cwd: str) -> None:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
        self.procs[rank] = proc
        assert proc.stdout is not None
        self.pump(rank, proc.stdout)

        def wait() -> None:
            self._exits.put((rank, proc.wait()))

        threading.Thread(target=wait, name=f"mlrt-wait-{rank}", daemon=True).start()

    def wait_all(self) -> tuple[int, int] | None:
        """Wait until every worker exits; on the first failure stop the rest.
        Returns (rank, exit code) of the failed worker, or None."""
        remaining = set(self.procs)
        failed: tuple[int, int] | None = None
        while remaining:
            try:
                rank, code = self._exits.get(timeout=0.5)
            except queue.Empty:
                continue
            remaining.discard(rank)
            if code != 0 and failed is None:
                failed = (rank, code)
                self.terminate_all()
        self.join_pumps()
        return failed

    def terminate_all(self, grace: float = 5.0) -> None:
        """SIGTERM every live worker, SIGKILL what is still alive after the grace period."""
        live = [p for p in self.procs.values() if p.poll() is None]
        for proc in live:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in live:
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def join_pumps(self, timeout: float = 10.0) -> None:
        for thread in self._pumps:
            thread.join(timeout)

    def first_failure(self, default: int) -> int:
        """The worker that failed first by its own report (the root cause), else default."""
        return min(self.failed_at, key=lambda r: self.failed_at[r]) if self.failed_at else default

    def tail(self, rank: int) -> str:
        return "\n".join(self.output(rank).tail)

    def close(self) -> None:
        for out in self.outputs.values():
            out.file.close()
