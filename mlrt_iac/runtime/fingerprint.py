"""Input fingerprints: decide whether a training's inputs changed, by content, not by mtime.

A local data file contributes the SHA-256 of its content, read once and then found by its stat
in a cache (``content_hashes.py``), so ``touch``, a fresh clone or a CI checkout changes nothing
while a real edit does (a parquet file's footer is part of its content). A remote object
contributes its ETag / VersionId. The entrypoint's source text and the parameters contribute
their content. Each part has its own hash under a human label, so a plan can say *what* changed
("data/train.parquet changed").
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from mlrt_iac.runtime.content_hashes import FileHashCache, remote_part
from mlrt_iac.runtime.sources import _filesystem_for, _list_files


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _label(path: str, base: str, is_local: bool) -> str:
    """A path as the plan shows it: relative to the project (``base``, absolute) when inside it."""
    if not is_local:
        return path
    if path.startswith(base + os.sep):  # the usual case, without relpath's cost per file
        return path[len(base) + 1 :].replace(os.sep, "/")
    rel = os.path.relpath(path, base)
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def _sources_of(datasets: Mapping[str, Any] | Sequence[Any]) -> list[str]:
    """Sources from a job spec's datasets map, a list of dataset entries, or plain paths."""
    entries: Iterable[Any] = datasets.values() if isinstance(datasets, Mapping) else datasets
    out: list[str] = []
    for entry in entries:
        if isinstance(entry, (str, os.PathLike)):
            out.append(os.fspath(entry))
            continue
        raw = entry.get("sources") or entry.get("source") or []
        out.extend([raw] if isinstance(raw, str) else [os.fspath(s) for s in raw])
    return out


def input_fingerprint(
    datasets: Mapping[str, Any] | Sequence[Any],
    entrypoint_source_paths: Sequence[str | os.PathLike[str]],
    params: Any,
    *,
    base_dir: str | None = None,
    cache: FileHashCache | None = None,
) -> tuple[str, dict[str, str]]:
    """(fingerprint, {label: hash}) over data files, entrypoint sources and params.

    Labels are paths relative to base_dir (default: the working directory) where possible.
    A missing data source becomes a part "<source> (missing)" rather than an error, so a
    plan can still say it changed. ``cache`` (saved here) spares re-reading unchanged local
    files; without one every local file is read.
    """
    cache = cache if cache is not None else FileHashCache(None, None)
    base = os.path.abspath(base_dir or os.getcwd())
    parts: dict[str, str] = {}
    local: list[tuple[str, str]] = []  # (label, path), hashed together below
    for source in _sources_of(datasets):
        filesystem, path = _filesystem_for(source)
        is_local = isinstance(filesystem, pafs.LocalFileSystem)
        try:
            files = _list_files(filesystem, path, source)
        except ValueError:
            parts[f"{_label(path, base, is_local)} (missing)"] = _sha(b"missing")
            continue
        for file in files:
            label = _label(file, base, is_local)
            if is_local:
                local.append((label, file))
                parts[label] = ""
            else:
                parts[label] = _sha(remote_part(filesystem, file).encode())
    hashes = cache.local_hashes(path for _, path in local)
    cache.save()
    for label, path in local:
        parts[label] = hashes[path]
    for src in entrypoint_source_paths:
        p = Path(src)
        label = f"entrypoint {_label(str(p.resolve()), base, True)}"
        parts[label] = _sha(p.read_bytes()) if p.exists() else _sha(b"missing")
    parts["params"] = _sha(json.dumps(params, sort_keys=True, default=str).encode())
    whole = _sha(json.dumps(parts, sort_keys=True).encode())
    return whole, parts


def explain_change(old_parts: Mapping[str, str], new_parts: Mapping[str, str]) -> str:
    """ "data/train.parquet changed, params changed" (empty when nothing changed)."""
    notes = [f"{k} changed" for k in new_parts if k in old_parts and old_parts[k] != new_parts[k]]
    notes += [f"{k} added" for k in new_parts if k not in old_parts]
    notes += [f"{k} removed" for k in old_parts if k not in new_parts]
    return ", ".join(notes)


def entrypoint_source_paths(entrypoint: str | None, project_dir: str) -> list[str]:
    """The source file of an entrypoint's module ("pkg.mod:fn" -> project_dir/pkg/mod.py)."""
    if not entrypoint or ":" not in entrypoint:
        return []
    module = entrypoint.split(":", 1)[0].replace(".", os.sep)
    for candidate in (Path(project_dir) / f"{module}.py", Path(project_dir) / module / "__init__.py"):
        if candidate.exists():
            return [str(candidate)]
    return []
