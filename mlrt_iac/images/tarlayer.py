"""Reproducible layer blobs: a gzip-compressed tar whose bytes depend only on the files' paths,
contents and executable bits.

Every entry has mtime SOURCE_DATE_EPOCH (else 0), uid/gid 0, empty owner names, mode 0755 for
directories and executables and 0644 otherwise, in sorted order with each parent directory
listed once before its children; gzip has mtime 0, no file name and a fixed level. The digest
(of the compressed bytes) names the blob, the diff_id (of the tar) goes in the image config.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# zlib level 1: several times faster than the default 6 on the big package layers (mostly
# compiled code), about 15% larger. Every builder of an image must use the same one for the
# digest to match, so it is fixed here (and part of digest.FORMAT's meaning).
GZIP_LEVEL = 1


@dataclass(frozen=True)
class Blob:
    """A layer blob on disk."""

    path: Path
    digest: str  # sha256 of the compressed bytes
    diff_id: str  # sha256 of the uncompressed tar
    size: int


def epoch() -> int:
    """The fixed timestamp of every entry (reproducible-builds.org's SOURCE_DATE_EPOCH)."""
    try:
        return max(0, int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    except ValueError:
        return 0


class _HashingWriter:
    """A write-only file that hashes and counts what passes through to `inner`."""

    def __init__(self, inner: BinaryIO | gzip.GzipFile) -> None:
        self.inner = inner
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.inner.write(data)

    def flush(self) -> None:
        self.inner.flush()


def _info(name: str, *, is_dir: bool, size: int = 0, executable: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir or executable else 0o644
    info.size = size
    info.mtime = epoch()
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_layer(files: Sequence[tuple[str, str]], prefix: str, out_path: Path) -> Blob:
    """Pack `files` ((path under prefix, path on disk)) under the directory `prefix` (absolute
    in the image, e.g. "/mlrt/app") into a tar.gz at `out_path`."""
    root = prefix.strip("/")
    entries = sorted((f"{root}/{rel}" if root else rel, full) for rel, full in files)
    with open(out_path, "wb") as raw:
        compressed = _HashingWriter(raw)
        gzip_out = gzip.GzipFile(
            filename="",
            mode="wb",
            fileobj=compressed,
            compresslevel=GZIP_LEVEL,
            mtime=0,
        )
        with gzip_out as gz:
            plain = _HashingWriter(gz)
            with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                seen: set[str] = set()
                for name, full in entries:
                    parts = name.split("/")
                    for i in range(1, len(parts)):
                        parent = "/".join(parts[:i])
                        if parent not in seen:
                            seen.add(parent)
                            tar.addfile(_info(parent + "/", is_dir=True))
                    st = os.stat(full)
                    info = _info(name, is_dir=False, size=st.st_size, executable=bool(st.st_mode & 0o111))
                    with open(full, "rb") as handle:
                        tar.addfile(info, handle)
    return Blob(
        path=out_path,
        digest="sha256:" + compressed.sha.hexdigest(),
        diff_id="sha256:" + plain.sha.hexdigest(),
        size=compressed.size,
    )
