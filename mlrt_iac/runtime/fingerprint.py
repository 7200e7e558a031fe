"""Input fingerprints: decide cheaply whether a training's inputs changed.

Data files contribute their size, modification time and, for parquet, the footer
(metadata bytes, through ``ParquetFile.metadata`` — never a full read). The entrypoint's
source text and the parameters contribute their content. Each part has its own hash under a
human label, so a plan can say *what* changed ("data/train.parquet changed").
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from mlrt_iac.runtime.sources import _filesystem_for, _list_files, format_of


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _label(path: str, base_dir: str | None, is_local: bool) -> str:
    if not is_local:
        return path
    base = os.path.abspath(base_dir or os.getcwd())
    rel = os.path.relpath(path, base)
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def _file_part(filesystem: pafs.FileSystem, path: str) -> str:
    info = filesystem.get_file_info(path)
    head = f"{info.size}:{info.mtime_ns}".encode()
    if format_of(path) == "parquet":
        try:
            with filesystem.open_input_file(path) as handle:
                sink = pa.BufferOutputStream()
                pq.ParquetFile(handle).metadata.write_metadata_file(sink)
                head += sink.getvalue().to_pybytes()
        except Exception:
            head += b":unreadable-footer"
    return _sha(head)


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
) -> tuple[str, dict[str, str]]:
    """(fingerprint, {label: hash}) over data files, entrypoint sources and params.

    Labels are paths relative to base_dir (default: the working directory) where possible.
    A missing data source becomes a part "<source> (missing)" rather than an error, so a
    plan can still say it changed.
    """
    parts: dict[str, str] = {}
    for source in _sources_of(datasets):
        filesystem, path = _filesystem_for(source)
        is_local = isinstance(filesystem, pafs.LocalFileSystem)
        try:
            files = _list_files(filesystem, path, source)
        except ValueError:
            parts[f"{_label(path, base_dir, is_local)} (missing)"] = _sha(b"missing")
            continue
        for file in files:
            parts[_label(file, base_dir, is_local)] = _file_part(filesystem, file)
    for src in entrypoint_source_paths:
        p = Path(src)
        label = f"entrypoint {_label(str(p.resolve()), base_dir, True)}"
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
