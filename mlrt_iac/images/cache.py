"""The layer cache: a layer's input key -> the blob built from it, so a build whose inputs did not
change runs no pip and packs nothing. `~/.cache/mlrt/images` unless a build names another.

    <cache>/blobs/sha256/<hex>   layer blobs (content addressed)
    <cache>/keys/<key>.json      [{"name", "digest", "diff_id", "size"}, ...] for one input key

Entries are written atomically (temp file, rename); a key whose blob is gone is a miss."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from mlrt_iac.images.tarlayer import Blob


def default_cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "mlrt" / "images"


class LayerCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "keys").mkdir(parents=True, exist_ok=True)
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.partition(":")[2]

    def temp_dir(self) -> Path:
        """A fresh folder on the cache's filesystem (renames into blobs/ stay atomic)."""
        return Path(tempfile.mkdtemp(prefix="build-", dir=self.root / "tmp"))

    def get(self, key: str) -> list[tuple[str, Blob]] | None:
        try:
            rows = json.loads((self.root / "keys" / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        out = []
        for row in rows:
            path = self.blob_path(row["digest"])
            if not path.is_file() or path.stat().st_size != row["size"]:
                return None
            out.append((str(row["name"]), Blob(path, row["digest"], row["diff_id"], int(row["size"]))))
        return out

    def put(self, key: str, layers: list[tuple[str, Blob]]) -> list[tuple[str, Blob]]:
        """Move the blobs into the cache and record the key; returns them at their cached paths."""
        stored: list[tuple[str, Blob]] = []
        for name, blob in layers:
            dest = self.blob_path(blob.digest)
            if blob.path != dest:
                os.replace(blob.path, dest)
            stored.append((name, Blob(dest, blob.digest, blob.diff_id, blob.size)))
        rows = [{"name": n, "digest": b.digest, "diff_id": b.diff_id, "size": b.size} for n, b in stored]
        fd, tmp = tempfile.mkstemp(prefix=".key-", dir=self.root / "keys")
        with os.fdopen(fd, "w") as out:
            json.dump(rows, out)
        os.replace(tmp, self.root / "keys" / f"{key}.json")
        return stored
