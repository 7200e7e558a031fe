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
- `new_document()` and `parse_document(text)` (inherited from `BackendBase`) let callers that
  cannot import this package create and parse documents.
- `unlock(id)` releases a lock this backend object took; `force_unlock(id)` removes whoever holds
  it, but only when `id` matches the holder's (a wrong id is refused with the holder's id).
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mlrt_iac.errors import StateError, StateLockedError

from .model import StateDocument, mlrt_version, now_iso


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
    def from_dict(cls, data: Any) -> "LockInfo":
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
        return (f"Lock Info:\n  ID:        {self.id}\n  Path:      {self.path}\n"
                f"  Operation: {self.operation}\n  Who:       {self.who}\n"
                f"  Version:   {self.version}\n  Created:   {self.created}\n"
                f"  PID:       {self.pid} on {self.host}")


@runtime_checkable
class Backend(Protocol):
    """Where the state lives and how it is locked."""

    def __init__(self, project_dir: Path, config: dict[str, Any]) -> None: ...

    def read(self) -> StateDocument | None: ...

    def write(self, doc: StateDocument) -> None: ...

    def lock(self, info: LockInfo, timeout: float = 0.0) -> str: ...

    def unlock(self, lock_id: str) -> None: ...

    def force_unlock(self, lock_id: str) -> None: ...

    def describe(self) -> str: ...

    def new_document(self) -> StateDocument: ...

    def parse_document(self, text: str | bytes, source: str = "state file") -> StateDocument: ...


class BackendBase:
    """Shared helpers every backend inherits, so code that finds a backend through its entry
    point (the engine may not import `state`) can still create and parse documents."""

    def new_document(self) -> StateDocument:
        """An empty state (fresh lineage, serial 0) for a project that has none yet."""
        return StateDocument.new()

    def parse_document(self, text: str | bytes, source: str = "state file") -> StateDocument:
        """Parse a document from elsewhere (`mlrt state push FILE`); StateError when broken."""
        return StateDocument.from_json(text, source)

    def lock_info(self, operation: str) -> LockInfo:
        """Lock info describing this process, for `lock()` (the CLI cannot import LockInfo)."""
        return LockInfo(operation=operation, path=self.describe())

    def describe(self) -> str:
        return type(self).__name__

    def push_document(self, text: str | bytes, current: StateDocument | None, force: bool = False) -> StateDocument:
        """`mlrt state push FILE`: parse, check lineage and serial (unless force), write."""
        from .operations import push

        incoming = self.parse_document(text, "pushed state file")
        doc = push(current, incoming, force=force)
        self.write(doc)  # type: ignore[attr-defined]
        return doc


def locked_error(holder: LockInfo | None, stale_note: str = "") -> StateLockedError:
    """The error every backend raises when the lock is taken: it names the holder."""
    if holder is None:
        return StateLockedError(
            "Error acquiring the state lock: it is held by another process",
            "The holder has not written its lock info yet. Try again in a moment, or pass "
            "-lock-timeout=30s to wait for it.")
    summary = (f"Error acquiring the state lock: held by {holder.who} "
               f"({holder.operation} since {holder.created}, pid {holder.pid}, "
               f"lock ID {holder.id})")
    detail = holder.describe() + "\n\n"
    if stale_note:
        detail += stale_note + "\n\n"
    detail += ("mlrt locks the state so two runs cannot write it at once. Wait for that run to "
               "finish, pass -lock-timeout=30s to wait for it, or, if you are sure no mlrt run "
               f"is using this state, run `mlrt force-unlock {holder.id}`.")
    return StateLockedError(summary, detail, info=holder.to_dict())


def load_backend(type_name: str, project_dir: Path, config: dict[str, Any] | None = None) -> Backend:
    """Construct the backend registered as `type_name` under `mlrt.backends`."""
    for ep in entry_points(group="mlrt.backends"):
        if ep.name == type_name:
            cls = ep.load()
            backend: Backend = cls(project_dir, dict(config or {}))
            return backend
    found = sorted(ep.name for ep in entry_points(group="mlrt.backends"))
    raise StateError(f"Unknown backend type {type_name!r}",
                     f"The backends installed are: {', '.join(found) or 'none'}. Check the "
                     "spelling in `mlrt { backend \"...\" { } }`.")
