"""Which files go into the runtime, source and model layers: one walk, shared by the plan-time
digest and the build, so what is hashed is exactly what is packed."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path

# Never part of an image: mlrt's state, version control, bytecode, and the data a training reads
# through its data connector (it is not code, and can be gigabytes).
SOURCE_SKIP_DIRS = frozenset({".mlrt", ".git", "__pycache__"})
SOURCE_SKIP_FILES = ("*.parquet", "*.csv", "*.arrow", "*.feather", "*.pyc")
RUNTIME_SKIP_DIRS = frozenset({"__pycache__"})

File = tuple[str, str]  # (path inside the layer root, path on disk)


def _excluded(rel: str, name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def walk(root: Path, *, skip_dirs: frozenset[str] = frozenset(), skip: Sequence[str] = ()) -> list[File]:
    """Regular files under `root`, sorted by their relative POSIX path. Symbolic links are left
    out: a link could pull files from outside the project (a key, a home directory) into an
    image that is pushed to a registry."""
    out: list[File] = []
    base = str(root)
    for dirpath, dirnames, filenames in os.walk(base):
        rel_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        keep = []
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if d in skip_dirs or os.path.islink(full) or _excluded(rel_dir + d, d, skip):
                continue
            if _excluded(rel_dir + d + "/", d + "/", skip):
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = rel_dir + name
            if os.path.islink(full) or not os.path.isfile(full) or _excluded(rel, name, skip):
                continue
            out.append((rel, full))
    out.sort()
    return out


def source_files(source_dir: Path, excludes: Sequence[str] = ()) -> list[File]:
    """The entrypoint source: the project without mlrt's state, VCS, bytecode and data files."""
    return walk(source_dir, skip_dirs=SOURCE_SKIP_DIRS, skip=(*SOURCE_SKIP_FILES, *excludes))


def model_files(model_dir: Path) -> list[File]:
    """A model version folder, whole."""
    return walk(model_dir, skip_dirs=frozenset({"__pycache__"}))


def runtime_files() -> list[File]:
    """mlrt's runtime as it would be imported: `mlrt_iac/__init__.py` and `mlrt_iac/runtime/**`
    (the runtime imports nothing else of mlrt)."""
    package = Path(__file__).resolve().parent.parent
    files: list[File] = [("mlrt_iac/__init__.py", str(package / "__init__.py"))]
    for rel, full in walk(package / "runtime", skip_dirs=RUNTIME_SKIP_DIRS, skip=("*.pyc",)):
        files.append(("mlrt_iac/runtime/" + rel, full))
    return files
