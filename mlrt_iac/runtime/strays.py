"""Processes a run leaves behind, found and stopped even when they left its process group.

User code in a training may start processes that leave the launcher's process group (`setsid`,
`start_new_session=True`, a daemon's double fork), so signalling the group misses them. Without
cgroups the kernel still offers a handle: the launcher makes itself a *child subreaper*
(`prctl(PR_SET_CHILD_SUBREAPER)`), so such a process, once orphaned, is re-parented to the
launcher instead of to init, and the launcher's descendants by parent pid are exactly what the
run started. When the run ends they are killed and reaped. Whoever stops a launcher from outside
kills its descendants first, while the parent links still lead to them.
"""

from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt this process's orphaned descendants (Linux); False where the kernel cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        try:
            out[int(entry.name)] = int(text.rsplit(")", 1)[1].split()[1])
        except (IndexError, ValueError):
            continue
    return out


def descendants(root: int) -> list[int]:
    """Every process below `root` by parent links (children first, then theirs)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    out: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop(0)
        if pid == root or pid in out:
            continue
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def kill_descendants(root: int | None = None, sig: signal.Signals = signal.SIGKILL) -> list[int]:
    """Signal every descendant of `root` (this process by default); returns the pids signalled.

    Called on this process, it also reaps the ones that were its children (adopted or not).
    """
    me = os.getpid()
    target = me if root is None else root
    found = descendants(target)
    for pid in found:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    if target == me and sig == signal.SIGKILL:
        for pid in found:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass  # not a child of ours: its own parent reaps it
    return found
