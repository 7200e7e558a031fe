"""Processes mlrt started, recorded so that a later signal reaches them and nothing else.

A pid alone is not an identity: after mlrt (or the machine) was killed, the number in a record
file may belong to an unrelated program by the time the next `apply` reads it, and a SIGTERM or
SIGKILL sent to it would hit that program. A `ProcessRef` therefore records the pid together with
the process's start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot) and the boot id;
a pid is only signalled while both still match. Records written before identities were kept hold
a bare pid: such a process is trusted only if its command line shows an mlrt runtime module.

The processes are session leaders (started with `start_new_session=True`), so their group id is
their pid; a group is signalled only while its leader is verifiably ours. Where `/proc` is missing
(not Linux) nothing can be verified, and nothing is signalled.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrt_iac.runtime import strays

LEGACY_MARKERS = ("mlrt_iac.runtime", "mlrt_iac/runtime")


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time) of a live or zombie pid, None when there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class ProcessRef:
    """A process mlrt started: its pid and, when known, what makes that pid this process."""

    pid: int
    start: int | None = None
    boot: str | None = None

    @classmethod
    def of(cls, pid: int) -> ProcessRef:
        """The identity of a process just started (read while it certainly runs)."""
        stat = _stat(pid)
        return cls(pid, stat[1] if stat else None, _boot_id())

    @classmethod
    def from_json(cls, data: Any) -> ProcessRef | None:
        """From a record: a dict written by `to_json`, or a bare pid from older records."""
        if isinstance(data, bool):
            return None
        if isinstance(data, int):
            return cls(data) if data > 0 else None
        if isinstance(data, str) and data.strip().isdigit():
            return cls(int(data.strip())) if int(data.strip()) > 0 else None
        if isinstance(data, dict) and isinstance(data.get("pid"), int) and data["pid"] > 0:
            start, boot = data.get("start"), data.get("boot")
            return cls(
                data["pid"],
                start if isinstance(start, int) else None,
                boot if isinstance(boot, str) else None,
            )
        return None

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "start": self.start, "boot": self.boot}

    def is_ours(self) -> bool:
        """True while the pid names this very process (running or a zombie not yet reaped)."""
        stat = _stat(self.pid)
        if stat is None:
            return False
        if self.start is None:
            return any(marker in _cmdline(self.pid) for marker in LEGACY_MARKERS)
        return stat[1] == self.start and (self.boot is None or self.boot == _boot_id())

    def alive(self) -> bool:
        """Ours and running (a zombie has finished)."""
        stat = _stat(self.pid)
        return stat is not None and stat[0] != "Z" and self.is_ours()

    def signal_group(self, sig: signal.Signals) -> bool:
        """Send `sig` to the process group this process leads, only if it is still ours.

        Returns whether a signal was sent. A false result means there is nothing of ours left to
        signal through this record (the process ended, or the pid now belongs to someone else).
        """
        if not self.is_ours():
            return False
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def reap(self) -> None:
        """Collect the exit status if this process is a child of ours (no zombie left behind)."""
        try:
            os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def stop_groups(refs: list[ProcessRef], timeout: float, poll: float = 0.05) -> list[ProcessRef]:
    """SIGTERM each group that is still ours, SIGKILL what is left after `timeout`.

    Returns the processes still alive afterwards (normally none). Only verified processes are
    signalled, so a stale record can never hurt another program.
    """
    for ref in refs:
        ref.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(ref.alive() for ref in refs):
        for ref in refs:
            ref.reap()
        time.sleep(poll)
    for ref in refs:
        if ref.alive():
            if ref.is_ours():  # what it started outside its group first (runtime.strays)
                strays.kill_descendants(ref.pid)
            ref.signal_group(signal.SIGKILL)
    for ref in refs:
        ref.reap()
    return [ref for ref in refs if ref.alive()]
