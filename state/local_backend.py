"""The `local` backend: the state in a file on this machine, locked with `flock`.

Where: `<project>/.mlrt/state/mlrt.state.json` by default, or `path` from
`mlrt { backend "local" { path = "..." } }` (relative paths are relative to the project
directory). That is the `default` workspace's state; workspace NAME keeps its own in
`<dir of path>/workspaces/NAME/<file name of path>` (or `<workspace_dir>/NAME/...` when
`workspace_dir` is set, like Terraform's local backend), so an existing project's file never
moves. Next to each state file live `<state>.backup` (the previous version), and while locked
`<state>.lock` (the flock target) and `<state>.lock.info` (the holder, as JSON).

Writes never leave a half-written file: a temp file in the same directory is written, flushed and
fsynced; the current file is hard-linked to `.backup`; then `os.replace` swaps the new file in and
the directory is fsynced. Files are created 0600 and stay so (every write makes a new 0600 file).

Locking: an exclusive, non-blocking `fcntl.flock` on `<state>.lock`, held for the whole
operation by an open descriptor (the kernel releases it when the process dies, so a crashed run
cannot keep the state locked, although a child it forked can). After taking the flock the
holder checks that the lock file it locked is still the one at the path (force-unlock and unlock
remove the file), so two holders can never both believe they own it. A `.lock.info` left by a
dead holder is reported through `stale_lock` and cleaned.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from mlrt_iac.errors import StateError
from mlrt_iac.state import LockInfo, StateDocument, locked_error
from mlrt_iac.state.workspace import DEFAULT_WORKSPACE, NAME_PATTERN

DEFAULT_PATH = Path(".mlrt") / "state" / "mlrt.state.json"
_POLL_SECONDS = 0.05


def process_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[-1].split()
        return not fields or fields[0] != b"Z"
    except OSError:
        return True


class LocalBackend:
    """State in a local JSON file, guarded by an flock; see the module docstring."""

    CONFIG_KEYS = frozenset({"path", "workspace_dir"})
    defers_fsync = True
    supports_workspaces = True

    def __init__(self, project_dir: Path, config: dict[str, Any], workspace: str = DEFAULT_WORKSPACE) -> None:
        unknown = set(config) - self.CONFIG_KEYS
        if unknown:
            name = sorted(unknown)[0]
            raise StateError(
                f'Unsupported argument "{name}" in backend "local"',
                'The local backend accepts only "path" (where the state file lives) and '
                '"workspace_dir" (where other workspaces\' states live).',
            )
        self.project_dir = Path(project_dir)
        path = self._config_path(config, "path") or DEFAULT_PATH
        default_path = path if path.is_absolute() else self.project_dir / path
        ws_dir = self._config_path(config, "workspace_dir")
        self.workspace_root = (
            (ws_dir if ws_dir.is_absolute() else self.project_dir / ws_dir)
            if ws_dir
            else default_path.parent / "workspaces"
        )
        self.workspace = workspace
        if workspace == DEFAULT_WORKSPACE:
            self.path = default_path
        else:
            self.path = self.workspace_root / workspace / default_path.name
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.info_path = self.path.with_name(self.path.name + ".lock.info")
        self._held: dict[str, int] = {}  # lock id -> open descriptor holding the flock
        # Set by lock() when it found and cleaned the info of a holder that died while holding it.
        self.stale_lock: LockInfo | None = None

    @staticmethod
    def _config_path(config: dict[str, Any], key: str) -> Path | None:
        raw = config.get(key)
        if raw is not None and (not isinstance(raw, str) or not raw):
            raise StateError(f'Invalid "{key}" in backend "local"', f"{key} must be a non-empty string.")
        return Path(raw) if raw else None

    # -- workspaces ------------------------------------------------------------------------

    def workspaces(self) -> list[str]:
        """`default` and every workspace whose state file exists."""
        try:
            found = [
                d.name
                for d in self.workspace_root.iterdir()
                if NAME_PATTERN.fullmatch(d.name)
                and d.name != DEFAULT_WORKSPACE
                and (d / self.path.name).is_file()
            ]
        except (FileNotFoundError, NotADirectoryError):
            found = []
        return [DEFAULT_WORKSPACE, *sorted(found)]

    def delete_workspace(self) -> None:
        """Remove this workspace's state and backup (and its directory once the lock is gone)."""
        if self.workspace == DEFAULT_WORKSPACE:
            raise StateError("Cannot delete the default workspace", "The default workspace always exists.")
        for p in (self.path, self.backup_path):
            _unlink(p)
        self._remove_temp_files()
        if not self._held:
            self._remove_workspace_dir()

    def _remove_workspace_dir(self) -> None:
        if self.workspace == DEFAULT_WORKSPACE or self.path.exists():
            return
        try:
            self.path.parent.rmdir()  # only when empty: nothing of the user's is ever removed
        except OSError:
            pass

    # -- reading and writing ---------------------------------------------------------------

    def describe(self) -> str:
        return f"local state file {self._shown(self.path)}"

    def read(self) -> StateDocument | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StateError(
                f"Cannot read the state file {self._shown(self.path)}",
                f"{e.strerror}. Check its permissions.",
            ) from e
        try:
            if not data.strip():
                raise StateError("The file is empty", "It was probably truncated.")
            return StateDocument.from_json(data, "state file")
        except StateError as e:
            raise StateError(
                f"The state file {self._shown(self.path)} is broken: {e.summary}",
                f"{e.detail} mlrt has not changed it. {self._restore_hint()}",
            ) from e

    def _restore_hint(self) -> str:
        backup, target = self._shown(self.backup_path), self._shown(self.path)
        try:
            prev = StateDocument.from_json(self.backup_path.read_bytes())
        except FileNotFoundError:
            return (
                f"There is no backup ({backup} does not exist): fix the file by hand or "
                "restore it from your own copy."
            )
        except (OSError, StateError):
            return f"The backup {backup} is not readable either: fix one of them by hand."
        return (
            f"The previous version is in {backup} (serial {prev.serial}, "
            f"{len(prev)} resources): check it and restore it with `cp {backup} {target}`."
        )

    def write(self, doc: StateDocument, durable: bool = True) -> None:
        """Store `doc` with its serial bumped by one; atomic, and durable when this returns.

        `durable=False` skips the fsyncs: the write is still atomic (rename) and survives the
        process being killed, but not a power cut. The engine uses it for the `creating` record
        written just before a create, whose durable successor follows within the same apply.
        """
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise StateError(
                f"Cannot create the state directory {self._shown(directory)}",
                f"{e.strerror}. Check the permissions of its parent.",
            ) from e
        doc.serial += 1
        tmp = ""
        try:
            data = doc.to_json().encode("utf-8")
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
            try:
                os.fchmod(fd, 0o600)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._keep_backup()
            os.replace(tmp, self.path)
            tmp = ""
            if durable:
                _fsync_dir(directory)
        except OSError as e:
            doc.serial -= 1
            raise StateError(
                f"Cannot write the state file {self._shown(self.path)}",
                f"{e.strerror}. The previous state is unchanged; free disk space or "
                "fix permissions and run again.",
            ) from e
        except BaseException:
            doc.serial -= 1
            raise
        finally:
            if tmp:
                _unlink(Path(tmp))

    def _keep_backup(self) -> None:
        """Make `.backup` the current file, atomically: a hard link, or a copy where links fail."""
        if not self.path.exists():
            return
        tmp = self.backup_path.with_name(f".{self.backup_path.name}.{uuid.uuid4().hex}.tmp")
        try:
            os.link(self.path, tmp)
        except FileNotFoundError:
            return
        except OSError:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, self.path.read_bytes())
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, self.backup_path)

    # -- locking ---------------------------------------------------------------------------

    def lock(self, info: LockInfo, timeout: float = 0.0) -> str:
        """Take the lock for `info.operation`; wait up to `timeout` seconds for a holder."""
        if not info.path:
            info = dataclasses.replace(info, path=str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            fd = self._try_flock()
            if fd is not None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder = self.read_lock_info()
                raise locked_error(holder, self._stale_note(holder))
            time.sleep(min(_POLL_SECONDS, remaining))
        try:
            previous = self.read_lock_info()
            if previous is not None:
                # We hold the flock, so whoever wrote this info is gone without unlocking.
                self.stale_lock = previous
                self._remove_temp_files()
            _write_json_atomic(self.info_path, info.to_dict())
        except BaseException:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise
        self._held[info.id] = fd
        return info.id

    def _try_flock(self) -> int | None:
        """An fd holding the flock on the file now at `lock_path`, or None when taken."""
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return None
                raise StateError(
                    f"Cannot lock {self._shown(self.lock_path)}",
                    f"{e.strerror}. The file system may not support flock.",
                ) from e
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            # The file we locked was unlinked (unlocked or force-unlocked) meanwhile: retry.
            os.close(fd)

    def unlock(self, lock_id: str) -> None:
        fd = self._held.pop(lock_id, None)
        if fd is None:
            raise StateError(
                f"Lock {lock_id} is not held by this run",
                "Only the run that took a lock can unlock it; use "
                "`mlrt force-unlock ID` for a lock left by another run.",
            )
        self._release(fd, lock_id)

    def _release(self, fd: int, lock_id: str) -> None:
        try:
            current = self.read_lock_info()
            if current is not None and current.id == lock_id:
                _unlink(self.info_path)
            try:
                if os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino:
                    _unlink(self.lock_path)
            except FileNotFoundError:
                pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        if not self._held:
            self._remove_workspace_dir()  # a workspace deleted while locked leaves no directory

    def force_unlock(self, lock_id: str) -> None:
        """Remove the lock with this id, whoever holds it (a crashed or stuck run)."""
        if lock_id in self._held:
            self.unlock(lock_id)
            return
        holder = self.read_lock_info()
        if holder is None:
            if self.lock_holder_running():
                raise StateError(
                    "The state is locked but its holder wrote no lock info",
                    "Cannot check the lock ID; wait for the holder to finish.",
                )
            raise StateError("The state is not locked", f"{self.describe()} has no lock to remove.")
        if holder.id != lock_id:
            raise StateError(
                f"Lock ID {lock_id} does not match the lock on the state",
                f"The state is locked with ID {holder.id} by {holder.who} "
                f"({holder.operation} since {holder.created}, pid {holder.pid}). "
                f"If that run is gone, run `mlrt force-unlock {holder.id}`.",
            )
        _unlink(self.info_path)
        # Unlinking the lock file orphans a flock still held by a live (stuck) holder: the next
        # locker creates a fresh file.
        _unlink(self.lock_path)

    def read_lock_info(self) -> LockInfo | None:
        """The holder's info as written in `.lock.info`, or None when there is none."""
        try:
            raw = self.info_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return LockInfo.from_dict(json.loads(raw))
        except (ValueError, StateError):
            return LockInfo(
                operation="unknown",
                id="(unreadable lock info)",
                who="unknown",
                created="unknown",
                pid=0,
                host="unknown",
                path=str(self.path),
            )

    def lock_holder_running(self) -> bool:
        """Whether some process holds the flock right now (without taking it for long)."""
        if not self.lock_path.exists():
            return False
        fd = self._try_flock()
        if fd is None:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return False

    def _stale_note(self, holder: LockInfo | None) -> str:
        if holder is None or holder.host != socket.gethostname() or process_alive(holder.pid):
            return ""
        return (
            f"This lock looks stale: process {holder.pid} on {holder.host} is no longer "
            "running, yet the lock is still held, probably by a process it started."
        )

    def _remove_temp_files(self) -> None:
        """Delete temp files a crashed writer left behind (safe: we hold the lock)."""
        for pattern in (f".{self.path.name}.*.tmp", f".{self.backup_path.name}.*.tmp"):
            for p in self.path.parent.glob(pattern):
                _unlink(p)

    def _shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.project_dir))
        except ValueError:
            return str(path)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(data, indent=2).encode("utf-8"))
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    finally:
        if fd >= 0:
            os.close(fd)
        _unlink(Path(tmp))
