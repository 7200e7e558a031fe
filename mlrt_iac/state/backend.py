"""The backend protocol the engine uses to read, write and lock the state.

Backends are found through the `mlrt.backends` entry-point group (`local`, `kubernetes`); each
entry point names a class constructed as `Backend(project_dir, config)` where `config` is the
evaluated body of `mlrt { backend "TYPE" { ... } }` (empty when there is no backend block).

Contract every backend keeps:

- `read()` returns None when no state was ever written.
- `write(doc)` sets `doc.serial` to one more than it was and stores the document atomically:
  a reader sees the old or the new document, never a mix.
- `lock(info, timeout)` returns a lock id; when another holder has it, it waits up to `timeout`
  seconds and then raises `StateLockedError` whose summary names the holder and whose `info`
  is the holder's `LockInfo.to_dict()`.
- `write(doc, durable=False)` may skip fsync (still atomic) when the backend's
  `defers_fsync` is true; other backends treat every write as durable.
- `unlock(id)` releases a lock this backend object took; `force_unlock(id)` removes whoever holds
  it, but only when `id` matches the holder's (a wrong id is refused with the holder's id).

Workspaces (named states, `mlrt workspace ...`): a backend class with `supports_workspaces = True`
is constructed as `Backend(project_dir, config, workspace)` and reads, writes and locks that
workspace's state only (`default` keeps the names it always had). It also has `workspaces()`
(every workspace that has a state in this backend, `default` always first) and
`delete_workspace()` (removes its own workspace's state; its lock goes with the next unlock).
A backend without it has only `default`.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import StateError, StateLockedError
from ..version import mlrt_version
from .document import StateDocument, now_iso
from .workspace import DEFAULT_WORKSPACE, ENV_VAR, check_name


def _who() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment (some containers)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds (or asks for) the state lock, shown to anyone who finds it taken.

    `operation` is a readable verb: "plan", "apply", "destroy", "import", "state rm", ...
    """

    operation: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    who: str = field(default_factory=_who)
    created: str = field(default_factory=now_iso)
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    version: str = field(default_factory=mlrt_version)
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> LockInfo:
        """Lenient: lock info is advice for people, so unknown or missing fields are tolerated."""
        if not isinstance(data, dict):
            raise StateError("Unreadable lock info", "The lock info file is not a JSON object.")
        texts = {k: str(data[k]) for k in cls.__dataclass_fields__ if k in data and k != "pid"}
        texts.setdefault("operation", "unknown")
        try:
            pid = int(data.get("pid", 0))
        except (TypeError, ValueError):
            pid = 0
        return cls(pid=pid, **texts)

    def describe(self) -> str:
        """The multi-line "Lock Info" block shown in errors."""
        return (
            f"Lock Info:\n  ID:        {self.id}\n  Path:      {self.path}\n"
            f"  Operation: {self.operation}\n  Who:       {self.who}\n"
            f"  Version:   {self.version}\n  Created:   {self.created}\n"
            f"  PID:       {self.pid} on {self.host}"
        )


@runtime_checkable
class Backend(Protocol):
    """Where the state lives and how it is locked (see the module docstring for the contract)."""

    # True when `write(doc, durable=False)` really skips fsync; the apply walk then writes
    # finished resources without fsync and makes the last write of a batch durable.
    defers_fsync: bool

    def read(self) -> StateDocument | None: ...

    def write(self, doc: StateDocument, durable: bool = True) -> None: ...

    def lock(self, info: LockInfo, timeout: float = 0.0) -> str: ...

    def unlock(self, lock_id: str) -> None: ...

    def force_unlock(self, lock_id: str) -> None: ...

    def describe(self) -> str: ...


@runtime_checkable
class WorkspaceBackend(Backend, Protocol):
    """A backend that keeps one state per workspace (see the module docstring)."""

    workspace: str

    def workspaces(self) -> list[str]: ...

    def delete_workspace(self) -> None: ...


# `Backend(project_dir, config)`, or `Backend(project_dir, config, workspace)` for a class with
# `supports_workspaces = True`.
BackendFactory = Callable[..., Backend]


def lock_info(backend: Backend, operation: str) -> LockInfo:
    """Lock info describing this process, for `backend.lock()`."""
    return LockInfo(operation=operation, path=backend.describe())


def read_or_new(backend: Backend) -> StateDocument:
    """The stored state, or an empty one (fresh lineage, serial 0) when none was ever written."""
    doc = backend.read()  # not `or`: an empty document is falsy but keeps its lineage
    return doc if doc is not None else StateDocument.new()


def push_document(
    backend: Backend, text: str | bytes, current: StateDocument | None, force: bool = False
) -> StateDocument:
    """`mlrt state push FILE`: parse, check lineage and serial (unless force), write."""
    from .operations import push

    incoming = StateDocument.from_json(text, "pushed state file")
    doc = push(current, incoming, force=force)
    backend.write(doc)
    return doc


def locked_error(holder: LockInfo | None, stale_note: str = "") -> StateLockedError:
    """The error every backend raises when the lock is taken: it names the holder."""
    if holder is None:
        return StateLockedError(
            "Error acquiring the state lock: it is held by another process",
            "The holder has not written its lock info yet. Try again in a moment, or pass "
            "-lock-timeout=30s to wait for it.",
        )
    summary = (
        f"Error acquiring the state lock: held by {holder.who} "
        f"({holder.operation} since {holder.created}, pid {holder.pid}, "
        f"lock ID {holder.id})"
    )
    detail = holder.describe() + "\n\n"
    if stale_note:
        detail += stale_note + "\n\n"
    detail += (
        "mlrt locks the state so two runs cannot write it at once. Wait for that run to "
        "finish, pass -lock-timeout=30s to wait for it, or, if you are sure no mlrt run "
        f"is using this state, run `mlrt force-unlock {holder.id}`."
    )
    return StateLockedError(summary, detail, info=holder.to_dict())


def discover_backends() -> dict[str, BackendFactory]:
    """Backend classes registered under the `mlrt.backends` entry-point group (a broken plugin
    is left out here and reported by `mlrt init`)."""
    found: dict[str, BackendFactory] = {}
    for ep in entry_points(group="mlrt.backends"):
        try:
            found[ep.name] = ep.load()
        except Exception:
            continue
    return found


def load_backend(
    type_name: str,
    project_dir: Path,
    config: dict[str, Any] | None = None,
    workspace: str = DEFAULT_WORKSPACE,
) -> Backend:
    """Construct the backend registered as `type_name` under `mlrt.backends`, for `workspace`."""
    backends = discover_backends()
    if type_name not in backends:
        raise StateError(
            f'Backend "{type_name}" is not installed',
            f"Installed backends: {', '.join(sorted(backends)) or 'none'}. Check the spelling in "
            '`mlrt { backend "..." { } }`, or install the package that registers it.',
        )
    factory = backends[type_name]
    if getattr(factory, "supports_workspaces", False):
        return factory(project_dir, dict(config or {}), check_name(workspace))
    if workspace != DEFAULT_WORKSPACE:
        raise StateError(
            f'Backend "{type_name}" does not support workspaces',
            f'The current workspace is "{workspace}", but this backend keeps only the "default" '
            f"one. Run `mlrt workspace select default`, or unset {ENV_VAR}.",
        )
    return factory(project_dir, dict(config or {}))
