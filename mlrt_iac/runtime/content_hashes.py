"""Content hashes of data files, each file read once: later runs find it in a cache by its stat.

A training re-runs when its data changes, and "changes" must mean the bytes: a `touch`, a fresh
clone or a CI checkout gives every file a new mtime (and inode) without changing a byte, and a
plan must not re-train for that. So a local file's fingerprint part is the SHA-256 of its content;
the cache maps (path, size, mtime, inode, device) to that hash, so an unchanged file costs one
``stat`` and a touched or freshly cloned one is read once more and found unchanged.

The cache (``.mlrt/cache/file-hashes.json``) lives in the project, which `plan` treats as
untrusted input: an entry a repository planted could hide a changed file. Its entries are
authenticated with an HMAC under the user's cache key (the parse cache's key, kept outside the
project); a file that fails the check is ignored whole. Without a key nothing is cached and every
file is hashed every time (correct, only slower). Like git's index, an entry is not stored while
the file's mtime is within ``RACY_S`` of now: a write in the same clock tick could otherwise
leave size and mtime unchanged and the stale hash trusted.

Remote objects (``s3://``, ``gs://`` ...) are not read: their part is the object's ETag (and
VersionId where the store gives one) from a HEAD request, which changes exactly when the object
is rewritten; a store that gives neither falls back to size and modification time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pyarrow.fs as pafs

CACHE_FILE = "file-hashes.json"
MAGIC = b"MLRTFH1\n"  # then the HMAC (hex) of the JSON payload, a newline, the payload
RACY_S = 2.0
MAX_ENTRIES = 200_000  # beyond, the oldest entries are dropped when the cache is written
_CHUNK = 1 << 20

Entry = tuple[int, int, int, int, str]  # size, mtime_ns, inode, device, sha256


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


class FileHashCache:
    """(path, size, mtime, inode, device) -> SHA-256 of the content; see the module docstring."""

    def __init__(self, path: Path | None, secret: bytes | None) -> None:
        self.path = path if secret is not None else None
        self._secret = secret
        self._entries: dict[str, Entry] = {}
        self._dirty = False
        self.hashed = 0  # files read this time (misses), for tests and benchmarks
        if self.path is not None:
            self._entries = self._load(self.path)

    @classmethod
    def in_dir(cls, cache_dir: Path | None, secret: bytes | None) -> FileHashCache:
        return cls(None if cache_dir is None else cache_dir / CACHE_FILE, secret)

    # --- the file -----------------------------------------------------------------------------
    def _mac(self, payload: bytes) -> str:
        assert self._secret is not None
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def _load(self, path: Path) -> dict[str, Entry]:
        try:
            if path.is_symlink() or not path.is_file():
                return {}
            raw = path.read_bytes()
            if not raw.startswith(MAGIC):
                return {}
            mac, _, payload = raw[len(MAGIC) :].partition(b"\n")
            if not hmac.compare_digest(mac, self._mac(payload).encode()):
                return {}
            files = orjson.loads(payload)
            return {k: (int(v[0]), int(v[1]), int(v[2]), int(v[3]), str(v[4])) for k, v in files.items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            return {}  # unreadable or not ours: a cold cache

    def save(self) -> None:
        """Write the cache if anything was added (atomic; any error leaves the old file)."""
        if self.path is None or not self._dirty:
            return
        entries = self._entries
        if len(entries) > MAX_ENTRIES:
            entries = dict(list(entries.items())[-MAX_ENTRIES:])
        payload = orjson.dumps(entries)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".file-hashes-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(MAGIC + self._mac(payload).encode() + b"\n" + payload)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            return
        self._dirty = False

    # --- hashes -------------------------------------------------------------------------------
    def local_hashes(self, paths: Iterable[str]) -> dict[str, str]:
        """path -> SHA-256 of its content; files whose stat matches the cache are not read.
        Misses are hashed on a few threads (hashlib releases the GIL on large reads)."""
        out: dict[str, str] = {}
        misses: list[tuple[str, os.stat_result]] = []
        for path in paths:
            st = os.stat(path)
            entry = self._entries.get(path)
            if entry is not None and entry[:4] == (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev):
                out[path] = entry[4]
            else:
                misses.append((path, st))
        if not misses:
            return out
        workers = max(1, min(4, os.cpu_count() or 1, len(misses)))
        if workers == 1:
            digests = [_sha256_file(p) for p, _ in misses]
        else:
            with ThreadPoolExecutor(workers) as pool:
                digests = list(pool.map(_sha256_file, [p for p, _ in misses]))
        racy_after = time.time_ns() - int(RACY_S * 1e9)
        for (path, st), digest in zip(misses, digests):
            out[path] = digest
            self.hashed += 1
            if self.path is not None and st.st_mtime_ns < racy_after:
                self._entries[path] = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, digest)
                self._dirty = True
        return out


def remote_part(filesystem: pafs.FileSystem, path: str) -> str:
    """What identifies a remote object's content: its ETag / VersionId (one HEAD request),
    else its size and modification time."""
    metadata: dict[str, str] = {}
    try:
        with filesystem.open_input_file(path) as handle:
            raw = handle.metadata() or {}
        metadata = {
            (k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
            for k, v in dict(raw).items()
        }
    except (OSError, ValueError, NotImplementedError):
        metadata = {}
    tags = [f"{k}={metadata[k]}" for k in ("ETag", "VersionId") if metadata.get(k)]
    if tags:
        return "remote:" + ";".join(tags)
    info = filesystem.get_file_info(path)
    return f"remote-stat:{info.size}:{info.mtime_ns}"
