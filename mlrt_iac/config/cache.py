"""Content-addressed parse cache: file bytes -> pickled AST under `<project>/.mlrt/cache/parse/`.

The key hashes the file content with the mlrt version, the python-hcl2 version, the grammar
text and our AST schema version, so an entry can never be stale; entries are written atomically
(temp file + rename) and a corrupt or unreadable entry is treated as a miss. Deleting the folder
is always safe.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

AST_SCHEMA = "1"


@lru_cache(maxsize=1)
def _salt() -> bytes:
    import hcl2

    try:
        from importlib.metadata import version

        mlrt_version = version("mlrt-iac")
    except Exception:  # not installed (running from a source tree)
        mlrt_version = "dev"
    grammar = Path(hcl2.__file__).with_name("hcl2.lark")
    g = grammar.read_bytes() if grammar.exists() else b""
    hcl_version = getattr(getattr(hcl2, "version", None), "__version__", "") or ""
    h = hashlib.sha256()
    for part in (b"mlrt-parse", AST_SCHEMA.encode(), mlrt_version.encode(), hcl_version.encode(), g):
        h.update(part)
        h.update(b"\0")
    return h.digest()


def cache_key(content: bytes) -> str:
    return hashlib.sha256(_salt() + content).hexdigest()


class ParseCache:
    """get/put pickled ASTs; every failure to read or write is a silent miss."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.pickle"

    def get(self, key: str) -> Any | None:
        if self.directory is None:
            return None
        try:
            with open(self._path(key), "rb") as f:
                value = pickle.load(f)
        except Exception:  # missing, truncated, corrupt, or from an incompatible version
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: Any) -> None:
        if self.directory is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pickle")
            try:
                with os.fdopen(fd, "wb") as f:
                    pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # a read-only project still works, just without a cache
