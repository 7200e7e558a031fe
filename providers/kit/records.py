"""Record files of providers that keep their objects on this machine (local, and ray's records):
atomic JSON writes, tolerant reads and an inter-process lock.

Every record a provider keeps is a JSON file written atomically (temp file in the same
folder, fsync, rename), so a crash (even `kill -9`) leaves either the old or the new version,
never a torn file that `read` would misreport.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from mlrt_iac.errors import PermanentError, RetryableError
from mlrt_iac.values import unmark


def plain(value: Any) -> Any:
    """Strip `Sensitive` marks: what the provider records on disk is the real value."""
    return unmark(value)[0]


def atomic_write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON to `path` so readers see the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(plain(data), fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    _sweep_once(path.parent)


# A temp file older than this was left by a writer that was killed (no write takes minutes).
STALE_TEMP_AGE_S = 600.0
_swept: set[Path] = set()
_swept_lock = threading.Lock()


def _sweep_once(folder: Path) -> None:
    """Delete temp files that killed writers left in `folder`, once per folder and process
    (listing the folder on every write would make N writes cost N^2)."""
    with _swept_lock:
        if folder in _swept:
            return
        _swept.add(folder)
    cutoff = time.time() - STALE_TEMP_AGE_S
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except OSError:
                pass


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: some filesystems refuse directory fsync)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def read_json(path: Path) -> Any | None:
    """The parsed file, or None when it does not exist. A broken file is a PermanentError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PermanentError(
            f"Cannot parse {path}",
            f"The provider's record is not valid JSON ({exc}). Restore it or "
            "remove it and run `mlrt apply` again to recreate the object.",
        ) from exc


class FileLock:
    """An exclusive `flock` on a lock file, waited for at most `timeout` seconds.

    A lock held longer than that is reported as a RetryableError: another mlrt process (or
    thread) is changing the same records and will be done soon, so the engine retries.
    """

    def __init__(self, path: Path, timeout: float = 10.0, what: str = "provider records") -> None:
        self.path = path
        self.timeout = timeout
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(self.timeout, 0.0)
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise RetryableError(
                        f"The lock on the {self.what} is held by another process",
                        f"{self.path} stayed locked for {self.timeout:g}s; another mlrt run is changing "
                        "the same local resources. mlrt retries; if it persists, find that process.",
                        delay=1.0,
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
